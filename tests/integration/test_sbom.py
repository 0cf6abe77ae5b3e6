"""`dockyard sbom`: packages found as syft finds them, valid SPDX/CycloneDX, per-layer origin,
hostile images that cannot make it read the host, and clear errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from importlib import metadata

import pytest
from sbomsupport import ours, syft_packages, validate_cyclonedx, validate_spdx

# syft's "gzip-binary" classifier matches the text "gzip 1.0" that busybox's own help carries and
# reports a GNU gzip 1.0 inside /bin/busybox; there is no gzip package there (busybox's applet is
# its own code), so dockyard does not claim one. This is the only difference syft shows.
SYFT_BUSYBOX_FALSE_POSITIVE = {("gzip", "1.0", "pkg:generic/gzip@1.0")}


def busybox_version() -> str:
    out = subprocess.run(["/bin/busybox"], capture_output=True, text=True).stdout
    return out.split()[1].lstrip("v")  # "BusyBox v1.35.0 (Debian 1:1.35.0-4+b3) multi-call binary."


def test_busybox_image_matches_syft(dy, busybox, tmp_path):
    table = dy("sbom", busybox).out.splitlines()
    assert table[0].split() == ["NAME", "VERSION", "TYPE", "LAYER"]
    version = busybox_version()
    assert table[1].split()[:3] == ["busybox", version, "binary"]
    cdx = dy("sbom", "--format", "cyclonedx-json", busybox).out
    mine = ours(cdx)
    assert mine == {("busybox", version, f"pkg:generic/busybox@{version}")}
    archive = str(tmp_path / "bb.tar")
    dy("save", "-o", archive, busybox)
    theirs = syft_packages(archive)
    assert mine - theirs == set()
    assert theirs - mine <= SYFT_BUSYBOX_FALSE_POSITIVE


def test_formats_validate(dy, busybox, tmp_path):
    out = tmp_path / "bb.spdx.json"
    dy("sbom", "--format", "spdx-json", "-o", str(out), busybox)
    validate_spdx(str(out))
    doc = json.loads(out.read_text())
    assert doc["spdxVersion"] == "SPDX-2.3"
    purls = [r["referenceLocator"] for p in doc["packages"] for r in p.get("externalRefs", [])]
    assert purls == [f"pkg:generic/busybox@{busybox_version()}"]
    validate_cyclonedx(dy("sbom", "--format", "cyclonedx-json", busybox).out)


def _dist_info(name: str) -> str:
    """The directory of an installed distribution's real METADATA (the test's own interpreter's)."""
    meta = next(f for f in metadata.distribution(name).files if f.name == "METADATA")
    return os.path.dirname(str(meta.locate()))


@pytest.mark.skipif(not os.path.exists("/var/lib/dpkg/info/busybox-static.list"), reason="busybox-static not installed")
def test_layers_ecosystems_and_syft(dy, busybox, tmp_path):
    """A real dpkg stanza and copyright (this host's busybox-static), two real Python dist-infos,
    npm package.json files; one package per layer, one replaced later, one deleted by a RUN (a
    whiteout), one hidden by a directory made anew (an opaque directory)."""
    ctx = tmp_path / "ctx"
    (ctx / "deb/var/lib/dpkg/info").mkdir(parents=True)
    (ctx / "deb/usr/share/doc/busybox-static").mkdir(parents=True)
    (ctx / "deb/etc").mkdir(parents=True)
    status = subprocess.run(["dpkg-query", "-s", "busybox-static"], capture_output=True, text=True, check=True).stdout
    (ctx / "deb/var/lib/dpkg/status").write_text(status)
    shutil.copy("/var/lib/dpkg/info/busybox-static.list", ctx / "deb/var/lib/dpkg/info/")
    shutil.copy("/usr/share/doc/busybox-static/copyright", ctx / "deb/usr/share/doc/busybox-static/")
    shutil.copy("/etc/os-release", ctx / "deb/etc/os-release")
    site = ctx / "site"
    for name in ("pluggy", "packaging"):
        src = _dist_info(name)
        shutil.copytree(src, site / os.path.basename(src))
    (ctx / "nm/left-pad").mkdir(parents=True)
    (ctx / "nm/left-pad/package.json").write_text('{"name": "left-pad", "version": "1.2.0", "license": "WTFPL"}')
    (ctx / "nm2/left-pad").mkdir(parents=True)
    (ctx / "nm2/left-pad/package.json").write_text('{"name": "left-pad", "version": "1.3.0", "license": "WTFPL"}')
    (ctx / "nm/@babel/core").mkdir(parents=True)
    (ctx / "nm/@babel/core/package.json").write_text('{"name": "@babel/core", "version": "7.24.0", "license": "MIT"}')
    (ctx / "Dockerfile").write_text(
        "FROM busybox\n"
        "COPY deb/ /\n"                                            # layer 1
        "COPY site/ /usr/lib/python3/dist-packages/\n"             # layer 2
        "COPY nm/ /app/node_modules/\n"                            # layer 3
        "COPY nm2/ /app/node_modules/\n"                           # layer 4: left-pad 1.3.0 replaces 1.2.0
        f"RUN rm -rf /usr/lib/python3/dist-packages/{os.path.basename(_dist_info('packaging'))}\n"  # layer 5
        "RUN rm -rf /app/node_modules/@babel && mkdir /app/node_modules/@babel\n")  # 6: an opaque directory
    dy("build", "-q", "-t", "layered:1", str(ctx), timeout=300)
    cfg = json.loads(dy("image", "inspect", "layered:1").out)[0]
    layers = cfg["RootFS"]["Layers"]
    assert len(layers) == 7
    doc = json.loads(dy("sbom", "--format", "cyclonedx-json", "layered:1").out)
    by_name = {}
    for c in doc["components"]:
        props = {p["name"]: p["value"] for p in c["properties"]}
        by_name[c["name"]] = (c["version"], props.get("dockyard:location:0:layerID"))
    bb_static = status.split("Version: ", 1)[1].split("\n", 1)[0]
    assert by_name["busybox-static"] == (bb_static, layers[1])
    assert by_name["busybox"] == (busybox_version(), layers[0])
    assert by_name["pluggy"] == (metadata.version("pluggy"), layers[2])
    assert "packaging" not in by_name  # its dist-info was deleted in layer 5 (a whiteout)
    assert by_name["left-pad"] == ("1.3.0", layers[4])
    assert "@babel/core" not in by_name  # below a directory made anew (opaque) in layer 6
    deb = next(c for c in doc["components"] if c["name"] == "busybox-static")
    assert deb["licenses"]  # from the real copyright file
    archive = str(tmp_path / "layered.tar")
    dy("save", "-o", archive, "layered:1")
    theirs, mine = syft_packages(archive), ours(json.dumps(doc))
    assert mine - theirs == set()
    assert theirs - mine <= SYFT_BUSYBOX_FALSE_POSITIVE


