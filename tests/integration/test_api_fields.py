"""Engine API request fields the docker CLI and docker-py send, each honoured or refused, never
dropped: HostConfig fields dockyard cannot honour (as the CLI refuses their flags), MaskedPaths/
ReadonlyPaths (docker's CLI sends both empty for `--security-opt systempaths=unconfined`),
Config.NetworkDisabled, create's `platform`, restart's `signal`, logs' `details`, and a bind's
ReadOnlyNonRecursive. Nothing is made by a refused request."""

from __future__ import annotations

import json
import os
import subprocess

from apiclient import api  # noqa: F401 - a fixture
from support import assert_nothing_left, wait_for


def _create(api, body: dict, query: str = ""):
    status, _, out = api.request("POST", f"/v1.44/containers/create{query}", {"Image": "busybox", **body})
    return status, json.loads(out) if out else {}


def test_fields_dockyard_cannot_honour_are_refused_and_make_nothing(api, dy, tmp_path):
    for host, words in (({"DeviceRequests": [{"Count": -1, "Capabilities": [["gpu"]]}]}, "DeviceRequests (--gpus)"),
                        ({"StorageOpt": {"size": "1G"}}, "StorageOpt"),
                        ({"CpuRealtimeRuntime": 950000}, "CpuRealtimeRuntime"),
                        ({"MaskedPaths": ["/proc/timer_list"], "ReadonlyPaths": []}, "MaskedPaths/ReadonlyPaths")):
        status, doc = _create(api, {"HostConfig": host})
        assert status == 501 and words in doc["message"], (host, status, doc)
    status, doc = _create(api, {}, "?platform=linux/arm64")
    assert status == 400 and "platform linux/arm64 is not supported" in doc["message"], doc
    p = api.docker("run", "--rm", "--gpus", "all", "busybox", "true", check=False)
    assert p.returncode == 125 and "DeviceRequests" in p.err, p.err
    p = api.docker("run", "--rm", "--platform", "linux/arm64", "busybox", "true", check=False)
    assert p.returncode == 125 and "not supported" in p.err, p.err
    status, doc = _create(api, {"NetworkDisabled": True, "HostConfig": {"NetworkMode": "host"}})
    assert status == 400 and "NetworkDisabled" in doc["message"]
    assert dy("ps", "-aq").out == ""
    # the host's own platform and the default path lists are fine
    status, doc = _create(api, {"Cmd": ["true"]}, "?platform=linux/amd64")
    assert status == 201, doc
    api.docker("rm", doc["Id"])
    assert_nothing_left(dy, tmp_path)


def test_systempaths_unconfined_and_network_disabled_take_effect(api, dy, tmp_path):
    probe = "stat -c %t,%T /proc/timer_list"
    masked = api.docker("run", "--rm", "busybox", "sh", "-c", "stat -c %t,%T /proc/timer_list").out.strip()
    assert masked == "1,3"  # /dev/null's major,minor: masked
    out = api.docker("run", "--rm", "--security-opt", "systempaths=unconfined", "busybox", "sh", "-c", probe).out
    assert out.splitlines()[0] != "1,3", out  # the real /proc/timer_list
    assert dy("run", "--rm", "--security-opt", "systempaths=unconfined", "busybox", "sh", "-c",
              "stat -c %t,%T /proc/timer_list").out.strip() == out.splitlines()[0]
    # docker-py's network_disabled: no interface but lo
    cid = api.json("POST", "/v1.44/containers/create", {"Image": "busybox", "Cmd": ["ls", "/sys/class/net"],
                                                         "NetworkDisabled": True}, expect=201)["Id"]
    api.docker("start", "-a", cid)
    assert api.docker("logs", cid).out.split() == ["lo"]
    assert json.loads(api.docker("inspect", cid).out)[0]["HostConfig"]["NetworkMode"] == "none"
    api.docker("rm", cid)
    assert_nothing_left(dy, tmp_path)


