"""`dockyard system reset`: the store goes, and so does everything it made on the host.

Each test checks the host afterwards (bridges, iptables-save, mountinfo, processes, cgroups, the
published port, the directories), and that a second store's running container is untouched.
Traffic goes only to 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess


HTTPD = "mkdir -p /www && echo hi > /www/index.html && exec httpd -f -p 80 -h /www"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bridges_of(root: str) -> list[str]:
    with sqlite3.connect(os.path.join(root, "state.db")) as conn:
        return [r[0] for r in conn.execute("SELECT bridge FROM networks")]


def iptables_save() -> str:
    return subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout


def processes_naming(root: str) -> list[int]:
    """Processes whose command line names the store root (monitors, DNS servers, probers)."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rpartition(")")[2].split()[0] == "Z":
                    continue  # dead, not reaped by whoever adopted it
        except OSError:
            continue
        if root.encode() in argv:
            out.append(int(pid))
    return out


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def cgroup_dirs(pid: int) -> list[str]:
    """The directories of the container's own cgroup (named by its id) in every hierarchy."""
    from dockyard.runtime.cgroups.cgroup import Cgroup

    with open(f"/proc/{pid}/cgroup") as f:
        paths = {line.split(":", 2)[2] for line in f.read().splitlines()}
    own = [p for p in paths if len(p.rsplit("/", 1)[1]) == 64]
    return sorted({d for p in own for d in Cgroup.at(p).dirs.values()})


def mounts_below(path: str) -> list[str]:
    real = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        return [ln.split()[4] for ln in f if ln.split()[4] == real or ln.split()[4].startswith(real + "/")]


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def second_store(dy, tmp_path, name: str):
    """Another store (the fixture's class, so the fixture cleans it up too), with a running container."""
    other = type(dy)(str(tmp_path / "b-root"), str(tmp_path / "b-run"))
    other("bootstrap", "busybox", "busybox:latest")
    cid = other("run", "-d", "--name", f"{name}-b", "busybox", "sleep", "300").out.strip()
    return other, cid


def running(store, cid: str) -> dict:
    doc = json.loads(store("inspect", cid).out)[0]
    assert doc["State"]["Running"], doc["State"]
    assert alive(doc["State"]["Pid"])
    return doc


def make_store(dy, name: str, port: int) -> dict:
    """A running container with a port published on 127.0.0.1 in a user network, a volume, an
    image, and a stopped container on the default network. Returns what the host holds for it."""
    dy("network", "create", f"{name}-net")
    dy("volume", "create", f"{name}-vol")
    cid = dy("run", "-d", "--name", name, "--network", f"{name}-net", "-p", f"127.0.0.1:{port}:80",
             "-v", f"{name}-vol:/data", "busybox", "sh", "-c", HTTPD).out.strip()
    dy("run", "--name", f"{name}-done", "busybox", "true")
    doc = json.loads(dy("inspect", cid).out)[0]
    pid = doc["State"]["Pid"]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:  # the port works
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        answer = b""
        while chunk := s.recv(4096):
            answer += chunk
        assert answer.endswith(b"\r\n\r\nhi\n"), answer
    held = {"cid": cid, "pid": pid, "cgroups": cgroup_dirs(pid), "bridges": bridges_of(dy.root),
            "procs": processes_naming(os.path.abspath(dy.root))}
    assert held["procs"] and held["cgroups"] and all(os.path.isdir(d) for d in held["cgroups"]), held
    rules = iptables_save()
    assert f"dockyard ctr {cid[:12]}" in rules
    assert all(f"dockyard net {b}" in rules for b in held["bridges"]), held["bridges"]
    return held


def assert_host_clean(dy, held: dict, port: int) -> None:
    rules = iptables_save()
    assert f"dockyard ctr {held['cid'][:12]}" not in rules
    for b in held["bridges"]:
        assert not os.path.exists(f"/sys/class/net/{b}"), b
        assert f"dockyard net {b}" not in rules, b
    assert not any(alive(p) for p in [held["pid"], *held["procs"]])
    assert not processes_naming(os.path.abspath(dy.root))
    assert not any(os.path.exists(d) for d in held["cgroups"]), held["cgroups"]
    assert not mounts_below(dy.root) and not mounts_below(dy.runroot)
    assert port_free(port)
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        raise AssertionError(f"something still answers on 127.0.0.1:{port}")
    except OSError:
        pass
    assert not os.path.exists(dy.root) and not os.path.exists(dy.runroot)


