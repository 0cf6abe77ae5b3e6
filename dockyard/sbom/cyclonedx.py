"""CycloneDX 1.5 JSON for an `Inventory` (validated in tests with cyclonedx-python-lib)."""

from __future__ import annotations

import time
import uuid

from dockyard.sbom.licenses import spdx_id


def document(inv, tool_version: str) -> dict:
    comps = []
    refs: set[str] = set()
    for p in inv.packages:
        ref = p.purl + ("#" + p.locations[0] if p.locations else "")
        if ref in refs:
            continue
        refs.add(ref)
        c = {"bom-ref": ref, "type": "library", "name": p.name, "version": p.version, "purl": p.purl}
        if p.licenses:
            c["licenses"] = [{"license": {"id": spdx_id(x)} if spdx_id(x) else {"name": x}} for x in p.licenses]
        props = [{"name": "dockyard:package:type", "value": p.type}]
        props += [{"name": f"dockyard:location:{i}:path", "value": loc} for i, loc in enumerate(p.locations)]
        if p.layer:
            props.append({"name": "dockyard:location:0:layerID", "value": p.layer})
        if p.source and p.source != p.name:
            props.append({"name": "dockyard:metadata:source", "value": p.source})
        c["properties"] = props
        comps.append(c)
    return {
        "$schema": "http://cyclonedx.org/schema/bom-1.5.schema.json",
        "bomFormat": "CycloneDX", "specVersion": "1.5", "serialNumber": f"urn:uuid:{uuid.uuid4()}", "version": 1,
        "metadata": {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "tools": {"components": [{"type": "application", "author": "dockyard", "name": "dockyard",
                                      "version": tool_version}]},
            "component": {"bom-ref": inv.image_id, "type": "container", "name": inv.name,
                          "version": inv.manifest_digest or inv.image_id},
        },
        "components": comps,
    }