def test_restart_signal_and_logs_details(api, dy, tmp_path):
    api.docker("run", "-d", "--name", "sig", "--network", "none", "--log-opt", "labels=tier", "-l", "tier=web",
               "busybox", "sh", "-c", "trap 'echo got-usr1; exit 0' USR1; echo up; while :; do sleep 0.1; done")
    wait_for(lambda: "up" in api.docker("logs", "sig").out, what="the first line")
    api.docker("restart", "-s", "USR1", "-t", "20", "sig")
    wait_for(lambda: api.docker("logs", "sig").out.count("up") == 2, what="the restart")
    assert "got-usr1" in api.docker("logs", "sig").out  # the signal asked for, not SIGTERM then SIGKILL
    details = api.docker("logs", "--details", "sig").out
    assert details.splitlines()[0] == "tier=web up" and details == dy("logs", "--details", "sig").out
    api.docker("rm", "-f", "sig")
    assert_nothing_left(dy, tmp_path)


def test_a_bind_read_only_at_its_top_only_when_asked(api, dy, tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(src / "sub")], check=True)
    try:
        write = ["busybox", "sh", "-c", "touch /data/sub/w && echo wrote"]
        p = api.docker("run", "--rm", "--network", "none", "--mount", f"type=bind,src={src},dst=/data,readonly",
                       *write, check=False)
        assert "wrote" not in p.out and not os.path.exists(src / "sub" / "w")
        p = api.docker("run", "--rm", "--network", "none", "--mount",
                       f"type=bind,src={src},dst=/data,readonly,bind-recursive=writable", *write)
        assert "wrote" in p.out and os.path.exists(src / "sub" / "w")
        status, _, out = api.request("POST", "/v1.44/containers/create", {
            "Image": "busybox", "HostConfig": {"Mounts": [{"Type": "bind", "Source": str(src), "Target": "/data",
                                                           "BindOptions": {"ReadOnlyForceRecursive": True}}]}})
        assert status == 400 and "requires ReadOnly" in json.loads(out)["message"], out
        status, _, out = api.request("POST", "/v1.44/containers/create", {
            "Image": "busybox", "HostConfig": {"Mounts": [{"Type": "volume", "Target": "/data",
                                                           "VolumeOptions": {"Subpath": "x"}}]}})
        assert status in (400, 501) and "Subpath" in json.loads(out)["message"], out
    finally:
        subprocess.run(["umount", "-l", str(src / "sub")], check=False)
    assert dy("ps", "-aq").out == ""
    assert_nothing_left(dy, tmp_path)


def test_image_list_all_parent_and_shared_size(api, dy, tmp_path):
    api.docker("run", "--name", "c1", "--network", "none", "busybox", "sh", "-c", "echo 1 > /one")
    parent = api.docker("commit", "c1", "p:1").out.strip()
    api.docker("run", "--name", "c2", "--network", "none", "p:1", "sh", "-c", "echo 2 > /two")
    child = api.docker("commit", "c2", "c:1").out.strip()
    api.docker("rm", "c1", "c2")
    api.docker("rmi", "p:1")  # untagged, kept: c:1's parent
    ids = [d["Id"] for d in api.json("GET", "/v1.44/images/json")]
    assert child in ids and parent not in ids
    docs = {d["Id"]: d for d in api.json("GET", "/v1.44/images/json?all=1&shared-size=1")}
    assert parent in docs and docs[child]["ParentId"] == parent and docs[parent]["RepoTags"] == []
    # busybox's layer is in all three, p's in two: shared; c's own layer is its alone
    assert docs[parent]["SharedSize"] == docs[parent]["Size"]
    assert 0 < docs[child]["SharedSize"] < docs[child]["Size"]
    assert api.json("GET", "/v1.44/images/json")[0]["SharedSize"] == -1
    assert api.docker("images", "-aq", "--no-trunc").out.split().count(parent) == 1
    out = api.docker("rmi", "c:1").out
    assert f"Deleted: {child}" in out and f"Deleted: {parent}" in out
    assert_nothing_left(dy, tmp_path)
