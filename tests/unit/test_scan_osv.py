"""OSV matching on real records (tests/unit/data/osv: the osv package's samples and Debian:12 records
from Debian's changelogs), severities, purls, SBOM files and the SQLite index."""

import json
import os
import zipfile

import pytest

from dockyard.errors import InvalidArgument, NotFound
from dockyard.scan.db import Database, import_records
from dockyard.scan.match import scan
from dockyard.scan.osv import affected_entries, is_affected, read_records
from dockyard.scan.query import from_purl
from dockyard.scan.sbomfile import read_purls
from dockyard.scan.severity import cvss3_score, of_record

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "osv")
SAMPLES = os.path.join(DATA, "samples")


def record(name):
    with open(os.path.join(SAMPLES, name)) as f:
        return json.load(f)


def hit(doc, ecosystem, name, version):
    for entry in affected_entries(doc, ecosystem, name):
        affected, fixed = is_affected(entry, ecosystem, version)
        if affected:
            return fixed
    return None


def test_pypi_range_and_versions_list():
    doc = record("PYSEC-2023-74.json")  # requests: introduced 2.3.0, fixed 2.31.0
    assert hit(doc, "PyPI", "requests", "2.30.0") == "2.31.0"
    assert hit(doc, "PyPI", "requests", "2.3.0") == "2.31.0"
    assert hit(doc, "PyPI", "requests", "2.31.0") is None
    assert hit(doc, "PyPI", "requests", "2.2.1") is None
    assert hit(doc, "PyPI", "requests", "2.31.0rc1") == "2.31.0"   # a pre-release of the fix is before it
    mal = record("MAL-2024-10238.json")                            # a malicious release: a versions list, no fix
    assert hit(mal, "PyPI", "123bla", "0.0.1") == ""
    assert hit(mal, "PyPI", "123bla", "0.0.2") is None
    gradio = record("GHSA-9v2f-6vcg-3hgv.json")                     # "Gradio": names are compared normalised
    assert hit(gradio, "PyPI", "gradio", "4.36.1") == ""
    norm = record("pypi_normalize.osv.json")
    assert hit(norm, "PyPI", "products-pluggableauthservice", "2.6.0") == "2.6.1"


def test_go_semver_with_several_introduced():
    doc = record("GO-2024-2963.json")  # stdlib: [0, 1.21.12) and [1.22.0-0, 1.22.5)
    assert hit(doc, "Go", "stdlib", "1.19.8") == "1.21.12"
    assert hit(doc, "Go", "stdlib", "1.21.12") is None
    assert hit(doc, "Go", "stdlib", "1.22.0") == "1.22.5"
    assert hit(doc, "Go", "stdlib", "1.22.5") is None
    assert hit(record("GO-2020-0001.json"), "Go", "github.com/gin-gonic/gin", "v1.5.0") == "1.6.0"


def test_npm_ranges():
    doc = record("less_than_equals_with_patch.osv.json")  # i18next < 1.10.3
    assert hit(doc, "npm", "i18next", "1.10.2") == "1.10.3"
    assert hit(doc, "npm", "i18next", "1.10.3") is None
    jq = record("npm_greater_than.osv.json")  # jquery [2.1.1-0, 3.0.0)
    assert hit(jq, "npm", "jquery", "2.1.1") == "3.0.0"
    assert hit(jq, "npm", "jquery", "2.1.0") is None
    assert hit(jq, "npm", "jquery", "3.0.0") is None
    assert hit(record("less_than_equals_no_patch.osv.json"), "npm", "shiba", "1.0.0") == ""


def test_alpine_per_release_and_debian_source_versions():
    doc = record("CVE-2018-5407.json")
    assert hit(doc, "Alpine:v3.4", "openssl", "1.0.2p-r0") == "1.0.2q-r0"
    assert hit(doc, "Alpine:v3.4", "openssl", "1.0.2q-r0") is None
    assert hit(doc, "Alpine:v3.19", "openssl", "1.0.2p-r0") is None  # no entry for that release
    with open(os.path.join(DATA, "debian12", "DEBIAN-CVE-2024-45490.json")) as f:
        expat = json.load(f)  # fixed in expat 2.5.0-1+deb12u1
    assert hit(expat, "Debian:12", "expat", "2.5.0-1") == "2.5.0-1+deb12u1"
    assert hit(expat, "Debian:12", "expat", "2.5.0-1+deb12u1") is None
    assert hit(expat, "Debian:11", "expat", "2.5.0-1") is None


def test_severity():
    assert of_record(record("GHSA-9v2f-6vcg-3hgv.json")) == ("CRITICAL", 9.8)  # GitHub's own rating
    assert of_record(record("CVE-2018-5407.json")) == ("MEDIUM", 4.7)         # NVD's base score for it
    assert of_record(record("GO-2024-2963.json")) == ("UNKNOWN", None)
    assert cvss3_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H") == 10.0
    assert cvss3_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N") == 0.0
    with pytest.raises(ValueError):
        cvss3_score("CVSS:3.1/AV:N")


