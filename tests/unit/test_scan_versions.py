"""Version ordering per ecosystem, checked against each ecosystem's own rules and tools: dpkg
against `dpkg --compare-versions`, PEP 440 against `packaging.version`, SemVer against the
precedence list in semver.org §11, apk against Alpine's rules (cases from OSV's own alpine and
debian ecosystem tests, in the `osv` PyPI package)."""

import itertools
import shutil
import subprocess

import pytest

from dockyard.scan.versions import apk_key, dpkg_key, key, pep440_key, semver_key

DPKG = ["1.0", "1.0-1", "1.0-1~bpo1", "1.0~rc1-1", "1.0~~-1", "1.0+deb12u1-1", "1:0.9-1", "2:0.1", "1.0a-1",
        "1.0.1-1", "1.13.6-2", "1.13.6-1", "1.2.3", "1.2", "1.3", "1.2-3", "1.3+deb11u1", "1.2+deb11u5",
        "1.2+deb12u1", "1.2+deb11u2", "1.18+deb11u3", "1.14+deb10u3", "2.36-9+deb12u4", "2.36-9+deb12u10",
        "2.36-9", "3.0.11-1~deb12u2", "3.0.11-1", "1.0-0", "1.0-", "0:1.0-1", "1.0.0", "1.00"]


@pytest.mark.skipif(not shutil.which("dpkg"), reason="dpkg not installed")
def test_dpkg_matches_dpkg_compare_versions():
    for a, b in itertools.combinations(DPKG, 2):
        if a.endswith("-"):
            continue
        lt = subprocess.run(["dpkg", "--compare-versions", a, "lt", b]).returncode == 0
        eq = subprocess.run(["dpkg", "--compare-versions", a, "eq", b]).returncode == 0
        if b.endswith("-"):
            continue
        assert (dpkg_key(a) < dpkg_key(b)) == lt, (a, b)
        assert (dpkg_key(a) == dpkg_key(b)) == eq, (a, b)


def test_dpkg_rules():
    assert dpkg_key("1:0.1") > dpkg_key("9.9")          # the epoch wins
    assert dpkg_key("1.0~rc1") < dpkg_key("1.0")         # ~ sorts before the end
    assert dpkg_key("1.0~~") < dpkg_key("1.0~")
    assert dpkg_key("1.0") < dpkg_key("1.0a")            # letters sort after the end
    assert dpkg_key("1.0a") < dpkg_key("1.0+")           # non-letters after letters
    assert dpkg_key("1.2+deb12u1") > dpkg_key("1.2+deb11u2")
    for bad in ("", "a1.0", "x:1.0", "1.0 1"):
        with pytest.raises(ValueError):
            dpkg_key(bad)


def test_apk_rules():
    assert apk_key("1.13.6-r2") > apk_key("1.13.6-r1")
    assert apk_key("1.13.2-r0") > apk_key("1.13.2_alpha")
    assert apk_key("1.0_alpha1") < apk_key("1.0_beta") < apk_key("1.0_pre1") < apk_key("1.0_rc1") < apk_key("1.0")
    assert apk_key("1.0") < apk_key("1.0_cvs") < apk_key("1.0_svn") < apk_key("1.0_git") < apk_key("1.0_hg") \
        < apk_key("1.0_p1")
    assert apk_key("1.0_p1") < apk_key("1.0_p2") < apk_key("1.0_p10")
    assert apk_key("1.0a") > apk_key("1.0") and apk_key("1.0b") > apk_key("1.0a")
    assert apk_key("453") < apk_key("453-r1")
    assert apk_key("5.4.13-r1") > apk_key("0")
    assert apk_key("38.52.0-r0") > apk_key("37.52.0-r0")
    assert apk_key("13.0.14.5-r1") > apk_key("7.64.3-r2")
    assert apk_key("13.0.14.5-r1") < apk_key("16.6-r0")
    assert apk_key("1.10.0-r0") >= apk_key("1.2.0-r0")
    assert apk_key("1.2.3") > apk_key("1.2")
    assert apk_key("1.01") < apk_key("1.1")            # a leading zero is a decimal fraction
    assert apk_key("1.13.2-r0") == apk_key("1.13.2-r0")
    for bad in ("1-0-0", "invalid", ""):
        with pytest.raises(ValueError):
            apk_key(bad)


PEP440 = ["1.0.dev456", "1.0a1", "1.0a2.dev456", "1.0a12.dev456", "1.0a12", "1.0b1.dev456", "1.0b2",
          "1.0b2.post345.dev456", "1.0b2.post345", "1.0rc1.dev456", "1.0rc1", "1.0", "1.0+abc.5", "1.0+abc.7",
          "1.0+5", "1.0.post456.dev34", "1.0.post456", "1.0.15", "1.1.dev1", "1!0.1", "2.0", "2.0.0", "2",
          "1.0-1", "1.0.post1", "1.0_RC1", "v1.0", "1.0.0a0", "1.0+local.1", "1.0+local.a"]


def test_pep440_matches_packaging():
    from packaging.version import Version

    for a, b in itertools.combinations(PEP440, 2):
        assert (pep440_key(a) < pep440_key(b)) == (Version(a) < Version(b)), (a, b)
        assert (pep440_key(a) == pep440_key(b)) == (Version(a) == Version(b)), (a, b)
    with pytest.raises(ValueError):
        pep440_key("not a version")


def test_semver_precedence_from_the_spec():
    # semver.org §11: 1.0.0-alpha < 1.0.0-alpha.1 < 1.0.0-alpha.beta < 1.0.0-beta < 1.0.0-beta.2
    #                 < 1.0.0-beta.11 < 1.0.0-rc.1 < 1.0.0
    order = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
             "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "2.0.0", "10.0.0"]
    keys = [semver_key(v) for v in order]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert semver_key("1.0.0+build.1") == semver_key("1.0.0")   # build metadata has no precedence
    assert key("Go", "v0.0.0-20240314234333-6e1732d8331c") < key("Go", "v0.1.0")  # pseudo-versions
    assert key("Go", "1.19.8") < key("Go", "v1.20.0")  # stdlib versions come without the v
    for bad in ("1.0", "01.0.0", "1.0.0-", "x"):
        with pytest.raises(ValueError):
            semver_key(bad)


def test_ecosystem_dispatch():
    assert key("Debian:12", "1:1.0") > key("Debian:12", "2.0")
    assert key("Alpine:v3.19", "1.0-r1") > key("Alpine:v3.19", "1.0-r0")
    with pytest.raises(ValueError):
        key("Maven", "1.0")
