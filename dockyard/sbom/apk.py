"""Alpine packages: the apk installed database (``/lib/apk/db/installed``)."""

from __future__ import annotations

from dockyard.sbom.model import APK, Package, purl

INSTALLED = ("/lib/apk/db/installed", "/usr/lib/apk/db/installed")


def records(text: str):
    """One dict per package (single-letter keys as apk writes them; F/R lines are skipped)."""
    cur: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if cur:
                yield cur
            cur = {}
            continue
        k, sep, v = line.partition(":")
        if sep and len(k) == 1 and k not in cur:
            cur[k] = v
    if cur:
        yield cur


def catalog(fs, distro) -> list[Package]:
    out: list[Package] = []
    for path in INSTALLED:
        text = fs.text(path)
        if text is None:
            continue
        ns = distro.id or "alpine"
        parts = distro.version_id.split(".")
        eco = f"Alpine:v{parts[0]}.{parts[1]}" if ns == "alpine" and len(parts) >= 2 else ""
        for r in records(text):
            name, version = r.get("P", ""), r.get("V", "")
            if not name or not version:
                continue
            origin = r.get("o", "") or name
            quals = [("arch", r.get("A", "")), ("upstream", origin if origin != name else "")]
            if distro.id:
                quals.append(("distro", f"{distro.id}-{distro.version_id}" if distro.version_id else distro.id))
            lic = r.get("L", "")
            out.append(Package(name=name, version=version, type=APK, arch=r.get("A", ""), source=origin,
                               source_version=version, licenses=[lic] if lic else [], locations=[path],
                               layer=fs.layer_of(path) or "", ecosystem=eco, supplier=r.get("m", ""),
                               purl=purl("apk", name, version, namespace=ns, qualifiers=quals)))
    return out
