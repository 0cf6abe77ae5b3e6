"""Hostile containers against the host's loopback (issue 10 item 4, the CVE-2020-8558 class).

Every dockyard bridge has route_localnet=1 (publishing on 127.0.0.1 needs it), so without a
guard a container that writes a frame to its gateway's MAC, addressed to 127.0.0.1, reaches host
services bound to loopback only. The attacker here is `rawpeer.py`, run with the host's python
inside the container's network namespace (`nsenter -n`): raw Ethernet frames, as CAP_NET_RAW
(in Docker's default set) allows. Each test checks the host: listeners on 127.0.0.1 and
127.0.0.2 must receive nothing, no SYN-ACK may come back, and the drop must be our rule's
(its packet counter). A control through the same sender to the gateway address (which, as with
Docker, containers may reach: INPUT is not filtered, --internal networks included) shows the
sender works, so "nothing arrived" means "blocked".

Traffic goes only to loopback, to addresses on bridges these tests' roots made, and to a
namespace these tests made.
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid

import pytest
from support import run_d

RAWPEER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rawpeer.py")
HTTPD = "mkdir -p /www && echo hello-$(hostname) > /www/index.html && exec httpd -f -p 80 -h /www"


class Listeners:
    """UDP and TCP services on the host, bound to given addresses with random ports; whatever
    reaches them (datagrams, accepted connections and their data) is recorded in `got`."""

    def __init__(self, addrs: list[str]) -> None:
        self.udp, self.tcp, self.got = {}, {}, []
        self.socks = []
        for a in addrs:
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.bind((a, 0))
            t = socket.socket()
            t.bind((a, 0))
            t.listen(8)
            self.udp[a], self.tcp[a] = u.getsockname()[1], t.getsockname()[1]
            self.socks += [u, t]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            ready, _, _ = select.select(self.socks, [], [], 0.1)
            for s in ready:
                if s.type == socket.SOCK_DGRAM:
                    data, peer = s.recvfrom(2048)
                    self.got.append(("udp", s.getsockname(), peer, data))
                    continue
                conn, peer = s.accept()
                conn.settimeout(1)
                try:
                    data = conn.recv(2048)
                except OSError:
                    data = b""
                conn.close()
                self.got.append(("tcp", s.getsockname(), peer, data))

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        for s in self.socks:
            s.close()


@pytest.fixture
def listeners():
    made = []

    def make(addrs):
        made.append(Listeners(addrs))
        return made[-1]

    yield make
    for m in made:
        m.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(url: str, timeout: float = 10.0) -> str:
    assert url.startswith("http://127.0.0.1:"), url
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def rawpeer(pid: int, mode: str, gateway: str, dst: str, port: int, payload: str, ifname: str = "eth0") -> dict:
    p = subprocess.run(["nsenter", "-n", "-t", str(pid), sys.executable, RAWPEER, mode, ifname, gateway, dst,
                        str(port), payload], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def drops(tag: str) -> int:
    """Packets dropped so far by our raw rules tagged `tag`."""
    out = subprocess.run(["iptables", "-w", "5", "-t", "raw", "-L", "DOCKYARD-PREROUTING", "-n", "-v", "-x"],
                         capture_output=True, text=True, check=True).stdout
    return sum(int(ln.split()[0]) for ln in out.splitlines() if f"/* {tag} */" in ln)


def raw_rules(tag: str) -> list[str]:
    out = subprocess.run(["iptables", "-w", "5", "-t", "raw", "-S"], capture_output=True, text=True,
                         check=True).stdout
    return [ln for ln in out.splitlines() if f'"{tag}"' in ln]


def settle(lst: Listeners, want: int = 0, timeout: float = 1.0) -> list:
    """What the listeners got, after waiting up to `timeout` for `want` arrivals (0: the full wait)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (not want or len(lst.got) < want):
        time.sleep(0.05)
    return list(lst.got)


def container(dy, name: str, network: str | None) -> tuple[int, str, str]:
    """(pid, gateway, bridge) of a running container on `network` (None: the default bridge)."""
    run_d(dy, name, "sleep", "300", flags=("--network", network) if network else ())
    info = json.loads(dy("inspect", name).out)[0]
    net = network or "bridge"
    gw = info["NetworkSettings"]["Networks"][net]["Gateway"]
    bridge = json.loads(dy("network", "inspect", net).out)[0]["Options"]["com.docker.network.bridge.name"]
    return info["State"]["Pid"], gw, bridge


