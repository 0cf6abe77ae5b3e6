"""Scan results as a table, JSON, or SARIF 2.1.0 (what code-scanning dashboards read)."""

from __future__ import annotations

import json

SARIF_LEVEL = {"CRITICAL": "error", "HIGH": "error", "MEDIUM": "warning", "LOW": "note", "UNKNOWN": "note"}


def table(findings, target: str, packages: int) -> str:
    rows = [("PACKAGE", "VULNERABILITY", "SEVERITY", "INSTALLED", "FIXED", "TITLE")]
    rows += [(f.package, f.id, f.severity, f.installed, f.fixed or "(none)", f.summary[:60]) for f in findings]
    w = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["   ".join(f"{c:<{w[i]}}" for i, c in enumerate(r[:5])) + "   " + r[5] for r in rows]
    counts = {}
    for f in findings:
        counts[f.severity] = counts.get(f.severity, 0) + 1
    total = ", ".join(f"{k}: {counts[k]}" for k in ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN") if k in counts)
    head = f"{target}: {packages} packages, {len(findings)} vulnerabilities" + (f" ({total})" if total else "")
    return head + "\n" + "\n".join(x.rstrip() for x in lines) + "\n"


def as_json(findings, target: str, packages: int) -> str:
    return json.dumps({"target": target, "packages": packages,
                       "vulnerabilities": [f.to_dict() for f in findings]}, indent=2) + "\n"


def sarif(findings, target: str, packages: int, tool_version: str) -> str:
    rules, index = [], {}
    results = []
    for f in findings:
        if f.id not in index:
            index[f.id] = len(rules)
            rule = {"id": f.id, "name": "OsvVulnerability", "shortDescription": {"text": f.summary or f.id},
                    "helpUri": f"https://osv.dev/vulnerability/{f.id}",
                    "properties": {"tags": ["vulnerability", "security", f.severity]}}
            if f.score is not None:
                rule["properties"]["security-severity"] = f"{f.score:.1f}"
            rules.append(rule)
        uri = (f.location or target).lstrip("/")
        results.append({
            "ruleId": f.id, "ruleIndex": index[f.id], "level": SARIF_LEVEL[f.severity],
            "message": {"text": f"{f.package} {f.installed} is affected by {f.id} ({f.severity})"
                                + (f"; fixed in {f.fixed}" if f.fixed else "; no fix yet")},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri}}}],
            "properties": {"purl": f.purl, "installed": f.installed, "fixed": f.fixed},
        })
    doc = {"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0",
           "runs": [{"tool": {"driver": {"name": "dockyard", "version": tool_version,
                                         "informationUri": "https://osv.dev", "rules": rules}},
                     "results": results}]}
    return json.dumps(doc, indent=2) + "\n"