def test_reset_removes_the_store_and_what_it_made_on_the_host(dy, busybox, name, tmp_path):
    port = free_port()
    held = make_store(dy, name, port)
    other, other_cid = second_store(dy, tmp_path, name)
    other_bridges = bridges_of(other.root)

    p = dy("system", "reset", input="n\n")  # the prompt: no is no
    assert "WARNING! This will remove:" in p.out and "Are you sure you want to continue? [y/N]" in p.out
    assert f'the root directory: "{os.path.abspath(dy.root)}"' in p.out
    assert os.path.exists(os.path.join(dy.root, "state.db")) and alive(held["pid"])

    p = dy("system", "reset", "-f")
    assert held["cid"] in p.out and f"{name}-net" in p.out, p.out
    assert_host_clean(dy, held, port)

    running(other, other_cid)  # the other store is untouched
    assert other_bridges and all(os.path.exists(f"/sys/class/net/{b}") for b in other_bridges)
    assert all(f"dockyard net {b}" in iptables_save() for b in other_bridges)
    assert "busybox" in other("images").out


def test_reset_finds_what_a_store_deleted_by_hand_left(dy, busybox, name, tmp_path):
    """The root and runroot removed with `rm -rf` while a (paused) container ran: the bridges
    (their alias names the store), rules, monitor, container and cgroup are still found and
    removed."""
    from dockyard.engine.reset import orphan_bridges

    port = free_port()
    held = make_store(dy, name, port)
    other, other_cid = second_store(dy, tmp_path, name)
    other_bridges = bridges_of(other.root)
    assert not mounts_below(dy.root)  # the runtime mounts the rootfs in the container's namespace
    dy("pause", name)  # frozen: its processes die only once thawed
    shutil.rmtree(dy.root)
    shutil.rmtree(dy.runroot)

    # --orphans' choice: this store's bridges are orphans (its database is gone) but in use, so
    # they are kept and said why; the live store's are not orphans at all
    gone, _unowned, busy = orphan_bridges(below=str(tmp_path))
    assert not set(other_bridges) & set(gone)
    assert all(any(b in why for why in busy) for b in held["bridges"] if os.listdir(f"/sys/class/net/{b}/brif"))

    p = dy("system", "reset", "-f")
    assert all(b in p.out for b in held["bridges"]), p.out
    assert str(held["pid"]) in p.out
    assert_host_clean(dy, held, port)
    running(other, other_cid)
    assert all(os.path.exists(f"/sys/class/net/{b}") for b in other_bridges)


def test_orphans_are_the_idle_bridges_of_gone_stores_and_only_those(dy, busybox, name, tmp_path):
    """--orphans (looking only at this test's stores: the host is shared): a gone store's idle
    bridge goes with its rules; a gone store's bridge with a container still attached stays (its
    own reset stops that); a live store's bridge stays."""
    from dockyard.engine.engine import Engine
    from dockyard.engine.reset import reset, store_names

    def store(tag: str):
        return type(dy)(str(tmp_path / f"{tag}-root"), str(tmp_path / f"{tag}-run"))

    gone, busy, live = store("gone"), store("busy"), store("live")
    for s in (dy, gone, live):
        s("network", "create", f"{name}-net")
    busy("bootstrap", "busybox", "busybox:latest")
    busy("network", "create", f"{name}-net")
    busy("run", "-d", "--network", f"{name}-net", "busybox", "sleep", "300")
    mine, gone_b, busy_b, live_b = (bridges_of(s.root) for s in (dy, gone, busy, live))
    assert store_names(os.path.abspath(gone.root), gone_b[0]) is True
    assert store_names(os.path.abspath(live.root), gone_b[0]) is False
    shutil.rmtree(gone.root)
    shutil.rmtree(busy.root)

    report = reset(Engine(dy.root, dy.runroot), orphans=True, orphans_below=str(tmp_path))
    assert report["Orphans"] == gone_b and report["Networks"] == [f"{name}-net"]
    assert f"dockyard net {gone_b[0]}" in report["Rules"]
    assert any(busy_b[0] in e and "attached" in e for e in report["Errors"]), report["Errors"]
    rules = iptables_save()
    for b in mine + gone_b:
        assert not os.path.exists(f"/sys/class/net/{b}") and f"dockyard net {b}" not in rules, b
    for b in busy_b + live_b:
        assert os.path.exists(f"/sys/class/net/{b}") and f"dockyard net {b}" in rules, b

    p = busy("system", "reset", "-f")  # the busy store's own reset: its container, then its bridge
    assert busy_b[0] in p.out
    assert not os.path.exists(f"/sys/class/net/{busy_b[0]}") and not processes_naming(os.path.abspath(busy.root))
    assert os.path.exists(f"/sys/class/net/{live_b[0]}")


def test_reset_refuses_root_slash_and_keeps_what_is_not_a_store(dy, tmp_path):
    p = dy("--root", "/", "system", "reset", "-f", check=False)
    assert p.returncode == 1 and "refuses to remove /" in p.err
    keep = tmp_path / "notastore"
    keep.mkdir()
    (keep / "precious").write_text("x")
    p = dy("--root", str(keep), "--runroot", str(tmp_path / "norun"), "system", "reset", "-f")
    assert (keep / "precious").read_text() == "x"
    assert "kept" in p.err and "precious" in p.err
    p = dy("system", "reset", "extra", check=False)
    assert p.returncode == 1 and "accepts no arguments" in p.err