def test_hostile_links_never_read_the_host(dy, busybox, tmp_path):
    """Package metadata that is a symlink to a host path (absolute or ../), or a directory link
    out of the image, is image content pointing nowhere: nothing of the host is read."""
    host = tmp_path / "host"
    (host / "evil").mkdir(parents=True)
    canary = host / "METADATA"
    canary.write_text("Metadata-Version: 2.1\nName: host-secret\nVersion: 6.6.6\n")
    (host / "evil/package.json").write_text('{"name": "host-secret-npm", "version": "6.6.6"}')
    before = canary.read_bytes()
    ctx = tmp_path / "ctx"
    (ctx / "site/x-1.0.dist-info").mkdir(parents=True)
    os.symlink(str(canary), ctx / "site/x-1.0.dist-info/METADATA")
    (ctx / "site/y-1.0.dist-info").mkdir()
    os.symlink("../../../../../../../../.." + str(canary), ctx / "site/y-1.0.dist-info/METADATA")
    (ctx / "nm").mkdir()
    os.symlink(str(host / "evil"), ctx / "nm/evil")
    (ctx / "Dockerfile").write_text("FROM busybox\nCOPY site/ /usr/lib/python3/dist-packages/\n"
                                    "COPY nm/ /app/node_modules/\n")
    dy("build", "-q", "-t", "hostile:1", str(ctx), timeout=300)
    out = dy("sbom", "--format", "cyclonedx-json", "hostile:1").out
    assert "host-secret" not in out
    assert {c["name"] for c in json.loads(out)["components"]} == {"busybox"}
    assert canary.read_bytes() == before


def test_output_to_a_device_or_link_writes_through(dy, busybox, tmp_path):
    """-o replaces a regular file by a rename, but writes through /dev/null, a fifo or a link, as a
    shell redirection does: the host's /dev/null stays the device it is."""
    before = os.stat("/dev/null")
    dy("sbom", "-o", "/dev/null", busybox)
    dy("scan", "--db", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "unit", "data", "osv",
                                    "samples"), "-o", "/dev/null", busybox)
    after = os.stat("/dev/null")
    assert (after.st_ino, after.st_rdev, after.st_mode) == (before.st_ino, before.st_rdev, before.st_mode)
    assert not any(n.startswith("null.") for n in os.listdir("/dev"))
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    dy("sbom", "-o", str(link), busybox)
    assert os.path.islink(link) and real.read_text().startswith("NAME")


def test_bad_input_is_a_clear_error(dy, busybox):
    p = dy("sbom", "nosuch:image", check=False)
    assert p.returncode == 1 and "No such image: nosuch:image" in p.err and "Traceback" not in p.err
    p = dy("sbom", "--format", "xml", busybox, check=False)
    assert p.returncode == 1 and 'invalid --format "xml"' in p.err and "Traceback" not in p.err
    p = dy("sbom", check=False)
    assert p.returncode == 1 and "requires exactly 1 argument" in p.err
