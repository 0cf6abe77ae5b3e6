"""What a cataloger finds: packages (with purls as syft writes them) and the image's distro."""

from __future__ import annotations

from dataclasses import dataclass, field

# package types, named as syft names them (its JSON "type" field)
DEB, APK, PYTHON, NPM, GO, BINARY = "deb", "apk", "python", "npm", "go-module", "binary"


@dataclass(slots=True, kw_only=True)
class Package:
    name: str
    version: str
    type: str
    purl: str
    ecosystem: str = ""          # OSV ecosystem name ("Debian:12", "PyPI", "npm", "Go", "Alpine:v3.19")
    licenses: list[str] = field(default_factory=list)
    locations: list[str] = field(default_factory=list)  # metadata file paths in the image
    layer: str = ""              # diff_id of the layer where its metadata file last changed
    source: str = ""             # source package (deb, apk origin)
    source_version: str = ""
    arch: str = ""
    supplier: str = ""


@dataclass(slots=True, kw_only=True)
class Distro:
    id: str = ""            # os-release ID ("debian", "alpine")
    version_id: str = ""    # os-release VERSION_ID ("12", "3.19.1")
    pretty: str = ""


_PURL_ESCAPE = frozenset('+@?#/ "<>\\^`{|}')


def purl_quote(s: str) -> str:
    """Percent-encode as syft 1.18 writes purls (checked against its output on every sub-delim):
    "+" and "@" are encoded, as are characters a URL cannot hold ("?#/", space, controls, non-ASCII);
    ":", "~", "!$&'()*,;=[]" stay as they are."""
    out = []
    for ch in s:
        if ch in _PURL_ESCAPE or ord(ch) < 0x21 or ord(ch) > 0x7E:
            out.extend(f"%{b:02X}" for b in ch.encode())
        else:
            out.append(ch)
    return "".join(out)


def purl(kind: str, name: str, version: str, *, namespace: str = "", qualifiers: list[tuple[str, str]] = ()) -> str:
    ns = "/".join(purl_quote(p) for p in namespace.split("/")) + "/" if namespace else ""
    out = f"pkg:{kind}/{ns}{purl_quote(name)}"
    if version:
        out += "@" + purl_quote(version)
    q = [(k, v) for k, v in qualifiers if v]
    if q:
        out += "?" + "&".join(f"{k}={purl_quote(v)}" for k, v in sorted(q))
    return out


def read_os_release(fs) -> Distro:
    text = None
    for p in ("/etc/os-release", "/usr/lib/os-release"):
        p = fs.resolve_link(p)
        if p and (text := fs.text(p)) is not None:
            break
    d = Distro()
    for line in (text or "").splitlines():
        k, eq, v = line.partition("=")
        if not eq:
            continue
        v = v.strip().strip('"').strip("'")
        if k == "ID":
            d.id = v
        elif k == "VERSION_ID":
            d.version_id = v
        elif k == "PRETTY_NAME":
            d.pretty = v
    return d
