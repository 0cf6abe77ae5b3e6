"""The Engine API's images, networks, volumes and execs, through the docker CLI and raw HTTP,
checked against the dockyard CLI on the same store."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from urllib.parse import quote

from apiclient import api, frames  # noqa: F401 - api is a fixture
from support import assert_nothing_left, wait_for


def test_images_list_tag_inspect_delete(api, dy):
    assert api.docker("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").out == \
        dy("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").out
    api.docker("tag", "busybox", "example.com/team/bb:2")
    assert "example.com/team/bb:2" in dy("images", "--format", "{{.Repository}}:{{.Tag}}").out.split()
    mine = json.loads(api.docker("image", "inspect", "example.com/team/bb:2").out)[0]
    assert mine == json.loads(dy("image", "inspect", "example.com/team/bb:2").out)[0]
    refs = api.json("GET", "/v1.44/images/json?filters=" + quote(json.dumps({"reference": ["example.com/*/*"]})))
    assert [r["RepoTags"] for r in refs] == [["example.com/team/bb:2"]]
    assert "VirtualSize" not in refs[0] and "VirtualSize" in api.json("GET", "/v1.43/images/json")[0]
    assert api.docker("rmi", "example.com/team/bb:2").out == "Untagged: example.com/team/bb:2\n"
    status, _, out = api.request("DELETE", "/v1.44/images/nosuch:1")
    assert status == 404 and "No such image" in json.loads(out)["message"]
    status, _, out = api.request("GET", "/v1.44/images/json?filters=" + quote(json.dumps({"color": ["red"]})))
    assert status == 400 and "Invalid filter 'color'" in json.loads(out)["message"]
    # an image a container uses is a 409 to delete, as dockerd's
    api.json("POST", "/v1.44/containers/create?name=user", {"Image": "busybox", "HostConfig": {"NetworkMode": "none"}},
             expect=201)
    status, _, out = api.request("DELETE", "/v1.44/images/busybox:latest")
    assert status == 409 and "is using its referenced image" in json.loads(out)["message"]
    assert dy("images", "-q").out.strip()


def test_networks_and_volumes(api, dy, tmp_path):
    nid = api.docker("network", "create", "--label", "team=a", "appnet").out.strip()
    assert len(nid) == 64
    assert api.docker("network", "ls", "--format", "{{.Name}}").out == \
        dy("network", "ls", "--format", "{{.Name}}").out == "appnet\nbridge\nhost\nnone\n"  # no blank line at the end
    assert api.docker("network", "ls", "-q", "--filter", "label=team=a").out.strip() == nid[:12]
    doc = json.loads(api.docker("network", "inspect", "appnet").out)[0]
    assert doc == json.loads(dy("network", "inspect", "appnet").out)[0]
    p = api.docker("network", "create", "appnet", check=False)
    assert p.returncode == 1 and "already exists" in p.err
    status, _, out = api.request("POST", "/v1.44/networks/create",
                                 {"Name": "two",
                                  "IPAM": {"Config": [{"Subnet": "10.9.0.0/24"}, {"Subnet": "10.9.1.0/24"}]}})
    assert status == 400 and "one IPAM.Config entry per address family" in json.loads(out)["message"]
    status, _, out = api.request("POST", "/v1.44/networks/create", {"Name": 5})
    assert status == 400
    # newer APIs' fields dockyard cannot honour are refused, not ignored, and make nothing
    status, _, out = api.request("POST", "/v1.44/networks/create", {"Name": "v6only", "EnableIPv4": False,
                                                                    "EnableIPv6": True})
    assert status == 400 and "EnableIPv4=false" in json.loads(out)["message"]
    assert "v6only" not in dy("network", "ls").out
    status, _, out = api.request("POST", "/v1.44/containers/create?name=gwp",
                                 {"Image": "busybox", "HostConfig": {"NetworkMode": "appnet"},
                                  "NetworkingConfig": {"EndpointsConfig": {"appnet": {"GwPriority": 5}}}})
    assert status == 501 and "GwPriority is not supported" in json.loads(out)["message"], out
    assert dy("ps", "-aq").out == ""
    api.docker("volume", "create", "--label", "k=v", "data")
    assert api.docker("volume", "ls", "-q").out.split() == dy("volume", "ls", "-q").out.split() == ["data"]
    assert api.docker("volume", "ls", "-q", "--filter", "label=k=v").out.split() == ["data"]
    assert json.loads(api.docker("volume", "inspect", "data").out) == json.loads(dy("volume", "inspect", "data").out)
    cid = api.docker("run", "-d", "--network", "appnet", "-v", "data:/data", "busybox", "sh", "-c",
                     "echo hi > /data/f; sleep 60").out.strip()
    wait_for(lambda: os.path.exists(os.path.join(dy.root, "volumes", "data", "_data", "f")), what="the volume write")
    p = api.docker("volume", "rm", "data", check=False)
    assert p.returncode == 1 and "in use" in p.err
    p = api.docker("network", "rm", "appnet", check=False)
    assert p.returncode == 1
    api.docker("rm", "-f", cid)
    api.docker("volume", "rm", "data")
    api.docker("network", "rm", "appnet")
    assert dy("volume", "ls", "-q").out == "" and "appnet" not in dy("network", "ls").out
    status, _, out = api.request("GET", "/v1.44/volumes/data")
    assert status == 404
    assert_nothing_left(dy, tmp_path)


def test_exec_through_the_docker_cli(api, dy, tmp_path):
    api.docker("run", "-d", "--name", "box", "--network", "none", "busybox", "sleep", "60")
    p = api.docker("exec", "box", "sh", "-c", "echo out; echo err >&2; exit 4", check=False)
    assert (p.returncode, p.out, p.err) == (4, "out\n", "err\n")
    q = dy("exec", "box", "sh", "-c", "echo out; echo err >&2; exit 4", check=False)
    assert (q.returncode, q.out, q.err) == (p.returncode, p.out, p.err)
    assert api.docker("exec", "-i", "box", "cat", input=b"through stdin\n").out == "through stdin\n"
    assert api.docker("exec", "-u", "nobody", "-w", "/tmp", "-e", "X=1", "box", "sh", "-c",
                      "id -un; pwd; echo $X").out.split() == ["nobody", "/tmp", "1"]
    assert api.docker("exec", "-t", "box", "tty").out.strip().startswith("/dev/pts/")
    api.docker("exec", "-d", "box", "touch", "/tmp/detached")
    wait_for(lambda: dy("exec", "box", "ls", "/tmp/detached", check=False).returncode == 0, what="exec -d")
    # dockerd records 126 for an exec that cannot start, found or not (docker CLI 28 exits with it)
    p = api.docker("exec", "box", "nosuchcommand", check=False)
    assert p.returncode == 126 and "executable file not found" in p.err, (p.returncode, p.err)
    assert dy("exec", "box", "nosuchcommand", check=False).returncode == 126
    p = api.docker("exec", "-d", "box", "nosuchcommand", check=False)  # the start refused: 1, as dockerd's
    assert p.returncode == 1 and "executable file not found" in p.err, (p.returncode, p.err)
    assert dy("exec", "-d", "box", "nosuchcommand", check=False).returncode == 1
    for detach in (False, True):
        eid = api.json("POST", "/v1.44/containers/box/exec", {"Cmd": ["nosuchcommand"], "AttachStdout": True},
                       expect=201)["Id"]
        status, _, out = api.request("POST", f"/v1.44/exec/{eid}/start", {"Detach": detach})
        assert status == (400 if detach else 200), (status, out)
        doc = api.json("GET", f"/v1.44/exec/{eid}/json")
        assert doc["ExitCode"] == 126 and doc["Running"] is False, doc
    # the raw API: frames, inspect, and a stopped container refused
    eid = api.json("POST", "/v1.44/containers/box/exec",
                   {"Cmd": ["sh", "-c", "echo a; echo b >&2"], "AttachStdout": True, "AttachStderr": True},
                   expect=201)["Id"]
    status, _, out = api.request("POST", f"/v1.44/exec/{eid}/start", {"Detach": False, "Tty": False})
    assert status == 200 and sorted(frames(out)) == [(1, b"a\n"), (2, b"b\n")]
    doc = api.json("GET", f"/v1.44/exec/{eid}/json")
    assert doc["ExitCode"] == 0 and doc["Running"] is False and doc["ProcessConfig"]["entrypoint"] == "sh"
    status, _, out = api.request("POST", f"/v1.44/exec/{eid}/start", {})
    assert status == 409
    status, _, out = api.request("POST", "/v1.44/containers/box/exec", {"Cmd": []})
    assert status == 400 and "No exec command" in json.loads(out)["message"]
    status, _, out = api.request("GET", "/v1.44/exec/nosuch/json")
    assert status == 404
    api.docker("stop", "-t", "0", "box")
    status, _, out = api.request("POST", "/v1.44/containers/box/exec", {"Cmd": ["true"]})
    assert status == 409 and "is not running" in json.loads(out)["message"]
    api.docker("rm", "box")
    assert_nothing_left(dy, tmp_path)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_pull_from_a_loopback_registry(api, dy, tmp_path):
    port = _free_port()
    reg = subprocess.Popen(dy.cmd("registry", "serve", "--addr", f"127.0.0.1:{port}", "--root",
                                  str(tmp_path / "registry")), env=dy.env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        def up():
            with socket.socket() as c:
                return c.connect_ex(("127.0.0.1", port)) == 0
        wait_for(up, what="the registry")
        name = f"127.0.0.1:{port}/team/bb:1"
        dy("tag", "busybox", name)
        dy("push", name)
        dy("rmi", name)
        p = api.docker("pull", name)
        assert "Status: Downloaded newer image" in p.out or "Image is up to date" in p.out, p.out
        assert name in dy("images", "--format", "{{.Repository}}:{{.Tag}}").out.split()
        assert api.docker("run", "--rm", "--network", "none", name, "echo", "pulled").out == "pulled\n"
        p = api.docker("pull", f"127.0.0.1:{port}/team/nosuch:1", check=False)
        assert p.returncode == 1 and "nosuch" in p.err
        # X-Registry-Auth is taken (credentials this registry does not ask for); the pull goes to
        # the loopback registry only, never a default one
        status, _, out = api.request("POST", f"/v1.44/images/create?fromImage=127.0.0.1:{port}/team/bb&tag=1",
                                     headers={"X-Registry-Auth": "eyJ1c2VybmFtZSI6ImEiLCJwYXNzd29yZCI6ImIifQ=="})
        assert status == 200 and b"Status: Image is up to date" in out, out
    finally:
        reg.terminate()
        reg.wait(10)


def test_pause_rename_and_prunes(api, dy, tmp_path):
    api.docker("run", "-d", "--name", "p1", "--network", "none", "busybox", "sleep", "60")
    api.docker("pause", "p1")
    assert dy("inspect", "-f", "{{.State.Status}}", "p1").out.strip() == "paused"
    p = api.docker("pause", "p1", check=False)
    assert p.returncode == 1 and "already paused" in p.err
    api.docker("unpause", "p1")
    assert dy("inspect", "-f", "{{.State.Status}}", "p1").out.strip() == "running"
    api.docker("rename", "p1", "p2")
    assert dy("ps", "--format", "{{.Names}}").out.split() == ["p2"]
    p = api.docker("rename", "p2", "bad/name", check=False)
    assert p.returncode == 1 and "Invalid container name" in p.err
    api.docker("run", "--name", "done1", "--network", "none", "-l", "keep=no", "busybox", "true")
    api.docker("run", "--name", "done2", "--network", "none", "-l", "keep=yes", "busybox", "true")
    out = api.docker("container", "prune", "-f", "--filter", "label=keep=no").out
    assert "Deleted Containers" in out
    assert sorted(dy("ps", "-a", "--format", "{{.Names}}").out.split()) == ["done2", "p2"]
    p = api.docker("container", "prune", "-f", "--filter", "until=1h", check=False)
    assert p.returncode == 1 and "until filter is not supported" in p.err
    api.docker("container", "prune", "-f")
    assert dy("ps", "-a", "--format", "{{.Names}}").out.split() == ["p2"]
    api.docker("volume", "create", "named")
    api.json("POST", "/v1.44/containers/create?name=anon",
             {"Image": "busybox", "HostConfig": {"NetworkMode": "none", "Binds": None}, "Volumes": {}}, expect=201)
    api.docker("volume", "prune", "-f")
    assert dy("volume", "ls", "-q").out.split() == ["named"]  # named volumes stay without --all
    api.docker("volume", "prune", "-f", "--all")
    assert dy("volume", "ls", "-q").out == ""
    api.docker("network", "create", "spare")
    api.docker("network", "create", "--label", "tier=db", "labelled")
    assert api.docker("network", "prune", "-f", "--filter", "until=1h").out.strip() == ""
    out = api.docker("network", "prune", "-f", "--filter", "label!=tier=db").out
    assert "spare" in out and "labelled" not in out
    assert "labelled" in api.docker("network", "prune", "-f", "--filter", "label=tier").out
    assert "spare" not in dy("network", "ls").out
    api.docker("rm", "-f", "p2", "anon")
    assert_nothing_left(dy, tmp_path)
