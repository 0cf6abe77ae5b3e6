"""What to look up in OSV for a package: (ecosystem, name, version), read from its purl, so an
image's catalog and an SBOM file (ours or syft's) are queried the same way.

Debian and Alpine advisories are written against *source* packages: a deb's ``upstream``
qualifier (``glibc@2.36-9``) names the source and its version, an apk's names its origin."""

from __future__ import annotations

from urllib.parse import unquote


class Query:
    __slots__ = ("ecosystem", "name", "version", "purl", "package", "installed", "location")

    def __init__(self, ecosystem: str, name: str, version: str, purl: str, package: str, installed: str,
                 location: str = "") -> None:
        self.ecosystem, self.name, self.version = ecosystem, name, version
        self.purl, self.package, self.installed, self.location = purl, package, installed, location


def normalize_name(ecosystem: str, name: str) -> str:
    if ecosystem == "PyPI":
        import re

        return re.sub(r"[-_.]+", "-", name).lower()
    return name


def parse_purl(p: str) -> tuple[str, str, str, str, dict[str, str], str]:
    """(type, namespace, name, version, qualifiers, subpath) of a package URL."""
    if not p.startswith("pkg:"):
        raise ValueError(f"not a package URL: {p!r}")
    rest, _, subpath = p[4:].partition("#")
    rest, _, qs = rest.partition("?")
    quals = {}
    for kv in qs.split("&") if qs else ():
        k, _, v = kv.partition("=")
        quals[k.lower()] = unquote(v)
    kind, _, path = rest.lstrip("/").partition("/")
    path, at, version = path.rpartition("@") if "@" in path else (path, "", "")
    ns, _, name = path.rpartition("/")
    return kind.lower(), unquote(ns), unquote(name), unquote(version), quals, unquote(subpath)


def from_purl(p: str, location: str = "") -> Query | None:
    """The OSV query for a purl; None for package types OSV has no ecosystem for here."""
    try:
        kind, ns, name, version, quals, subpath = parse_purl(p)
    except ValueError:
        return None
    if not name or not version:
        return None
    if kind == "deb":
        distro = quals.get("distro", "")
        if ns not in ("debian", "ubuntu"):
            return None
        rel = distro.split("-", 1)[1] if "-" in distro else ""
        eco = ("Debian:" + rel.split(".")[0] if rel else "Debian") if ns == "debian" else \
              ("Ubuntu:" + rel if rel else "Ubuntu")
        src, _, src_version = quals.get("upstream", "").partition("@")
        return Query(eco, src or name, src_version or version, p, name, version, location)
    if kind == "apk":
        rel = quals.get("distro", "").split("-", 1)[1] if "-" in quals.get("distro", "") else ""
        parts = rel.split(".")
        eco = f"Alpine:v{parts[0]}.{parts[1]}" if len(parts) >= 2 else "Alpine"
        return Query(eco, quals.get("upstream") or name, version, p, name, version, location)
    if kind == "pypi":
        return Query("PyPI", normalize_name("PyPI", name), version, p, name, version, location)
    if kind == "npm":
        full = f"{ns}/{name}" if ns else name
        return Query("npm", full, version, p, full, version, location)
    if kind == "golang":
        module = "/".join(x for x in (ns, name, subpath) if x)
        return Query("Go", module, version, p, module, version, location)
    return None
