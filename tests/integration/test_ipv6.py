"""IPv6 on bridge networks and link-local addresses (issues 11 and 15), as dockerd 27 does them.

Containers on a `--ipv6` network reach each other over IPv6 (ping -6, by name through the
embedded DNS's AAAA answers), get the addresses asked for (--ip6, --link-local-ip), and the
documents show them as dockerd's do. The hostile tests check the host: a container on an IPv6
network reaches no other network's containers over IPv6 (our ip6tables isolation drop counts
it), nor a host service bound to ::1 with hand-made frames (our raw drop counts it; a control to
the gateway address arrives); removing the network leaves no ip6tables rule behind.

Traffic goes only to loopback and to addresses on bridges these tests' roots made.
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
from apiclient import api  # noqa: F401 - a fixture
from support import run_d

RAWPEER6 = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rawpeer6.py")

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/sys/net/ipv6") or
                                open("/proc/sys/net/ipv6/conf/all/disable_ipv6").read().strip() != "0",
                                reason="IPv6 is disabled on this host")


def inspect(dy, ref: str) -> dict:
    return json.loads(dy("inspect", ref).out)[0]


def net_inspect(dy, ref: str) -> dict:
    return json.loads(dy("network", "inspect", ref).out)[0]


def bridge_of(dy, net: str) -> str:
    return net_inspect(dy, net)["Options"]["com.docker.network.bridge.name"]


def ip6_rules(tag: str) -> list[str]:
    out = []
    for table in ("raw", "filter", "nat"):
        out += [f"{table}: {ln}" for ln in subprocess.run(["ip6tables", "-w", "5", "-t", table, "-S"],
                                                         capture_output=True, text=True, check=True).stdout.splitlines()
                if f'"{tag}"' in ln]
    return out


def counted(table: str, chain: str, tag: str) -> int:
    """Packets matched so far by our ip6tables rules tagged `tag` in `chain`."""
    out = subprocess.run(["ip6tables", "-w", "5", "-t", table, "-L", chain, "-n", "-v", "-x"], capture_output=True,
                         text=True, check=True).stdout
    return sum(int(ln.split()[0]) for ln in out.splitlines() if f"/* {tag} */" in ln)


def test_containers_ping6_each_other_by_name_and_documents_show_ipv6(dy, busybox, name):
    net = f"{name}-v6"
    dy("network", "create", "--ipv6", net)
    doc = net_inspect(dy, net)
    assert doc["EnableIPv6"] is True
    v4, v6 = doc["IPAM"]["Config"]
    assert ":" not in v4["Subnet"] and v6["Subnet"].endswith("::/64") and v6["Subnet"].startswith("fd")  # a ULA /64
    assert v6["Gateway"] == v6["Subnet"].split("/")[0] + "1"
    bridge = bridge_of(dy, net)
    addrs = subprocess.run(["ip", "-6", "addr", "show", "dev", bridge], capture_output=True, text=True).stdout
    assert f"{v6['Gateway']}/64" in addrs
    run_d(dy, f"{name}-a", "sleep", "300", flags=("--network", net))
    run_d(dy, f"{name}-b", "sleep", "300", flags=("--network", net))
    b = inspect(dy, f"{name}-b")["NetworkSettings"]
    ep = b["Networks"][net]
    assert ep["GlobalIPv6Address"].startswith(v6["Subnet"].split("::")[0]) and ep["GlobalIPv6PrefixLen"] == 64
    assert ep["IPv6Gateway"] == v6["Gateway"] and ep["IPAddress"]  # dual stack
    assert (b["GlobalIPv6Address"], b["IPv6Gateway"]) == (ep["GlobalIPv6Address"], v6["Gateway"])
    members = {c["Name"]: c for c in net_inspect(dy, net)["Containers"].values()}
    assert members[f"{name}-b"]["IPv6Address"] == ep["GlobalIPv6Address"] + "/64"
    assert members[f"{name}-b"]["IPv4Address"] == ep["IPAddress"] + "/" + v4["Subnet"].split("/")[1]
    # IPv6 by name: the embedded DNS answers AAAA (and still A)
    out = dy("exec", f"{name}-a", "ping", "-6", "-c", "2", "-W", "3", f"{name}-b").out
    assert f"from {ep['GlobalIPv6Address']}" in out and "2 packets received" in out
    aaaa = dy("exec", f"{name}-a", "nslookup", "-type=AAAA", f"{name}-b", "127.0.0.11").out
    assert ep["GlobalIPv6Address"] in aaaa and ep["IPAddress"] not in aaaa
    a = dy("exec", f"{name}-a", "nslookup", "-type=A", f"{name}-b", "127.0.0.11").out
    assert ep["IPAddress"] in a and ep["GlobalIPv6Address"] not in a
    # the default route is the gateway's, IPv6 is on in the namespace
    routes = dy("exec", f"{name}-a", "ip", "-6", "route").out
    assert f"default via {v6['Gateway']} dev eth0" in routes
    assert dy("exec", f"{name}-a", "cat", "/proc/sys/net/ipv6/conf/eth0/disable_ipv6").out.strip() == "0"
    assert dy("network", "ls", "--filter", f"name={net}", "--format", "{{.IPv6}}").out.strip() == "true"


def test_fixed_ip6_and_link_local_addresses(dy, busybox, name):
    net = f"{name}-v6"
    dy("network", "create", "--ipv6", "--subnet", "fd5e:11::/64", "--gateway", "fd5e:11::fe",
       "--subnet", "10.250.41.0/24", net)
    cfg = net_inspect(dy, net)["IPAM"]["Config"]
    assert cfg == [{"Subnet": "10.250.41.0/24", "Gateway": "10.250.41.1"},
                   {"Subnet": "fd5e:11::/64", "Gateway": "fd5e:11::fe"}]
    run_d(dy, name, "sleep", "300", flags=("--network", net, "--ip6", "fd5e:11:0:0::99", "--link-local-ip",
                                           "169.254.9.9", "--link-local-ip", "fe80::99"))
    ep = inspect(dy, name)["NetworkSettings"]["Networks"][net]
    assert ep["IPAMConfig"] == {"IPv6Address": "fd5e:11::99", "LinkLocalIPs": ["169.254.9.9", "fe80::99"]}
    assert ep["GlobalIPv6Address"] == "fd5e:11::99" and ep["IPv6Gateway"] == "fd5e:11::fe"
    addrs = dy("exec", name, "ip", "addr", "show", "eth0").out
    for a in ("inet 169.254.9.9/16", "inet6 fd5e:11::99/64", "inet6 fe80::99/64"):
        assert a in addrs, addrs
    assert "1 packets received" in dy("exec", name, "ping", "-6", "-c", "1", "-W", "3", "fd5e:11::fe").out
    hostname = inspect(dy, name)["Config"]["Hostname"]
    assert f"fd5e:11::99\t{hostname}\n" in dy("exec", name, "cat", "/etc/hosts").out  # its own, as Docker's
    dy("restart", "-t", "0", name)  # the next start gives it the same addresses again
    addrs = dy("exec", name, "ip", "addr", "show", "eth0").out
    assert "inet6 fd5e:11::99/64" in addrs and "inet6 fe80::99/64" in addrs
    assert "1 packets received" in dy("exec", name, "ping", "-6", "-c", "1", "-W", "3", "fd5e:11::fe").out
    # the same address twice: refused, nothing left of the second container's attempt
    p = dy("run", "-d", "--name", f"{name}-2", "--network", net, "--ip6", "fd5e:11::99", "busybox", "sleep", "9",
           check=False)
    assert p.returncode != 0 and "Address already in use: " in p.err and "fd5e:11::99" in p.err
    dy("rm", "-f", f"{name}-2")
    # bad input: clear errors, no traceback
    for flags, words in ((("--ip6", "fd00:dead::1"), "not in network"), (("--ip6", "zz::1"), "invalid IPv6 address"),
                         (("--link-local-ip", "169.254.1"), "invalid link-local IP address"),
                         (("--link-local-ip", "::"), "invalid link-local IP address")):
        p = dy("create", "--network", net, *flags, "busybox", "true", check=False)
        assert p.returncode == 1 and words in p.err and "Traceback" not in p.err, (flags, p.err)  # docker create's 1
    dy("network", "create", f"{name}-v4")
    p = dy("create", "--network", f"{name}-v4", "--ip6", "fd5e:11::7", "busybox", "true", check=False)
    assert p.returncode == 1 and "has no IPv6" in p.err
    p = dy("network", "create", "--ipv6", "--subnet", "fd5e:12::/64", "--subnet", "fd5e:13::/64", f"{name}-x",
           check=False)
    assert p.returncode != 0 and "one --subnet per address family" in p.err
    assert f"{name}-x" not in dy("network", "ls").out


def test_connect_with_ip6_to_a_running_container(dy, busybox, name):
    net = f"{name}-v6"
    dy("network", "create", "--ipv6", "--subnet", "fd5e:21::/64", net)
    run_d(dy, name, "sleep", "300", flags=("--network", "none",))
    dy("network", "disconnect", "none", name, check=False)
    run_d(dy, f"{name}-b", "sleep", "300")
    dy("network", "connect", "--ip6", "fd5e:21::42", "--link-local-ip", "fe80::42", net, f"{name}-b")
    ep = inspect(dy, f"{name}-b")["NetworkSettings"]["Networks"][net]
    assert ep["GlobalIPv6Address"] == "fd5e:21::42"
    assert ep["IPAMConfig"] == {"IPv6Address": "fd5e:21::42", "LinkLocalIPs": ["fe80::42"]}
    addrs = dy("exec", f"{name}-b", "ip", "addr").out
    assert "fd5e:21::42/64" in addrs and "fe80::42/64" in addrs
    assert "1 packets received" in dy("exec", f"{name}-b", "ping", "-6", "-c", "1", "-W", "3", "fd5e:21::1").out
    members = [c["IPv6Address"] for c in net_inspect(dy, net)["Containers"].values()]
    assert members == ["fd5e:21::42/64"]


def test_a_published_loopback_port_serves_a_dual_stack_container(dy, busybox, name):
    net = f"{name}-v6"
    dy("network", "create", "--ipv6", net)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    run_d(dy, name, "sh", "-c", "mkdir -p /www && echo hello-v6 > /www/index.html && exec httpd -f -p 80 -h /www",
          flags=("--network", net, "-p", f"127.0.0.1:{port}:80"))
    deadline = time.monotonic() + 10
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                assert r.read() == b"hello-v6\n"
                break
        except OSError:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    # and the container answers on its IPv6 address from a peer
    ip6 = inspect(dy, name)["NetworkSettings"]["Networks"][net]["GlobalIPv6Address"]
    out = dy("run", "--rm", "--network", net, "busybox", "wget", "-qO-", f"http://[{ip6}]/").out
    assert out == "hello-v6\n"


def test_ipv6_networks_are_isolated_from_each_other(dy, busybox, name):
    """A container on one IPv6 network pings (and connects to) a container on another: nothing
    gets through, and it is our ISOLATION-2 drop that took it (the host's counters)."""
    dy("network", "create", "--ipv6", f"{name}-a")
    dy("network", "create", "--ipv6", f"{name}-b")
    run_d(dy, f"{name}-x", "sleep", "300", flags=("--network", f"{name}-a"))
    run_d(dy, f"{name}-y", "sh", "-c", "nc -l -p 80 > /tmp/got; sleep 300", flags=("--network", f"{name}-b"))
    target = inspect(dy, f"{name}-y")["NetworkSettings"]["Networks"][f"{name}-b"]["GlobalIPv6Address"]
    tag_b = f"dockyard net {bridge_of(dy, f'{name}-b')}"
    before = counted("filter", "DOCKYARD-ISOLATION-2", tag_b)
    p = dy("exec", f"{name}-x", "ping", "-6", "-c", "2", "-W", "2", target, check=False)
    assert p.returncode != 0 and "0 packets received" in p.out
    p = dy("exec", f"{name}-x", "sh", "-c", f"echo canary | nc -w 2 {target} 80", check=False)
    assert p.returncode != 0
    assert counted("filter", "DOCKYARD-ISOLATION-2", tag_b) - before >= 3  # 2 echo requests, at least 1 SYN
    assert dy("exec", f"{name}-y", "cat", "/tmp/got").out == ""
    # control: each reaches its own gateway, so the drops are isolation, not a broken network
    gw_b = net_inspect(dy, f"{name}-b")["IPAM"]["Config"][1]["Gateway"]
    assert "1 packets received" in dy("exec", f"{name}-y", "ping", "-6", "-c", "1", "-W", "3", gw_b).out


class Listener6:
    """UDP services on the host bound to IPv6 addresses; what reaches them goes into `got`."""

    def __init__(self, addrs: list[str]) -> None:
        self.socks, self.port, self.got = [], {}, []
        for a in addrs:
            s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            s.bind((a, 0))
            self.port[a] = s.getsockname()[1]
            self.socks.append(s)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            for s in select.select(self.socks, [], [], 0.1)[0]:
                data, peer = s.recvfrom(2048)
                self.got.append((s.getsockname()[0], data))

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        for s in self.socks:
            s.close()


def test_a_container_cannot_reach_host_ipv6_loopback_services(dy, busybox, name):
    """Hand-made frames to the bridge's MAC addressed to ::1 (CAP_NET_RAW is in the default set):
    the host's ::1 listener gets nothing and our raw drop counts them; the same sender to the
    gateway's address arrives (INPUT is not filtered, as with Docker and dockyard's IPv4)."""
    net = f"{name}-v6"
    dy("network", "create", "--ipv6", net)
    cid = run_d(dy, name, "sleep", "300", flags=("--network", net))
    info = inspect(dy, cid)
    ep = info["NetworkSettings"]["Networks"][net]
    bridge = bridge_of(dy, net)
    with open(f"/sys/class/net/{bridge}/address") as f:
        gw_mac = f.read().strip()
    tag = f"dockyard net {bridge}"
    lst = Listener6(["::1", ep["IPv6Gateway"]])
    try:
        before = counted("raw", "DOCKYARD-PREROUTING", tag)
        canary = "canary-" + uuid.uuid4().hex

        def send(dst: str) -> None:
            p = subprocess.run(["nsenter", "-n", "-t", str(info["State"]["Pid"]), sys.executable, RAWPEER6, "eth0",
                                gw_mac, ep["GlobalIPv6Address"], dst, str(lst.port[dst]), canary],
                               capture_output=True, text=True, timeout=30)
            assert p.returncode == 0, p.stderr

        send("::1")
        time.sleep(1)
        assert lst.got == []
        assert counted("raw", "DOCKYARD-PREROUTING", tag) - before >= 3
        send(ep["IPv6Gateway"])
        deadline = time.monotonic() + 5
        while len(lst.got) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lst.got == [(ep["IPv6Gateway"], canary.encode())] * 3
    finally:
        lst.close()


def test_removal_and_reset_leave_no_ip6tables_rule(dy, busybox, name):
    dy("network", "create", "--ipv6", f"{name}-warm")  # our base chains, which stay (as IPv4's)
    dy("network", "rm", f"{name}-warm")
    before = subprocess.run(["ip6tables-save"], capture_output=True, text=True, check=True).stdout
    dy("network", "create", "--ipv6", "--internal", f"{name}-a")
    dy("network", "create", "--ipv6", f"{name}-b")
    bridges = [bridge_of(dy, f"{name}-a"), bridge_of(dy, f"{name}-b")]
    run_d(dy, name, "sleep", "300", flags=("--network", f"{name}-b"))
    for b in bridges:
        assert ip6_rules(f"dockyard net {b}")
    internal = ip6_rules(f"dockyard net {bridges[0]}")
    assert not any("MASQUERADE" in r and "! -o" in r for r in internal)  # --internal: no way out
    dy("rm", "-f", name)
    dy("network", "rm", f"{name}-a")
    assert ip6_rules(f"dockyard net {bridges[0]}") == []
    dy("system", "reset", "-f")
    assert ip6_rules(f"dockyard net {bridges[1]}") == []
    assert not any(os.path.exists(f"/sys/class/net/{b}") for b in bridges)

    def rules(text: str) -> list[str]:
        return sorted(ln for ln in text.splitlines() if ln.startswith("-A") and "dockyard" in ln)

    after = subprocess.run(["ip6tables-save"], capture_output=True, text=True, check=True).stdout
    assert rules(after) == rules(before)


def test_the_api_creates_ipv6_networks_and_endpoints_as_dockerd(api, dy):
    """docker-py's shapes: NetworkCreate with EnableIPv6 and an IPAM.Config entry per family,
    ContainerCreate with IPAMConfig.IPv6Address and LinkLocalIPs, NetworkConnect with both."""
    body = {"Name": "apiv6", "EnableIPv6": True,
            "IPAM": {"Driver": "default", "Config": [{"Subnet": "10.250.61.0/24", "Gateway": "10.250.61.1"},
                                                      {"Subnet": "fd5e:61::/64", "Gateway": "fd5e:61::1"}]}}
    nid = api.json("POST", "/v1.44/networks/create", body, expect=201)["Id"]
    doc = api.json("GET", f"/v1.44/networks/{nid}")
    assert doc["EnableIPv6"] is True and doc["IPAM"]["Config"] == body["IPAM"]["Config"]
    assert doc == net_inspect(dy, "apiv6")
    create = {"Image": "busybox", "Cmd": ["sleep", "300"], "HostConfig": {"NetworkMode": "apiv6"},
              "NetworkingConfig": {"EndpointsConfig": {"apiv6": {"IPAMConfig": {
                  "IPv6Address": "fd5e:61::10", "LinkLocalIPs": ["169.254.61.10", "fe80::10"]}}}}}
    cid = api.json("POST", "/v1.44/containers/create?name=v6box", create, expect=201)["Id"]
    before = api.json("GET", f"/v1.44/containers/{cid}/json")["NetworkSettings"]["Networks"]["apiv6"]
    assert before["IPAMConfig"] == {"IPv6Address": "fd5e:61::10", "LinkLocalIPs": ["169.254.61.10", "fe80::10"]}
    api.json("POST", f"/v1.44/containers/{cid}/start", expect=204)
    ep = api.json("GET", f"/v1.44/containers/{cid}/json")["NetworkSettings"]["Networks"]["apiv6"]
    assert (ep["GlobalIPv6Address"], ep["GlobalIPv6PrefixLen"], ep["IPv6Gateway"]) == ("fd5e:61::10", 64, "fd5e:61::1")
    # connect a second container with a fixed IPv6 address
    other = api.json("POST", "/v1.44/containers/create?name=v6two", {"Image": "busybox", "Cmd": ["sleep", "300"]},
                     expect=201)["Id"]
    api.json("POST", f"/v1.44/containers/{other}/start", expect=204)
    api.json("POST", "/v1.44/networks/apiv6/connect",
             {"Container": other, "EndpointConfig": {"IPAMConfig": {"IPv6Address": "fd5e:61::20"}}})
    assert "1 packets received" in dy("exec", "v6two", "ping", "-6", "-c", "1", "-W", "3", "fd5e:61::10").out
    members = {c["Name"]: c["IPv6Address"] for c in api.json("GET", "/v1.44/networks/apiv6")["Containers"].values()}
    assert members == {"v6box": "fd5e:61::10/64", "v6two": "fd5e:61::20/64"}
    status, _, out = api.request("POST", "/v1.44/networks/apiv6/connect",
                                 {"Container": "v6box", "EndpointConfig": {"IPAMConfig": {"IPv6Address": "zz"}}})
    assert status == 400 and "invalid IPv6 address" in json.loads(out)["message"]
    for ref in (cid, other):
        api.request("DELETE", f"/v1.44/containers/{ref}?force=1")
    api.json("DELETE", "/v1.44/networks/apiv6", expect=204)


COMPOSE = """
services:
  web:
    image: busybox:latest
    command: ["sleep", "300"]
    networks:
      front:
        ipv6_address: fd5e:71::10
        link_local_ips: ["fe80::71"]
  client:
    image: busybox:latest
    command: ["sleep", "300"]
    networks: [front]
networks:
  front:
    enable_ipv6: true
    ipam:
      config:
        - subnet: 10.250.71.0/24
        - subnet: fd5e:71::/64
"""


def test_compose_enable_ipv6_and_ipv6_address(dy, busybox, tmp_path, name):
    f = tmp_path / "compose.yaml"
    f.write_text(COMPOSE)

    def compose(*args, check=True):
        return dy("compose", "-f", str(f), "-p", name, "--progress", "plain", *args, check=check, timeout=90)

    try:
        compose("up", "-d")
        net = net_inspect(dy, f"{name}_front")
        assert net["EnableIPv6"] is True
        assert [c["Subnet"] for c in net["IPAM"]["Config"]] == ["10.250.71.0/24", "fd5e:71::/64"]
        web = inspect(dy, f"{name}-web-1")["NetworkSettings"]["Networks"][f"{name}_front"]
        assert web["GlobalIPv6Address"] == "fd5e:71::10"
        assert web["IPAMConfig"] == {"IPv6Address": "fd5e:71::10", "LinkLocalIPs": ["fe80::71"]}
        out = dy("exec", f"{name}-client-1", "ping", "-6", "-c", "1", "-W", "3", "web").out
        assert "from fd5e:71::10" in out and "1 packets received" in out
    finally:
        compose("down", "-t", "0", check=False)
    assert f"{name}_front" not in dy("network", "ls").out


LISTEN6 = """
import socket, sys, time
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(("::", int(sys.argv[1])))
s.settimeout(0.2)
print("ready", flush=True)
end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    try:
        data, peer = s.recvfrom(2048)
    except socket.timeout:
        continue
    print(peer[0], data.decode(errors="replace"), flush=True)
"""


@pytest.fixture
def outside6(name):
    """A namespace of this test joined to the host by a veth pair with IPv6 addresses (a host on
    another link, as the LAN would be). Yields (pid inside, its address)."""
    host_if, peer_if = "dyu" + name[-8:], "dyq" + name[-8:]
    holder = subprocess.Popen(["unshare", "-n", "sleep", "300"])
    try:
        time.sleep(0.2)
        ns = ["nsenter", "-n", "-t", str(holder.pid)]
        for cmd in (["ip", "link", "add", host_if, "type", "veth", "peer", "name", peer_if],
                    ["ip", "link", "set", peer_if, "netns", str(holder.pid)],
                    ["ip", "-6", "addr", "add", "fd5e:a0::1/64", "dev", host_if, "nodad"],
                    ["ip", "link", "set", host_if, "up"],
                    [*ns, "ip", "-6", "addr", "add", "fd5e:a0::2/64", "dev", peer_if, "nodad"],
                    [*ns, "ip", "link", "set", peer_if, "up"],
                    [*ns, "ip", "link", "set", "lo", "up"],
                    [*ns, "ip", "-6", "route", "add", "default", "via", "fd5e:a0::1"]):
            subprocess.run(cmd, check=True, capture_output=True)
        yield holder.pid, "fd5e:a0::2"
    finally:
        holder.kill()
        holder.wait()
        subprocess.run(["ip", "link", "del", host_if], capture_output=True)
        assert not os.path.exists(f"/sys/class/net/{host_if}")


def test_an_ipv4_only_network_routes_no_ipv6(dy, busybox, name, outside6):
    """Once an IPv6 network exists the host forwards IPv6. A container on an IPv4-only network has
    no IPv6 rules guarding its bridge, so that bridge has IPv6 off: a hand-made IPv6 frame to the
    bridge's MAC, addressed to a host on another link, never arrives there. The same sender on an
    IPv6 network does get through (masqueraded), so "nothing arrived" means "blocked"."""
    pid_out, addr_out = outside6
    dy("network", "create", "--ipv6", f"{name}-v6")
    dy("network", "create", f"{name}-v4")
    run_d(dy, f"{name}-6", "sleep", "300", flags=("--network", f"{name}-v6"))
    run_d(dy, f"{name}-4", "sleep", "300", flags=("--network", f"{name}-v4"))
    br4 = bridge_of(dy, f"{name}-v4")
    assert open(f"/proc/sys/net/ipv6/conf/{br4}/disable_ipv6").read().strip() == "1"
    assert open(f"/proc/sys/net/ipv6/conf/{bridge_of(dy, f'{name}-v6')}/disable_ipv6").read().strip() == "0"
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind(("::1", 0))
    port = s.getsockname()[1]
    s.close()
    listener = subprocess.Popen(["nsenter", "-n", "-t", str(pid_out), sys.executable, "-c", LISTEN6, str(port), "8"],
                                stdout=subprocess.PIPE, text=True)
    try:
        assert listener.stdout.readline().strip() == "ready"

        def send(ctr: str, net: str, src: str, payload: str) -> None:
            info = inspect(dy, ctr)
            with open(f"/sys/class/net/{bridge_of(dy, net)}/address") as f:
                mac = f.read().strip()
            p = subprocess.run(["nsenter", "-n", "-t", str(info["State"]["Pid"]), sys.executable, RAWPEER6, "eth0",
                                mac, src, addr_out, str(port), payload], capture_output=True, text=True, timeout=30)
            assert p.returncode == 0, p.stderr

        send(f"{name}-4", f"{name}-v4", "fd5e:bad::4", "from-v4-only")
        src6 = inspect(dy, f"{name}-6")["NetworkSettings"]["Networks"][f"{name}-v6"]["GlobalIPv6Address"]
        send(f"{name}-6", f"{name}-v6", src6, "from-v6")
        out, _ = listener.communicate(timeout=30)
    finally:
        if listener.poll() is None:
            listener.kill()
            listener.wait()
    got = out.splitlines()
    assert "from-v4-only" not in out
    assert got and all(line == "fd5e:a0::1 from-v6" for line in got), got  # masqueraded to the host's address