def test_purls_to_queries():
    q = from_purl("pkg:deb/debian/bsdutils@1:2.38.1-5%2Bdeb12u3?arch=amd64&distro=debian-12"
                  "&upstream=util-linux%402.38.1-5%2Bdeb12u3")
    assert (q.ecosystem, q.name, q.version, q.package, q.installed) == \
        ("Debian:12", "util-linux", "2.38.1-5+deb12u3", "bsdutils", "1:2.38.1-5+deb12u3")
    q = from_purl("pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12&upstream=glibc")
    assert (q.name, q.version) == ("glibc", "2.36-9")
    q = from_purl("pkg:apk/alpine/libcrypto3@3.1.4-r5?arch=x86_64&distro=alpine-3.19.1&upstream=openssl")
    assert (q.ecosystem, q.name) == ("Alpine:v3.19", "openssl")
    assert from_purl("pkg:npm/%40babel/core@7.24.0").name == "@babel/core"
    assert from_purl("pkg:golang/github.com/moby/sys@v0.7.2#mountinfo").name == "github.com/moby/sys/mountinfo"
    assert from_purl("pkg:pypi/Typing_Extensions@4.15.0").name == "typing-extensions"
    assert from_purl("pkg:generic/busybox@1.35.0") is None
    assert from_purl("not a purl") is None


def test_database_import_matches_directory(tmp_path):
    zpath = tmp_path / "all.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        for d in (SAMPLES, os.path.join(DATA, "debian12")):
            for f in os.listdir(d):
                z.write(os.path.join(d, f), f)
    n = import_records([str(zpath)], str(tmp_path / "osv.db"))
    withdrawn = sum(1 for r in read_records(SAMPLES) if r.get("withdrawn"))
    assert withdrawn == 1
    assert n == len(os.listdir(SAMPLES)) + len(os.listdir(os.path.join(DATA, "debian12"))) - withdrawn
    queries = [from_purl(p) for p in ("pkg:pypi/requests@2.30.0", "pkg:golang/stdlib@1.19.8",
                                      "pkg:npm/i18next@1.10.2", "pkg:pypi/123bla@0.0.1",
                                      "pkg:deb/debian/libexpat1@2.5.0-1?arch=amd64&distro=debian-12&upstream=expat")]
    db = Database(str(tmp_path / "osv.db"))
    indexed = {(f.package, f.id, f.fixed) for f in scan(queries, db)}
    assert db.count() == n
    db.close()
    direct = {(f.package, f.id, f.fixed) for f in scan(queries, Database(SAMPLES))}
    assert {x for x in indexed if not x[1].startswith("DEBIAN-")} == direct
    assert ("requests", "PYSEC-2023-74", "2.31.0") in indexed
    assert ("stdlib", "GO-2024-2963", "1.21.12") in indexed
    assert ("libexpat1", "DEBIAN-CVE-2024-45490", "2.5.0-1+deb12u1") in indexed
    unfixed = {(f.package, f.id) for f in scan(queries, Database(str(zpath)), ignore_unfixed=True)}
    assert ("123bla", "MAL-2024-10238") not in unfixed and ("requests", "PYSEC-2023-74") in unfixed
    assert import_records([str(zpath)], str(tmp_path / "osv.db")) == 0  # the same records again: nothing new
    db = Database(str(tmp_path / "osv.db"))
    assert db.count() == n
    db.close()


def test_bad_databases(tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InvalidArgument, match="not a zip of OSV records"):
        list(read_records(str(bad)))
    d = tmp_path / "dir"
    d.mkdir()
    (d / "X-1.json").write_text('{"id": "X-1", "affected": [')
    with pytest.raises(InvalidArgument, match="X-1.json: not valid JSON"):
        Database(str(d))
    (d / "X-1.json").write_text('{"affected": []}')
    with pytest.raises(InvalidArgument, match="without an \\\"id\\\""):
        Database(str(d))
    (d / "X-1.json").write_text('{"id": "X-1", "affected": {"package": 1}}')
    with pytest.raises(InvalidArgument, match="must be a list"):
        Database(str(d))
    with pytest.raises(NotFound):
        Database(str(tmp_path / "missing.db"))
    before = os.listdir(tmp_path)
    with pytest.raises(InvalidArgument):
        import_records([str(bad)], str(tmp_path / "new.db"))
    assert os.listdir(tmp_path) == before  # a failed import leaves nothing


def test_sbom_files(tmp_path):
    cdx = {"bomFormat": "CycloneDX", "specVersion": "1.5",
           "components": [{"type": "library", "name": "requests", "version": "2.30.0", "purl": "pkg:pypi/requests@2.30.0",
                           "components": [{"type": "library", "name": "x", "purl": "pkg:npm/x@1.0.0"}]}]}
    (tmp_path / "a.json").write_text(json.dumps(cdx))
    assert sorted(p for p, _ in read_purls(str(tmp_path / "a.json"))) == ["pkg:npm/x@1.0.0", "pkg:pypi/requests@2.30.0"]
    syft = {"artifacts": [{"name": "i18next", "purl": "pkg:npm/i18next@1.10.2", "locations": [{"path": "/a/package.json"}]}]}
    (tmp_path / "b.json").write_text(json.dumps(syft))
    assert read_purls(str(tmp_path / "b.json")) == [("pkg:npm/i18next@1.10.2", "/a/package.json")]
    (tmp_path / "c.json").write_text("[1, 2")
    with pytest.raises(InvalidArgument, match="not a JSON SBOM"):
        read_purls(str(tmp_path / "c.json"))
    (tmp_path / "d.json").write_text("{}")
    with pytest.raises(InvalidArgument, match="not an SBOM dockyard reads"):
        read_purls(str(tmp_path / "d.json"))
