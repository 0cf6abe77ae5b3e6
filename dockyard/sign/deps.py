"""The optional packages signing needs (``pip install 'dockyard[sign]'``): ``cryptography`` for
ECDSA/RSA/Ed25519, PKCS#8 and scrypt, ``pynacl`` for nacl/secretbox. Imported only by the code
that signs or verifies, so ``dockyard run`` never pays for them.

The ``dockyard`` launcher starts Python without site packages (``-S``, for start-up speed), so
they are enabled here when the packages are not found without them (as ``registry serve`` does).
"""

from __future__ import annotations

import sys

from dockyard.errors import Unavailable

NEEDS = ("signing needs the Python packages cryptography and pynacl: pip install 'dockyard[sign]' "
         "(or apt-get install python3-cryptography python3-nacl)")


def require(*modules: str) -> None:
    """Import ``modules`` (default: both packages) or raise Unavailable naming what is missing."""
    modules = modules or ("cryptography", "nacl")
    try:
        for m in modules:
            __import__(m)
        return
    except ImportError:
        if not sys.flags.no_site:
            raise Unavailable(NEEDS) from None
    import site

    site.main()
    try:
        for m in modules:
            __import__(m)
    except ImportError:
        raise Unavailable(NEEDS) from None
