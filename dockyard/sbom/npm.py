"""npm packages: every ``package.json`` with a name and a version (the installed ``node_modules``
trees and global modules, as syft catalogs an image), plus ``package-lock.json`` entries that are
not installed in the image."""

from __future__ import annotations

import json

from dockyard.sbom.model import NPM, Package, purl


def npm_purl(name: str, version: str) -> str:
    ns, _, base = name.rpartition("/") if name.startswith("@") else ("", "", name)
    return purl("npm", base, version, namespace=ns)


def _license(doc: dict) -> str:
    lic = doc.get("license")
    if isinstance(lic, dict):
        lic = lic.get("type")
    if not lic and isinstance(doc.get("licenses"), list):
        lic = " OR ".join(x.get("type", "") for x in doc["licenses"] if isinstance(x, dict) and x.get("type"))
    return lic if isinstance(lic, str) else ""


def _load(fs, path: str):
    try:
        doc = json.loads(fs.read(path) or b"null")
    except (ValueError, RecursionError, UnicodeDecodeError):
        return None  # a fixture or template package.json that is not JSON: not a package
    return doc if isinstance(doc, dict) else None


def catalog(fs, distro) -> list[Package]:
    out: list[Package] = []
    seen: set[tuple[str, str]] = set()
    paths = sorted(p for p in fs.files if p.endswith("/package.json") and fs.regular(p))
    for path in paths:
        doc = _load(fs, path)
        if doc is None:
            continue
        name, version = doc.get("name"), doc.get("version")
        if not isinstance(name, str) or not isinstance(version, str) or not name or not version:
            continue
        seen.add((name, version))
        lic = _license(doc)
        author = doc.get("author")
        out.append(Package(name=name, version=version, type=NPM, licenses=[lic] if lic else [],
                           locations=[path], layer=fs.layer_of(path) or "", ecosystem="npm",
                           supplier=author if isinstance(author, str) else "", purl=npm_purl(name, version)))
    for path in sorted(p for p in fs.files if p.endswith("/package-lock.json") and fs.regular(p)):
        doc = _load(fs, path)
        pkgs = doc.get("packages") if doc else None
        if not isinstance(pkgs, dict):
            continue
        for key, meta in pkgs.items():
            if not key or "node_modules/" not in key or not isinstance(meta, dict):
                continue
            name = meta.get("name") or key.rsplit("node_modules/", 1)[1]
            version = meta.get("version")
            if not isinstance(version, str) or not version or (name, version) in seen or meta.get("link"):
                continue
            seen.add((name, version))
            lic = meta.get("license") if isinstance(meta.get("license"), str) else ""
            out.append(Package(name=name, version=version, type=NPM, licenses=[lic] if lic else [],
                               locations=[path], layer=fs.layer_of(path) or "", ecosystem="npm",
                               purl=npm_purl(name, version)))
    return out