@pytest.mark.parametrize("kind", ["default", "user", "internal"])
def test_a_container_cannot_reach_host_loopback_services(dy, busybox, name, listeners, kind):
    network = None
    if kind != "default":
        network = f"{name}-n"
        dy("network", "create", *(["--internal"] if kind == "internal" else []), network)
    pid, gw, bridge = container(dy, name, network)
    assert open(f"/proc/sys/net/ipv4/conf/{bridge}/route_localnet").read().strip() == "1"
    tag = f"dockyard net {bridge}"
    lo = listeners(["127.0.0.1", "127.0.0.2"])
    before = drops(tag)
    canary = "canary-" + uuid.uuid4().hex
    for addr in ("127.0.0.1", "127.0.0.2"):
        rawpeer(pid, "udp", gw, addr, lo.udp[addr], canary)
        assert rawpeer(pid, "syn", gw, addr, lo.tcp[addr], canary)["synack"] is False, addr
    assert settle(lo) == []
    assert drops(tag) - before >= 2 * (3 + 1)  # 3 datagrams and at least one SYN, per address
    # control: the same sender reaches a service on the gateway address (Docker allows it too)
    ctl = listeners([gw])
    rawpeer(pid, "udp", gw, gw, ctl.udp[gw], canary)
    assert rawpeer(pid, "syn", gw, gw, ctl.tcp[gw], canary)["synack"] is True
    # (the container's own kernel answers that SYN-ACK with a RST: no connection need follow)
    got = settle(ctl, want=3, timeout=5)
    assert [(g[0], g[3]) for g in got if g[0] == "udp"] == [("udp", canary.encode())] * 3
    assert lo.got == []


def test_a_port_published_on_loopback_serves_only_the_host(dy, busybox, name):
    """`-p 127.0.0.1:H:80` works from the host; a container on the same or another network
    aiming at 127.0.0.1:H (the DNAT rule would take it) gets nothing."""
    port = free_port()
    all_port = free_port()
    dy("network", "create", f"{name}-n")
    run_d(dy, f"{name}-srv", "sh", "-c", HTTPD,
          flags=("--network", f"{name}-n", "-p", f"127.0.0.1:{port}:80", "-p", f"{all_port}:80"))
    cid = dy("inspect", "-f", "{{.Id}}", f"{name}-srv").out.strip()
    assert fetch(f"http://127.0.0.1:{port}/").startswith("hello-")
    assert len(raw_rules(f"dockyard ctr {cid[:12]}")) == 1  # only the loopback one
    for peer, network in ((f"{name}-same", f"{name}-n"), (f"{name}-other", None)):
        pid, gw, bridge = container(dy, peer, network)
        tags = (f"dockyard net {bridge}", f"dockyard ctr {cid[:12]}")  # whichever comes first drops it
        before = sum(map(drops, tags))
        assert rawpeer(pid, "syn", gw, "127.0.0.1", port, "GET / HTTP/1.0\r\n\r\n")["synack"] is False
        assert sum(map(drops, tags)) > before
        # published ports on other addresses still work, from any network, and peers talk
        out = dy("exec", peer, "wget", "-qO-", f"http://{gw}:{all_port}/").out
        assert out.startswith("hello-")
    out = dy("exec", f"{name}-same", "wget", "-qO-", f"http://{name}-srv/").out
    assert out.startswith("hello-")
    dy("rm", "-f", f"{name}-srv")
    assert raw_rules(f"dockyard ctr {cid[:12]}") == []


@pytest.fixture
def outside_ns(name):
    """A network namespace of this test joined to the host by a plain veth pair (no bridge): a
    neighbour on a non-loopback interface. Yields (pid inside, host-side address, its ifname)."""
    from dockyard.network.ipam import choose_subnet, host_routes, to_str

    sub = choose_subnet(host_routes(), default=False)
    host_ip, peer_ip = to_str(sub.net + 1), to_str(sub.net + 2)
    host_if, peer_if = "dyt" + name[-8:], "dyp" + name[-8:]
    holder = subprocess.Popen(["unshare", "-n", "sleep", "300"])
    try:
        time.sleep(0.2)
        for cmd in (["ip", "link", "add", host_if, "type", "veth", "peer", "name", peer_if],
                    ["ip", "link", "set", peer_if, "netns", str(holder.pid)],
                    ["ip", "addr", "add", f"{host_ip}/{sub.prefix}", "dev", host_if],
                    ["ip", "link", "set", host_if, "up"],
                    ["nsenter", "-n", "-t", str(holder.pid), "ip", "addr", "add", f"{peer_ip}/{sub.prefix}", "dev",
                     peer_if],
                    ["nsenter", "-n", "-t", str(holder.pid), "ip", "link", "set", peer_if, "up"],
                    ["nsenter", "-n", "-t", str(holder.pid), "ip", "link", "set", "lo", "up"],
                    ["nsenter", "-n", "-t", str(holder.pid), "ip", "route", "add", "default", "via", host_ip]):
            subprocess.run(cmd, check=True, capture_output=True)
        yield holder.pid, host_ip, peer_if
    finally:
        holder.kill()
        holder.wait()
        subprocess.run(["ip", "link", "del", host_if], capture_output=True)
        assert not os.path.exists(f"/sys/class/net/{host_if}")


