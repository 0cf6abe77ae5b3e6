"""A record's severity: the database's own rating when it gives one (GHSA's
``database_specific.severity``), else the CVSS v3 base score of its vector (computed with the
CVSS 3.1 specification's formulas), rated as NVD rates it. Otherwise UNKNOWN."""

from __future__ import annotations

LEVELS = ("UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL")

_W = {"AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2}, "AC": {"L": 0.77, "H": 0.44},
      "UI": {"N": 0.85, "R": 0.62}, "C": {"H": 0.56, "L": 0.22, "N": 0.0}}


def _roundup(x: float) -> float:
    i = round(x * 100000)
    return i / 100000.0 if i % 10000 == 0 else (i // 10000 + 1) / 10.0


def cvss3_score(vector: str) -> float:
    """The base score of a ``CVSS:3.x/AV:../AC:../PR:../UI:../S:../C:../I:../A:..`` vector."""
    parts = dict(p.split(":", 1) for p in vector.split("/")[1:] if ":" in p)
    try:
        changed = parts["S"] == "C"
        pr = {"N": 0.85, "L": 0.68 if changed else 0.62, "H": 0.5 if changed else 0.27}[parts["PR"]]
        c, i, a = (_W["C"][parts[k]] for k in ("C", "I", "A"))
        expl = 8.22 * _W["AV"][parts["AV"]] * _W["AC"][parts["AC"]] * pr * _W["UI"][parts["UI"]]
    except KeyError as e:
        raise ValueError(f"incomplete CVSS v3 vector {vector!r}: {e}") from None
    iss = 1 - (1 - c) * (1 - i) * (1 - a)
    impact = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 if changed else 6.42 * iss
    if impact <= 0:
        return 0.0
    return _roundup(min(1.08 * (impact + expl) if changed else impact + expl, 10))


def rating(score: float) -> str:
    if score >= 9.0:
        return "CRITICAL"
    if score >= 7.0:
        return "HIGH"
    if score >= 4.0:
        return "MEDIUM"
    return "LOW" if score > 0 else "UNKNOWN"


def of_record(doc: dict) -> tuple[str, float | None]:
    """(level, CVSS v3 score or None)."""
    score = None
    for s in doc.get("severity") or ():
        if isinstance(s, dict) and str(s.get("type", "")).startswith("CVSS_V3") and isinstance(s.get("score"), str):
            try:
                score = cvss3_score(s["score"])
            except ValueError:
                continue
            break
    db = doc.get("database_specific")
    own = db.get("severity") if isinstance(db, dict) else None
    if isinstance(own, str) and own.upper() in LEVELS[1:]:
        return own.upper(), score
    if isinstance(own, str) and own.upper() == "MODERATE":  # GitHub's word for MEDIUM
        return "MEDIUM", score
    return (rating(score) if score is not None else "UNKNOWN"), score
