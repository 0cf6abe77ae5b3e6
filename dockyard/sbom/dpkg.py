"""Debian packages: the dpkg database (``/var/lib/dpkg/status`` and distroless ``status.d/*``),
with source packages and licenses from ``/usr/share/doc/<pkg>/copyright``."""

from __future__ import annotations

from dockyard.sbom.model import DEB, Package, purl

STATUS = "/var/lib/dpkg/status"
STATUS_D = "/var/lib/dpkg/status.d/"


def stanzas(text: str):
    """deb822 paragraphs as dicts (continuation lines joined with newlines)."""
    cur: dict[str, str] = {}
    key = None
    for line in text.splitlines():
        if not line.strip():
            if cur:
                yield cur
            cur, key = {}, None
        elif line[0] in " \t":
            if key is not None:
                cur[key] += "\n" + line[1:]
        else:
            k, sep, v = line.partition(":")
            if sep:
                key = k.strip()
                cur[key] = v.strip()
    if cur:
        yield cur


def licenses(copyright_text: str) -> list[str]:
    """`License:` fields of a DEP-5 file, and /usr/share/common-licenses/X references (syft's rules)."""
    import re

    found: list[str] = []
    for line in copyright_text.splitlines():
        if line.startswith("License:"):
            v = line[len("License:"):].strip()
            if v and v not in found:
                found.append(v)
    for m in re.finditer(r"/usr/share/common-licenses/([0-9A-Za-z_.+-]+[0-9A-Za-z+])", copyright_text):
        v = m.group(1)
        if v not in found:
            found.append(v)
    return found


def catalog(fs, distro) -> list[Package]:
    sources = []
    if fs.regular(STATUS):
        sources.append(STATUS)
    sources += sorted(p for p in fs.files if p.startswith(STATUS_D) and fs.regular(p) and not p.endswith(".md5sums"))
    out: list[Package] = []
    for src in sources:
        for st in stanzas(fs.text(src) or ""):
            pkg = _package(fs, st, src, distro)
            if pkg is not None:
                out.append(pkg)
    return out


def _package(fs, st: dict, src: str, distro) -> Package | None:
    name, version = st.get("Package", ""), st.get("Version", "")
    if not name or not version:
        return None
    status = st.get("Status", "install ok installed").split()
    if status and status[-1] in ("not-installed", "config-files"):
        return None  # removed: only its configuration (or nothing) is left
    arch = st.get("Architecture", "")
    source, _, rest = st.get("Source", "").partition(" ")
    source_version = rest.strip().strip("()") if rest else ""
    quals = [("arch", arch)]
    if source:
        quals.append(("upstream", f"{source}@{source_version}" if source_version else source))
    if distro.id:
        quals.append(("distro", f"{distro.id}-{distro.version_id}" if distro.version_id else distro.id))
    ns = distro.id or "debian"
    lic: list[str] = []
    locations = [src]
    copyright_path = f"/usr/share/doc/{name}/copyright"
    text = fs.text(copyright_path)
    if text is not None:
        lic = licenses(text)
        locations.append(copyright_path)
    origin = src
    for info in (f"/var/lib/dpkg/info/{name}:{arch}.list", f"/var/lib/dpkg/info/{name}.list",
                 f"/var/lib/dpkg/info/{name}:{arch}.md5sums", f"/var/lib/dpkg/info/{name}.md5sums"):
        if fs.regular(info):
            origin = info
            break
    major = distro.version_id.split(".")[0] if distro.version_id else ""
    eco = ("Debian:" + major if major else "Debian") if ns == "debian" else ("Ubuntu:" + distro.version_id if ns == "ubuntu" else "")
    return Package(name=name, version=version, type=DEB, arch=arch, source=source or name,
                   source_version=source_version or version, licenses=lic, locations=locations,
                   layer=fs.layer_of(origin) or "", ecosystem=eco, supplier=st.get("Maintainer", ""),
                   purl=purl("deb", name, version, namespace=ns, qualifiers=quals))
