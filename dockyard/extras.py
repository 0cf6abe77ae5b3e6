"""The optional Python packages, by pip extra (`pip install 'dockyard[registry]'`).

`pip install dockyard` gives the whole CLI with the standard library alone; a few commands need
more, and import it only when they run, through `require`, so `dockyard run` never pays for it:

    registry   `registry serve`: aiohttp (HTTP), bcrypt (htpasswd users)
    sign       `key generate`, `sign`, `verify`, signature policies: cryptography, pynacl
    compose    `compose`: PyYAML
    kube       `kube generate|play|down`: PyYAML

pyproject.toml declares the same extras (a unit test holds the two together). The launchers start
Python without site packages (`-S`, for start-up speed): when a package is not found, the site
directories are added (without running their .pth hooks, which cost a tenth of a second), then,
for packages that need those hooks, `site` is run whole. A package still missing is an
`Unavailable` error naming the extra to install, never a traceback.
"""

from __future__ import annotations

import os
import sys

from dockyard.errors import Unavailable

EXTRAS = {  # extra -> the modules it provides
    "registry": ("aiohttp", "bcrypt"),
    "sign": ("cryptography", "nacl"),
    "compose": ("yaml",),
    "kube": ("yaml",),
}
DISTRIBUTIONS = {"aiohttp": "aiohttp", "bcrypt": "bcrypt", "cryptography": "cryptography", "nacl": "pynacl",
                 "yaml": "PyYAML"}  # module -> what pip installs it as
DEBIAN = {"aiohttp": "python3-aiohttp", "bcrypt": "python3-bcrypt", "cryptography": "python3-cryptography",
          "nacl": "python3-nacl", "yaml": "python3-yaml"}


def require(extra: str, what: str, modules: tuple[str, ...] = ()):
    """Import `modules` (default: all of the extra's) and return the first; or raise Unavailable:
    "<what> needs the Python package(s) …: pip install 'dockyard[<extra>]' …"."""
    modules = modules or EXTRAS[extra]
    missing = _import(modules)
    if missing and sys.flags.no_site:
        import site

        for d in site.getsitepackages() + [site.getusersitepackages()]:
            if d not in sys.path and os.path.isdir(d):
                sys.path.append(d)
        missing = _import(missing)
        if missing:
            site.main()  # .pth hooks (an editable install, a namespace package's path)
            missing = _import(missing)
    if missing:
        names = " and ".join(DISTRIBUTIONS[m] for m in missing)
        raise Unavailable(f"{what} needs the Python package{'s' if len(missing) > 1 else ''} {names}: "
                          f"pip install 'dockyard[{extra}]'",
                          hint="or, for the system's Python: apt-get install " + " ".join(DEBIAN[m] for m in missing))
    return sys.modules[modules[0]]


def _import(modules) -> list[str]:
    missing = []
    for m in modules:
        try:
            __import__(m)
        except ImportError:
            missing.append(m)
    return missing
