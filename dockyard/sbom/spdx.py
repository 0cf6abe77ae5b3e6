"""SPDX 2.3 JSON for an `Inventory` (validated in tests with the spdx-tools package)."""

from __future__ import annotations

import hashlib
import time
import uuid

from dockyard.sbom.licenses import license_ref, spdx_id


def _ident(s: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9.-]+", "-", s).strip("-")


def document(inv, tool_version: str) -> dict:
    root_id = "SPDXRef-DocumentRoot-Image-" + _ident(inv.name)
    extracted: dict[str, str] = {}
    packages = [{
        "name": inv.name, "SPDXID": root_id, "versionInfo": inv.manifest_digest or inv.image_id,
        "supplier": "NOASSERTION", "downloadLocation": "NOASSERTION", "filesAnalyzed": False,
        "licenseConcluded": "NOASSERTION", "licenseDeclared": "NOASSERTION", "copyrightText": "NOASSERTION",
        "primaryPackagePurpose": "CONTAINER",
        "checksums": [{"algorithm": "SHA256", "checksumValue": inv.image_id.removeprefix("sha256:")}],
    }]
    rels = [{"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": root_id}]
    used: set[str] = set()
    for p in inv.packages:
        h = hashlib.sha256(f"{p.purl}\0{p.locations[:1]}".encode()).hexdigest()[:16]
        pid = f"SPDXRef-Package-{p.type}-{_ident(p.name)}-{h}"
        if pid in used:
            continue
        used.add(pid)
        ids = []
        for lic in p.licenses:
            known = spdx_id(lic)
            if known is None:
                known = license_ref(lic)
                extracted.setdefault(known, lic)
            if known not in ids:
                ids.append(known)
        declared = " AND ".join(ids) if ids else "NOASSERTION"
        pkg = {
            "name": p.name, "SPDXID": pid, "versionInfo": p.version,
            "supplier": f"Person: {p.supplier}" if p.supplier and "\n" not in p.supplier else "NOASSERTION",
            "downloadLocation": "NOASSERTION", "filesAnalyzed": False,
            "sourceInfo": f"acquired package info from {', '.join(p.locations)}"
                          + (f" in layer {p.layer}" if p.layer else ""),
            "licenseConcluded": "NOASSERTION", "licenseDeclared": declared, "copyrightText": "NOASSERTION",
            "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                              "referenceLocator": p.purl}],
        }
        packages.append(pkg)
        rels.append({"spdxElementId": root_id, "relationshipType": "CONTAINS", "relatedSpdxElement": pid})
    doc = {
        "spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT", "name": inv.name,
        "documentNamespace": f"https://dockyard.invalid/spdx/image/{_ident(inv.name)}-{uuid.uuid4()}",
        "creationInfo": {"created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                         "creators": [f"Tool: dockyard-{tool_version}", "Organization: dockyard"]},
        "packages": packages, "relationships": rels,
    }
    if extracted:
        doc["hasExtractedLicensingInfos"] = [{"licenseId": k, "extractedText": v, "name": v}
                                             for k, v in sorted(extracted.items())]
    return doc
