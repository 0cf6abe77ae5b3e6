"""Python distributions: ``*.dist-info/METADATA`` and ``*.egg-info`` (file, or ``PKG-INFO`` in a
directory) anywhere in the image, so the site-packages of every interpreter are found."""

from __future__ import annotations

from dockyard.sbom.model import PYTHON, Package, purl


def headers(text: str) -> dict[str, list[str]]:
    """RFC 822 headers of a core-metadata file (stops at the body)."""
    out: dict[str, list[str]] = {}
    key = None
    for line in text.splitlines():
        if not line.strip():
            break
        if line[0] in " \t" and key:
            out[key][-1] += "\n" + line.strip()
            continue
        k, sep, v = line.partition(":")
        if not sep:
            break
        key = k.strip().lower()
        out.setdefault(key, []).append(v.strip())
    return out


def normalize(name: str) -> str:
    """PEP 503 name normalisation (syft's and OSV's PyPI names): lower case, runs of -_. as one -."""
    import re

    return re.sub(r"[-_.]+", "-", name).lower()


def metadata_files(fs) -> list[str]:
    found = []
    for path, e in fs.files.items():
        if path.endswith(".dist-info/METADATA") or path.endswith(".egg-info/PKG-INFO"):
            found.append(path)
        elif path.endswith(".egg-info") and fs.regular(path):
            found.append(path)
    return sorted(found)


def catalog(fs, distro) -> list[Package]:
    out: list[Package] = []
    for path in metadata_files(fs):
        h = headers(fs.text(path) or "")
        name, version = (h.get("name") or [""])[0], (h.get("version") or [""])[0]
        if not name or not version:
            continue
        lic = (h.get("license-expression") or h.get("license") or [""])[0]
        if not lic or lic == "UNKNOWN" or "\n" in lic:
            lic = next((c.rsplit("::", 1)[1].strip() for c in h.get("classifier", []) if c.startswith("License ::")), "")
        out.append(Package(name=name, version=version, type=PYTHON, licenses=[lic] if lic else [],
                           locations=[path], layer=fs.layer_of(path) or "", ecosystem="PyPI",
                           supplier=(h.get("author") or [""])[0],
                           purl=purl("pypi", name, version)))
        out[-1].name = normalize(name)
        out[-1].purl = purl("pypi", out[-1].name, version)
    return out
