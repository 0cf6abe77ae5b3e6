"""`dockyard sbom` against syft on a Debian image (debootstrap, slow tier) with Python, npm and Go
added by a build: the package sets (name, version, purl) are the same, package for package."""

from __future__ import annotations

import json
import os
import shutil
from importlib import metadata

import pytest
from sbomsupport import ours, syft_binary, syft_packages, validate_cyclonedx, validate_spdx

DOCKERFILE = """\
FROM debian:sbom
COPY site/ /usr/local/lib/python3.11/dist-packages/
WORKDIR /app
COPY package.json ./
COPY node_modules/ ./node_modules/
COPY bin/ /usr/local/bin/
"""


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("debootstrap"), reason="debootstrap not installed")
def test_debian_python_npm_go_match_syft(dy, tmp_path, debian_base):
    syft = syft_binary()
    # Debian's nodejs brings its own node modules (package.json under /usr/share/nodejs), python3-six
    # an egg-info: both ecosystems come from the distribution as well as from the build below.
    assert {"nodejs", "python3", "python3-six"} <= set(debian_base.packages)
    debian_base.load(dy, "debian:sbom")
    ctx = tmp_path / "ctx"
    (ctx / "site").mkdir(parents=True)
    for name in ("pluggy", "packaging", "iniconfig"):  # real dist-infos (Name: as their authors wrote it)
        meta = next(f for f in metadata.distribution(name).files if f.name == "METADATA")
        src = os.path.dirname(str(meta.locate()))
        shutil.copytree(src, ctx / "site" / os.path.basename(src))
    (ctx / "package.json").write_text('{"name": "sbom-app", "version": "1.0.0", "private": true}')
    for name, version, lic in (("left-pad", "1.3.0", "WTFPL"), ("@babel/core", "7.24.0", "MIT")):
        (ctx / "node_modules" / name).mkdir(parents=True)
        (ctx / "node_modules" / name / "package.json").write_text(
            json.dumps({"name": name, "version": version, "license": lic}))
    (ctx / "bin").mkdir()
    shutil.copy(syft, ctx / "bin/syft")  # a Go binary with modules (and its main version in -ldflags)
    if shutil.which("runc"):
        shutil.copy(shutil.which("runc"), ctx / "bin/runc")  # Debian's: GOPATH build, version in its bytes
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    dy("build", "-q", "-t", "app:sbom", str(ctx), timeout=600)
    for image in ("debian:sbom", "app:sbom"):
        cdx = dy("sbom", "--format", "cyclonedx-json", image, timeout=300).out
        validate_cyclonedx(cdx)
        spdx = tmp_path / "out.spdx.json"
        dy("sbom", "--format", "spdx-json", "-o", str(spdx), image, timeout=300)
        validate_spdx(str(spdx))
        archive = str(tmp_path / "image.tar")
        dy("save", "-o", archive, image, timeout=300)
        theirs, mine = syft_packages(archive), ours(cdx)
        os.unlink(archive)
        assert len(mine) > 100
        assert mine == theirs, (sorted(mine - theirs)[:20], sorted(theirs - mine)[:20])
    types = {c["purl"].split("/")[0] for c in json.loads(cdx)["components"]}
    assert types == {"pkg:deb", "pkg:pypi", "pkg:npm", "pkg:golang"}
