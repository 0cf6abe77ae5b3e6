"""The purls of an SBOM file: CycloneDX JSON (``components[].purl``), SPDX JSON (``packages[].
externalRefs`` of type purl) or syft's own JSON (``artifacts[].purl``)."""

from __future__ import annotations

import json

from dockyard.errors import InvalidArgument


def read_purls(path: str) -> list[tuple[str, str]]:
    """(purl, location) pairs."""
    try:
        with open(path, "rb") as f:
            doc = json.loads(f.read())
    except FileNotFoundError:
        raise InvalidArgument(f"SBOM file {path} not found") from None
    except (ValueError, RecursionError) as e:
        raise InvalidArgument(f"{path}: not a JSON SBOM: {e}") from None
    if not isinstance(doc, dict):
        raise InvalidArgument(f"{path}: not an SBOM (a JSON object is expected)")
    out: list[tuple[str, str]] = []
    if doc.get("bomFormat") == "CycloneDX":
        stack = list(doc.get("components") or [])
        while stack:
            c = stack.pop()
            if isinstance(c, dict):
                if isinstance(c.get("purl"), str):
                    loc = next((p.get("value", "") for p in c.get("properties") or ()
                                if isinstance(p, dict) and str(p.get("name", "")).endswith(":location:0:path")), "")
                    out.append((c["purl"], loc))
                stack.extend(c.get("components") or [])
        return out
    if str(doc.get("spdxVersion", "")).startswith("SPDX-"):
        for p in doc.get("packages") or ():
            for r in (p.get("externalRefs") or ()) if isinstance(p, dict) else ():
                if isinstance(r, dict) and r.get("referenceType") == "purl" and isinstance(r.get("referenceLocator"), str):
                    out.append((r["referenceLocator"], ""))
        return out
    if isinstance(doc.get("artifacts"), list):  # syft's JSON
        for a in doc["artifacts"]:
            if isinstance(a, dict) and isinstance(a.get("purl"), str):
                locs = a.get("locations") or [{}]
                out.append((a["purl"], locs[0].get("path", "") if isinstance(locs[0], dict) else ""))
        return out
    raise InvalidArgument(f"{path}: not an SBOM dockyard reads (CycloneDX JSON, SPDX JSON or syft JSON)")
