"""docker stats/top/diff/export/cp/update/events with docker CLI 28 through the service, and the
same engine functions through the dockyard CLI."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
import threading
import time

from apiclient import DOCKER, api  # noqa: F401 - api is a fixture
from support import assert_nothing_left, wait_for


def _gateway(dy, name: str) -> str:
    return dy("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.Gateway}}{{end}}", name).out.strip()


def test_stats_top_with_network_io(api, dy, tmp_path):
    api.docker("run", "-d", "--name", "st", "-m", "64m", "busybox", "sh", "-c", "sleep 1000")
    gw = _gateway(dy, "st")
    assert gw  # on dockyard's own bridge: the only address this test talks to
    api.docker("exec", "st", "ping", "-c", "3", "-i", "0.2", "-s", "1000", gw)
    doc = api.json("GET", "/v1.44/containers/st/stats?stream=false")
    eth = doc["networks"]["eth0"]
    assert eth["rx_bytes"] > 3000 and eth["tx_bytes"] > 3000 and eth["tx_packets"] >= 3
    assert doc["memory_stats"]["limit"] == 64 << 20 and doc["pids_stats"]["current"] >= 1
    assert doc["cpu_stats"]["online_cpus"] >= 1 and doc["cpu_stats"]["system_cpu_usage"] > 0
    assert doc["precpu_stats"]["cpu_usage"]["total_usage"] > 0 and doc["name"] == "/st"
    # docker stats --no-stream: sane numbers, NET I/O no longer 0
    out = api.docker("stats", "--no-stream", "--format", "{{.Name}}|{{.MemUsage}}|{{.NetIO}}|{{.PIDs}}", "st").out
    name, mem, net, pids = out.strip().split("|")
    assert name == "st" and mem.endswith("/ 64MiB") and pids == "1"
    rx, tx = (x.strip() for x in net.split("/"))
    assert rx.endswith("kB") and tx.endswith("kB"), net
    mine = dy("stats", "--no-stream", "--format", "{{.NetIO}}", "st").out.strip()
    assert mine.split("/")[0].strip().endswith("kB")
    # streamed: one document a second, ended by the client
    p = subprocess.Popen([DOCKER, "stats", "--format", "{{.Name}}", "st"], env=api.env, stdout=subprocess.PIPE)
    try:
        assert p.stdout.readline()
    finally:
        p.kill()
        p.wait()
    # top, with ps args
    top = api.docker("top", "st").out.splitlines()
    assert top[0].split()[:2] == ["UID", "PID"] and any("sleep 1000" in ln for ln in top[1:])
    doc = api.json("GET", "/v1.44/containers/st/top?ps_args=-o%20pid,comm")
    assert doc["Titles"] == ["PID", "COMMAND"] and [p[1] for p in doc["Processes"]] == ["sleep"]
    api.docker("rm", "-f", "st")
    assert_nothing_left(dy, tmp_path)


def test_diff_export_and_cp_both_ways(api, dy, tmp_path):
    api.docker("run", "-d", "--name", "fs", "--network", "none", "busybox", "sh", "-c",
               "mkdir /made && echo hi > /made/f && rm /bin/ls && sleep 1000")
    wait_for(lambda: "made" in api.docker("diff", "fs").out, what="the container's changes")
    changes = api.docker("diff", "fs").out.splitlines()
    assert "A /made" in changes and "A /made/f" in changes and "D /bin/ls" in changes
    assert api.docker("diff", "fs").out == dy("diff", "fs").out
    # cp out: a file, a directory; cp in: a file and a directory
    api.docker("cp", "fs:/made/f", str(tmp_path / "f"))
    assert (tmp_path / "f").read_text() == "hi\n"
    api.docker("cp", "fs:/made", str(tmp_path / "madecopy"))
    assert (tmp_path / "madecopy" / "f").read_text() == "hi\n"
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a").write_text("from host\n")
    api.docker("cp", str(tmp_path / "in"), "fs:/dest")
    api.docker("cp", str(tmp_path / "in" / "a"), "fs:/made/renamed")
    assert api.docker("exec", "fs", "cat", "/dest/a", "/made/renamed").out == "from host\n" * 2
    p = api.docker("cp", "fs:/nosuch", str(tmp_path / "x"), check=False)
    assert p.returncode == 1 and "Could not find the file /nosuch" in p.err
    status, headers, _ = api.request("HEAD", "/v1.44/containers/fs/archive?path=/made")
    import base64

    st = json.loads(base64.b64decode(headers["X-Docker-Container-Path-Stat"]))
    assert status == 200 and st["name"] == "made" and st["mode"] & (1 << 31)
    # the attack: a tar whose entries climb out lands nothing outside the container
    canary = tmp_path / "canary"
    evil = io.BytesIO()
    with tarfile.open(fileobj=evil, mode="w") as tf:
        for name in ("../../../../../../" + str(canary).lstrip("/"), str(canary)):
            info = tarfile.TarInfo(name)
            info.size = 4
            tf.addfile(info, io.BytesIO(b"evil"))
    api.request("PUT", "/v1.44/containers/fs/archive?path=/made", body=evil.getvalue(),
                headers={"Content-Type": "application/x-tar"})
    assert not canary.exists()
    # a link in the container naming a host directory is resolved inside the container's root
    hostdir = tmp_path / "hostdir"
    hostdir.mkdir()
    api.docker("exec", "fs", "ln", "-s", str(hostdir), "/esc")
    one = io.BytesIO()
    with tarfile.open(fileobj=one, mode="w") as tf:
        info = tarfile.TarInfo("planted")
        info.size = 1
        tf.addfile(info, io.BytesIO(b"x"))
    status, _, _ = api.request("PUT", "/v1.44/containers/fs/archive?path=/esc", body=one.getvalue(),
                               headers={"Content-Type": "application/x-tar"})
    assert status >= 400 and os.listdir(hostdir) == []  # no such directory in the container: refused
    (tmp_path / "secret").write_text("host only\n")
    api.docker("exec", "fs", "ln", "-s", str(tmp_path / "secret"), "/leak")
    p = api.docker("cp", "-L", "fs:/leak", str(tmp_path / "got"), check=False)
    assert p.returncode != 0 and not (tmp_path / "got").exists()
    # export through the socket: the whole filesystem as a tar
    out = subprocess.run([DOCKER, "export", "fs"], env=api.env, capture_output=True, check=True).stdout
    names = tarfile.open(fileobj=io.BytesIO(out)).getnames()
    assert "made/f" in names and "bin/ls" not in names and "bin/sh" in names
    api.docker("rm", "-f", "fs")
    assert_nothing_left(dy, tmp_path)


def test_update_live_and_refused(api, dy, tmp_path):
    cid = api.docker("run", "-d", "--name", "up", "--network", "none", "busybox", "sleep", "1000").out.strip()
    api.docker("update", "-m", "48m", "--cpus", "0.5", "--pids-limit", "20", "--restart", "on-failure:2", "up")
    hc = json.loads(api.docker("inspect", "up").out)[0]["HostConfig"]
    # --cpus is reported as NanoCpus (applied as period/quota), as dockerd reports it
    assert (hc["Memory"], hc["NanoCpus"], hc["CpuQuota"], hc["CpuPeriod"], hc["PidsLimit"]) == \
        (48 << 20, 500_000_000, 0, 0, 20)
    assert hc["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}
    # the running container's cgroup has the new limits now
    doc = api.json("GET", f"/v1.44/containers/{cid}/stats?stream=false&one-shot=true")
    assert doc["memory_stats"]["limit"] == 48 << 20 and doc["pids_stats"]["limit"] == 20
    dy("update", "--memory", "32m", "--memory-swap", "64m", "up")
    doc = api.json("GET", f"/v1.44/containers/{cid}/stats?stream=false&one-shot=true")
    assert doc["memory_stats"]["limit"] == 32 << 20
    p = api.docker("update", "--cpu-rt-runtime", "1000", "up", check=False)
    assert p.returncode == 1 and "CpuRealtimeRuntime cannot be changed" in p.err
    p = dy("update", "-m", "1k", "up", check=False)
    assert p.returncode == 1 and "Minimum memory limit allowed is 6MB" in p.err
    p = dy("update", "up", check=False)
    assert p.returncode != 0 and "one or more flags" in p.err
    api.docker("run", "-d", "--rm", "--name", "gone", "--network", "none", "busybox", "sleep", "1000")
    p = api.docker("update", "--restart", "always", "gone", check=False)
    assert p.returncode == 1 and "AutoRemove" in p.err
    api.docker("rm", "-f", "up", "gone")
    assert_nothing_left(dy, tmp_path)


def test_events_through_the_socket_and_the_cli(api, dy, tmp_path):
    since = str(time.time() - 1)
    lines: list[str] = []
    p = subprocess.Popen([DOCKER, "events", "--format", "{{json .}}", "--filter", "type=container"], env=api.env,
                         stdout=subprocess.PIPE, text=True)
    reader = threading.Thread(target=lambda: lines.extend(iter(p.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        time.sleep(0.5)
        dy("run", "--rm", "--name", "ev", "-l", "k=v", "--network", "none", "busybox", "sh", "-c", "exit 2",
           check=False)
        api.docker("network", "create", "evnet")
        api.docker("network", "rm", "evnet")
        wait_for(lambda: sum('"destroy"' in ln for ln in lines) >= 1, what="the live events")
    finally:
        p.kill()
        p.wait()
    evs = [json.loads(ln) for ln in lines]
    assert [e["Action"] for e in evs] == ["create", "start", "die", "destroy"]  # live, only containers
    die = evs[2]
    assert die["Actor"]["Attributes"] == {"exitCode": "2", "image": "busybox", "k": "v", "name": "ev"}
    assert die["Type"] == "container" and die["scope"] == "local" and die["id"] == die["Actor"]["ID"]
    assert die["time"] == die["timeNano"] // 10**9
    # the past, with since/until: the CLI and the API agree
    until = str(time.time())
    out = api.docker("events", "--since", since, "--until", until, "--format", "{{.Type}} {{.Action}}").out
    assert out.splitlines() == ["container create", "container start", "container die", "container destroy",
                                "network create", "network destroy"]
    mine = dy("events", "--since", since, "--until", until, "--format", "{{.Type}} {{.Action}}").out
    assert mine == out
    assert dy("events", "--since", since, "--until", until, "--filter", "event=die", "--filter",
              "label=k=v", "--format", "{{.Actor.Attributes.name}}").out == "ev\n"
    # image and exec events, from the image store and the exec path
    t0 = str(time.time())
    dy("tag", "busybox", "evimg:1")
    dy("rmi", "evimg:1")
    api.docker("run", "-d", "--name", "ex", "--network", "none", "busybox", "sleep", "100")
    api.docker("exec", "ex", "true")
    t1 = str(time.time())
    out = dy("events", "--since", t0, "--until", t1, "--filter", "type=image", "--format",
             "{{.Action}} {{.Actor.Attributes.name}}").out
    assert out == "tag evimg:1\nuntag evimg:1\n"
    out = api.docker("events", "--since", t0, "--until", t1, "--filter", "event=exec_start", "--format",
                     "{{.Action}}").out
    assert out == "exec_start: true\n"
    api.docker("rm", "-f", "ex")
    # a health check's changes; a start on a network connects it
    t0 = str(time.time())
    api.docker("run", "-d", "--name", "hc", "--health-cmd", "true", "--health-interval", "1s", "busybox",
               "sleep", "100")
    wait_for(lambda: "health_status: healthy" in dy("events", "--since", t0, "--until", str(time.time()),
                                                    "--format", "{{.Action}}").out, what="the health event")
    net = api.docker("events", "--since", t0, "--until", str(time.time()), "--filter", "type=network",
                     "--format", "{{.Action}} {{.Actor.Attributes.name}}").out
    assert net == "connect bridge\n"
    api.docker("rm", "-f", "hc")
    t0 = str(time.time())
    dy("run", "--rm", "-v", "evvol:/d", "--network", "none", "busybox", "true")
    dy("volume", "rm", "evvol")
    out = api.docker("events", "--since", t0, "--until", str(time.time()), "--filter", "type=volume", "--format",
                     "{{.Action}} {{.Actor.ID}} {{index .Actor.Attributes \"destination\"}}").out
    assert out == "create evvol \nmount evvol /d\nunmount evvol /d\ndestroy evvol \n"
    p = dy("events", "--filter", "nope=1", "--until", "0s", check=False)
    assert p.returncode != 0 and "Invalid filter 'nope'" in p.err
    assert os.stat(os.path.join(dy.root, "events.log")).st_mode & 0o777 == 0o600
    assert_nothing_left(dy, tmp_path)
