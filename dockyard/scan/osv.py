"""OSV records (https://ossf.github.io/osv-schema/): reading them from a directory or a zip (as
OSV's per-ecosystem ``all.zip`` exports come), and deciding whether a version is affected, with
the schema's own range algorithm over each ecosystem's version ordering."""

from __future__ import annotations

import json
import os

from dockyard.errors import InvalidArgument
from dockyard.scan import versions
from dockyard.scan.query import normalize_name

MAX_RECORD = 16 << 20  # one OSV record this large is not a record


def check_record(doc, where: str) -> dict:
    """The few fields matching relies on, with their types; anything else is the record's own."""
    if not isinstance(doc, dict):
        raise InvalidArgument(f"{where}: an OSV record is a JSON object")
    if not isinstance(doc.get("id"), str) or not doc["id"]:
        raise InvalidArgument(f"{where}: OSV record without an \"id\"")
    aff = doc.get("affected", [])
    if not isinstance(aff, list) or not all(isinstance(a, dict) for a in aff):
        raise InvalidArgument(f"{where}: {doc['id']}: \"affected\" must be a list of objects")
    for a in aff:
        pkg = a.get("package") or {}  # an upstream CVE record may list an entry without a package
        if not isinstance(pkg, dict) or not isinstance(pkg.get("ecosystem", ""), str) \
                or not isinstance(pkg.get("name", ""), str):
            raise InvalidArgument(f"{where}: {doc['id']}: \"affected[].package\" needs string ecosystem and name")
        if not isinstance(a.get("ranges", []), list) or not isinstance(a.get("versions", []), list):
            raise InvalidArgument(f"{where}: {doc['id']}: \"ranges\" and \"versions\" must be lists")
        for r in a.get("ranges", []):
            if not isinstance(r, dict) or not isinstance(r.get("events", []), list) \
                    or not all(isinstance(e, dict) for e in r.get("events", [])):
                raise InvalidArgument(f"{where}: {doc['id']}: a range needs a list of event objects")
    return doc


def _parse(data: bytes, where: str) -> dict:
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as e:
        raise InvalidArgument(f"{where}: not valid JSON: {e}") from None
    return check_record(doc, where)


def read_records(path: str):
    """Yield the OSV records of a directory (``*.json`` below it) or a zip file."""
    import zipfile

    if os.path.isdir(path):
        for base, dirs, files in os.walk(path):
            dirs.sort()
            for f in sorted(files):
                if f.endswith(".json"):
                    full = os.path.join(base, f)
                    if os.path.getsize(full) > MAX_RECORD:
                        raise InvalidArgument(f"{full}: larger than {MAX_RECORD} bytes: not an OSV record")
                    with open(full, "rb") as fh:
                        yield _parse(fh.read(), full)
        return
    if not os.path.exists(path):
        raise InvalidArgument(f"vulnerability database {path} does not exist",
                              hint="give a directory or zip of OSV records (e.g. OSV's Debian:12/all.zip)")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise InvalidArgument(f"{path}: not a zip of OSV records: {e}") from None
    with zf:
        for info in zf.infolist():
            if info.is_dir() or not info.filename.endswith(".json"):
                continue
            if info.file_size > MAX_RECORD:
                raise InvalidArgument(f"{path}:{info.filename}: larger than {MAX_RECORD} bytes")
            try:
                data = zf.read(info)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
                raise InvalidArgument(f"{path}:{info.filename}: corrupt zip member: {e}") from None
            yield _parse(data, f"{path}:{info.filename}")


def affected_entries(doc: dict, ecosystem: str, name: str):
    """The record's ``affected`` entries for this package (ecosystem names compared as OSV does:
    ``Debian:12`` entries for a Debian 12 package, a bare ``Debian`` entry for any release)."""
    base = ecosystem.split(":", 1)[0]
    for a in doc.get("affected", []):
        pkg = a.get("package") or {}
        eco = pkg.get("ecosystem", "")
        if eco != ecosystem and eco != base:
            continue
        if normalize_name(base, pkg.get("name", "")) == name:
            yield a


def is_affected(entry: dict, ecosystem: str, version: str) -> tuple[bool, str]:
    """(affected?, the fixed version of the range that says so, "" when none is known)."""
    if version in (entry.get("versions") or ()):
        return True, _fixed_of(entry, ecosystem, version)
    try:
        v = versions.key(ecosystem, version)
    except ValueError:
        return False, ""
    for r in entry.get("ranges") or ():
        if r.get("type") not in ("ECOSYSTEM", "SEMVER"):
            continue  # GIT ranges name commits, not versions
        hit, fixed = _in_range(r.get("events") or (), ecosystem, v)
        if hit:
            return True, fixed
    return False, ""


def _event_key(ecosystem: str, e: dict):
    kind, value = next(((k, e[k]) for k in ("introduced", "fixed", "last_affected", "limit") if k in e), (None, None))
    if kind is None or not isinstance(value, str):
        return None
    if kind == "introduced" and value == "0":
        return (0, (), kind, value)
    return (1, versions.key(ecosystem, value), kind, value)


def _in_range(events, ecosystem: str, v) -> tuple[bool, str]:
    keyed = []
    for e in events:
        try:
            k = _event_key(ecosystem, e)
        except ValueError:
            return False, ""  # a range this ecosystem cannot order is not evidence either way
        if k is not None:
            keyed.append(k)
    keyed.sort(key=lambda k: (k[0], k[1]))
    affected, fixed = False, ""
    for rank, k, kind, value in keyed:
        after = rank == 0 or v >= k
        if kind == "introduced" and after:
            affected, fixed = True, ""
        elif kind in ("fixed", "limit") and after:
            affected = False
        elif kind == "last_affected" and rank and v > k:
            affected = False
        elif kind == "fixed" and affected and not fixed:
            fixed = value  # the first fix above the installed version
    return affected, fixed


def _fixed_of(entry: dict, ecosystem: str, version: str) -> str:
    try:
        v = versions.key(ecosystem, version)
    except ValueError:
        return ""
    for r in entry.get("ranges") or ():
        if r.get("type") in ("ECOSYSTEM", "SEMVER"):
            for e in r.get("events") or ():
                try:
                    if "fixed" in e and versions.key(ecosystem, e["fixed"]) > v:
                        return e["fixed"]
                except ValueError:
                    continue
    return ""
