"""Hostile input, side by side with the real Docker daemon (docker.io's dockerd, started here):
the same seccomp profile file gives the same answers in a container of each, and the same bad
input is refused by both with exit 125."""

import json
import os
import subprocess
import uuid

import pytest
from dockyard_interop import private_dockerd

from dockyard.runtime.seccomp_default import docker_profile


@pytest.fixture(scope="module")
def dockerd():
    with private_dockerd() as docker:
        yield docker


@pytest.fixture
def image_in_docker(dy, busybox, dockerd, tmp_path):
    tag = f"dyinterop-sec-{uuid.uuid4().hex[:8]}:1"
    dy("tag", "busybox", tag)
    archive = tmp_path / "bb.tar"
    dy("save", "-o", str(archive), tag)
    assert subprocess.run([dockerd, "load", "-i", str(archive)], capture_output=True, timeout=120).returncode == 0
    yield tag
    subprocess.run([dockerd, "rmi", "-f", tag], capture_output=True, timeout=60)


def _profile(tmp_path, drop, add) -> str:
    p = docker_profile()
    p["syscalls"][0]["names"] = [n for n in p["syscalls"][0]["names"] if n not in drop]
    p["syscalls"] += add
    path = tmp_path / f"p-{uuid.uuid4().hex[:6]}.json"
    path.write_text(json.dumps(p))
    return str(path)


SCRIPT = ("mkdir /m 2>&1; echo mkdir=$?; touch /a; chmod 777 /a 2>&1; echo c777=$?; chmod 750 /a; echo c750=$?; "
          "stat -c %a /a; grep Seccomp: /proc/self/status")


def test_the_same_profile_gives_the_same_answers(dy, dockerd, image_in_docker, tmp_path):
    rules = [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 28}]
    for names, i in ((["chmod"], 1), (["fchmodat", "fchmodat2"], 2)):
        rules.append({"names": names, "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
                      "args": [{"index": i, "value": 0o777, "op": "SCMP_CMP_EQ"}]})
        rules.append({"names": names, "action": "SCMP_ACT_ALLOW",
                      "args": [{"index": i, "value": 0o777, "op": "SCMP_CMP_NE"}]})
    prof = _profile(tmp_path, {"mkdir", "mkdirat", "chmod", "fchmodat", "fchmodat2"}, rules)
    theirs = subprocess.run([dockerd, "run", "--rm", "--network", "none", "--security-opt", f"seccomp={prof}",
                             image_in_docker, "sh", "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    ours = dy("run", "--rm", "--security-opt", f"seccomp={prof}", image_in_docker, "sh", "-c", SCRIPT)
    assert theirs.returncode == 0, theirs.stderr
    assert ours.out == theirs.stdout
    assert "No space left on device" in ours.out and "Permission denied" in ours.out


@pytest.mark.parametrize("opt", ["seccomp={missing}", "seccomp={bad}", "nonsense"])
def test_both_refuse_a_bad_security_opt(dy, dockerd, image_in_docker, tmp_path, opt):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    value = opt.format(missing=tmp_path / "missing.json", bad=bad)
    theirs = subprocess.run([dockerd, "run", "--rm", "--network", "none", "--security-opt", value, image_in_docker,
                             "true"], capture_output=True, text=True, timeout=120)
    ours = dy("run", "--rm", "--security-opt", value, image_in_docker, "true", check=False)
    assert theirs.returncode == ours.returncode == 125, (theirs.stderr, ours.err)
    assert "Traceback" not in ours.err and ours.err.startswith("dockyard: error:")