def test_a_loopback_published_port_is_dropped_from_other_interfaces(dy, busybox, name, outside_ns):
    """moby's filterPortMappedOnLoopback: a neighbour on another interface (here a veth into a
    namespace of this test) sends to 127.0.0.1:H; PREROUTING's DNAT would forward it to the
    container before the kernel's martian check. Published on all addresses, it does pass."""
    pid, host_ip, ifname = outside_ns
    port, all_port = free_port(), free_port()
    run_d(dy, name, "sh", "-c", HTTPD, flags=("-p", f"127.0.0.1:{port}:80", "-p", f"{all_port}:80"))
    cid = dy("inspect", "-f", "{{.Id}}", name).out.strip()
    assert fetch(f"http://127.0.0.1:{port}/").startswith("hello-")
    tag = f"dockyard ctr {cid[:12]}"
    before = drops(tag)
    assert rawpeer(pid, "syn", host_ip, "127.0.0.1", port, "x", ifname=ifname)["synack"] is False
    assert drops(tag) > before
    # control: the same neighbour, same sender, to the port published on every address
    assert rawpeer(pid, "syn", host_ip, host_ip, all_port, "GET / HTTP/1.0\r\n\r\n", ifname=ifname)["synack"] is True


def test_a_bridge_from_an_older_dockyard_gets_the_rules_on_next_use(dy, busybox, name, listeners):
    """An older dockyard left route_localnet=1 and no drop rule: open to the attack until the
    network is next used, which puts the rules in before anything else."""
    dy("network", "create", f"{name}-n")
    bridge = json.loads(dy("network", "inspect", f"{name}-n").out)[0]["Options"]["com.docker.network.bridge.name"]
    tag = f"dockyard net {bridge}"
    pid, gw, _ = container(dy, name, f"{name}-n")
    # make it look like an older dockyard's: no raw rule, no stamp
    subprocess.run(["iptables", "-w", "5", "-t", "raw", "-D", "DOCKYARD-PREROUTING", "-i", bridge, "-d", "127.0.0.0/8",
                    "-m", "comment", "--comment", tag, "-j", "DROP"], check=True)
    with open(f"/sys/class/net/{bridge}/ifalias", "w") as f:
        f.write("\n")
    assert raw_rules(tag) == []
    lo = listeners(["127.0.0.1"])
    canary = "canary-" + uuid.uuid4().hex
    rawpeer(pid, "udp", gw, "127.0.0.1", lo.udp["127.0.0.1"], canary)
    assert [g[3] for g in settle(lo, want=1, timeout=5)][:1] == [canary.encode()]  # the hole is real
    lo.got.clear()
    dy("run", "--rm", "--network", f"{name}-n", "busybox", "true")  # next use
    assert len(raw_rules(tag)) == 1
    assert open(f"/sys/class/net/{bridge}/ifalias").read().strip().startswith("dockyard-rules")
    assert open(f"/proc/sys/net/ipv4/conf/{bridge}/route_localnet").read().strip() == "1"
    rawpeer(pid, "udp", gw, "127.0.0.1", lo.udp["127.0.0.1"], canary)
    assert rawpeer(pid, "syn", gw, "127.0.0.1", lo.tcp["127.0.0.1"], canary)["synack"] is False
    assert settle(lo) == []


def test_removal_leaves_no_raw_rule(dy, busybox, name):
    dy("network", "create", f"{name}-n")
    bridge = json.loads(dy("network", "inspect", f"{name}-n").out)[0]["Options"]["com.docker.network.bridge.name"]
    cid = run_d(dy, name, "sleep", "300", flags=("--network", f"{name}-n", "-p", f"127.0.0.1:{free_port()}:80",
                                                 "-p", f"127.0.0.2:{free_port()}:81/udp"))
    assert len(raw_rules(f"dockyard ctr {cid[:12]}")) == 2 and len(raw_rules(f"dockyard net {bridge}")) == 1
    dy("rm", "-f", name)
    dy("network", "rm", f"{name}-n")
    assert raw_rules(f"dockyard ctr {cid[:12]}") == [] and raw_rules(f"dockyard net {bridge}") == []
    assert not os.path.exists(f"/sys/class/net/{bridge}")

