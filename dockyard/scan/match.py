"""Match queries (packages) against a `Database`: one finding per (package, vulnerability)."""

from __future__ import annotations

from dockyard.scan.osv import affected_entries, is_affected
from dockyard.scan.severity import LEVELS, of_record


class Finding:
    __slots__ = ("id", "aliases", "summary", "severity", "score", "package", "installed", "fixed", "ecosystem",
                 "purl", "location", "source")

    def __init__(self, **kw) -> None:
        for k in self.__slots__:
            setattr(self, k, kw.get(k, ""))

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}


def scan(queries, db, *, severities: set[str] | None = None, ignore_unfixed: bool = False) -> list[Finding]:
    out: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    for q in queries:
        for doc in db.lookup(q.ecosystem, q.name):
            if (q.purl, doc["id"]) in seen:
                continue
            for entry in affected_entries(doc, q.ecosystem, q.name):
                hit, fixed = is_affected(entry, q.ecosystem, q.version)
                if not hit:
                    continue
                level, score = of_record(doc)
                if ignore_unfixed and not fixed:
                    break
                if severities and level not in severities:
                    break
                seen.add((q.purl, doc["id"]))
                out.append(Finding(id=doc["id"], aliases=list(doc.get("aliases") or []),
                                   summary=str(doc.get("summary") or doc.get("details") or "").split("\n")[0][:200],
                                   severity=level, score=score, package=q.package, installed=q.installed,
                                   fixed=fixed, ecosystem=q.ecosystem, purl=q.purl, location=q.location,
                                   source=q.name))
                break
    order = {lv: i for i, lv in enumerate(LEVELS)}
    out.sort(key=lambda f: (-order[f.severity], f.package, f.id))
    return out
