"""`dockyard scan`: an image's packages against real OSV records (tests/unit/data/osv), offline; Debian
findings checked against `dpkg --compare-versions`; filters, exit codes, formats, the SQLite index,
SBOM files (ours and syft's) as input, and clear errors on bad input."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import zipfile

import pytest

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "unit", "data", "osv")
# real bookworm versions older than what this host has (each is an entry in the package's changelog)
OLD = {"libc6": "2.36-9+deb12u4", "libexpat1": "2.5.0-1", "tar": "1.34+dfsg-1.2"}


def _status_with_old_versions() -> str:
    out = []
    for pkg, version in OLD.items():
        st = subprocess.run(["dpkg-query", "-s", pkg], capture_output=True, text=True, check=True).stdout
        out.append(re.sub(r"^Version: .*$", f"Version: {version}", st, flags=re.M))
    return "\n".join(s.strip() + "\n" for s in out)


def _expected_debian(status: str) -> set[tuple[str, str]]:
    """(binary package, record id) from the Debian:12 records, decided by dpkg itself."""
    sources = {}
    for stanza in status.split("\n\n"):
        f = dict(line.split(": ", 1) for line in stanza.splitlines() if ": " in line and not line.startswith(" "))
        sources[f["Package"]] = (f.get("Source", f["Package"]).split()[0], f["Version"])
    want = set()
    for name in os.listdir(os.path.join(DATA, "debian12")):
        with open(os.path.join(DATA, "debian12", name)) as fh:
            doc = json.load(fh)
        for a in doc["affected"]:
            fixed = next(e["fixed"] for e in a["ranges"][0]["events"] if "fixed" in e)
            for binary, (src, version) in sources.items():
                if a["package"]["name"] == src and \
                        subprocess.run(["dpkg", "--compare-versions", version, "lt", fixed]).returncode == 0:
                    want.add((binary, doc["id"]))
    return want


@pytest.fixture
def vulnerable(dy, busybox, tmp_path):
    if not shutil.which("dpkg-query") or not all(os.path.exists(f"/var/lib/dpkg/info/{p}.list") or
                                                 os.path.exists(f"/var/lib/dpkg/info/{p}:amd64.list") for p in OLD):
        pytest.skip("needs a Debian host with libc6, libexpat1 and tar")
    ctx = tmp_path / "ctx"
    (ctx / "root/var/lib/dpkg").mkdir(parents=True)
    (ctx / "root/etc").mkdir()
    status = _status_with_old_versions()
    (ctx / "root/var/lib/dpkg/status").write_text(status)
    shutil.copy("/etc/os-release", ctx / "root/etc/os-release")
    (ctx / "root/usr/lib/python3/dist-packages/requests-2.30.0.dist-info").mkdir(parents=True)
    (ctx / "root/usr/lib/python3/dist-packages/requests-2.30.0.dist-info/METADATA").write_text(
        "Metadata-Version: 2.1\nName: requests\nVersion: 2.30.0\nLicense: Apache 2.0\n")
    for name, version in (("i18next", "1.10.2"), ("shiba", "1.0.0")):
        (ctx / f"root/app/node_modules/{name}").mkdir(parents=True)
        (ctx / f"root/app/node_modules/{name}/package.json").write_text(json.dumps({"name": name, "version": version}))
    runc = shutil.which("runc")
    if runc:
        (ctx / "root/usr/local/bin").mkdir(parents=True)
        shutil.copy(runc, ctx / "root/usr/local/bin/runc")  # Debian's runc, built with Go 1.19
    (ctx / "Dockerfile").write_text("FROM busybox\nCOPY root/ /\n")
    dy("build", "-q", "-t", "vulnerable:1", str(ctx), timeout=300)
    db = tmp_path / "osv"
    shutil.copytree(os.path.join(DATA, "samples"), db)
    for f in os.listdir(os.path.join(DATA, "debian12")):
        shutil.copy(os.path.join(DATA, "debian12", f), db / f)
    want = _expected_debian(status) | {("requests", "PYSEC-2023-74"), ("i18next", "GHSA-f89g-whpf-6q9m"),
                                       ("shiba", "GHSA-jvf4-g24p-2qgw")}
    if runc:
        want.add(("stdlib", "GO-2024-2963"))
    return "vulnerable:1", str(db), want


def _found(out: str) -> set[tuple[str, str]]:
    return {(v["package"], v["id"]) for v in json.loads(out)["vulnerabilities"]}


def test_scan_finds_what_the_records_and_dpkg_say(dy, vulnerable, tmp_path):
    image, db, want = vulnerable
    assert any(p == "libc6" for p, _ in want) and any(p == "libexpat1" for p, _ in want)
    out = dy("scan", "--db", db, "--format", "json", image).out
    assert _found(out) == want
    doc = json.loads(out)
    pysec = next(v for v in doc["vulnerabilities"] if v["id"] == "PYSEC-2023-74")
    assert (pysec["installed"], pysec["fixed"]) == ("2.30.0", "2.31.0")
    table = dy("scan", "--db", db, image).out
    assert f"{len(want)} vulnerabilities" in table.splitlines()[0]
    assert re.search(r"^requests\s+PYSEC-2023-74\s+UNKNOWN\s+2\.30\.0\s+2\.31\.0", table, re.M)


def test_filters_exit_code_and_formats(dy, vulnerable, tmp_path):
    image, db, want = vulnerable
    p = dy("scan", "--db", db, "--exit-code", "7", image, check=False)
    assert p.returncode == 7
    unfixed = {("shiba", "GHSA-jvf4-g24p-2qgw")}
    assert _found(dy("scan", "--db", db, "--ignore-unfixed", "--format", "json", image).out) == want - unfixed
    # none of these records rates itself HIGH or CRITICAL: the filter leaves nothing, and exit 0
    p = dy("scan", "--db", db, "--severity", "HIGH,CRITICAL", "--exit-code", "1", "--format", "json", image,
           check=False)
    assert p.returncode == 0 and _found(p.out) == set()
    assert _found(dy("scan", "--db", db, "--severity", "unknown", "--format", "json", image).out) == want
    sarif = json.loads(dy("scan", "--db", db, "--format", "sarif", "-o", "-", image).out)
    assert sarif["version"] == "2.1.0"
    results = sarif["runs"][0]["results"]
    rules = sarif["runs"][0]["tool"]["driver"]["rules"]
    assert {r["ruleId"] for r in results} == {i for _, i in want}
    assert all(rules[r["ruleIndex"]]["id"] == r["ruleId"] for r in results)
    assert all(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results)


def test_imported_index_and_sbom_files(dy, vulnerable, tmp_path):
    image, db, want = vulnerable
    zpath = tmp_path / "all.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        for f in os.listdir(db):
            z.write(os.path.join(db, f), f)
    out = dy("scan", "--db-import", str(zpath)).out
    assert "imported" in out and os.path.exists(os.path.join(dy.root, "cache", "osv.db"))
    assert _found(dy("scan", "--format", "json", image).out) == want  # the default database
    sbom = tmp_path / "image.cdx.json"
    dy("sbom", "--format", "cyclonedx-json", "-o", str(sbom), image)
    assert _found(dy("scan", "--sbom", str(sbom), "--format", "json").out) == want
    spdx = tmp_path / "image.spdx.json"
    dy("sbom", "--format", "spdx-json", "-o", str(spdx), image)
    assert _found(dy("scan", "--sbom", str(spdx), "--db", str(zpath), "--format", "json").out) == want
    try:
        from sbomsupport import syft_binary

        syft = syft_binary()
    except pytest.skip.Exception:
        return
    archive = tmp_path / "image.tar"
    dy("save", "-o", str(archive), image)
    syft_json = tmp_path / "syft.json"
    subprocess.run([syft, f"docker-archive:{archive}", "-o", f"json={syft_json}", "-q"], check=True, timeout=600,
                   env=dict(os.environ, SYFT_CHECK_FOR_APP_UPDATE="false"))
    assert _found(dy("scan", "--sbom", str(syft_json), "--format", "json").out) == want


def test_bad_input(dy, busybox, tmp_path):
    def err(*args):
        p = dy(*args, check=False)
        assert p.returncode == 1, (args, p.returncode, p.err)
        assert "Traceback" not in p.err and p.err.startswith("dockyard: error: ")
        return p.err

    bad_zip = tmp_path / "bad.zip"
    bad_zip.write_bytes(b"PK\x03\x04garbage")
    assert "not a zip of OSV records" in err("scan", "--db-import", str(bad_zip))
    assert not os.path.exists(os.path.join(dy.root, "cache", "osv.db"))
    d = tmp_path / "records"
    d.mkdir()
    (d / "BAD-1.json").write_text('{"id": "BAD-1", "affected": [{"package": ')
    assert "BAD-1.json: not valid JSON" in err("scan", "--db", str(d), busybox)
    assert "not found" in err("scan", "--db", str(tmp_path / "nothing.db"), busybox)
    assert "No such image: nosuch:1" in err("scan", "--db", os.path.join(DATA, "samples"), "nosuch:1")
    assert "invalid --severity" in err("scan", "--severity", "BAD", busybox)
    assert "invalid --format" in err("scan", "--format", "xml", busybox)
    assert "requires one IMAGE or --sbom FILE" in err("scan")
    # the database is replaced by a rename: a device, link or fifo named as --db is refused, untouched
    link = tmp_path / "link.db"
    link.symlink_to("/dev/null")
    before = os.stat("/dev/null")
    for target in ("/dev/null", str(link)):
        assert "is not a database file" in err("scan", "--db-import", os.path.join(DATA, "samples"), "--db", target)
    after = os.stat("/dev/null")
    assert (after.st_ino, after.st_rdev, after.st_mode) == (before.st_ino, before.st_rdev, before.st_mode)
    assert os.path.islink(link) and not any(n.startswith("null.") for n in os.listdir("/dev"))
    (tmp_path / "x.json").write_text("{}")
    assert "not an SBOM" in err("scan", "--db", os.path.join(DATA, "samples"), "--sbom", str(tmp_path / "x.json"))
