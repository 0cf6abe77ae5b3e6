"""Bridge networks, name resolution, isolation and published ports, with real interfaces and rules.

Traffic goes only to 127.0.0.1 and to addresses on the bridges these tests' dockyard roots made.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
import urllib.request

import pytest
from support import monitors_of, no_traceback, run_d, wait_for

HTTPD = "mkdir -p /www && echo hello-$(hostname) > /www/index.html && exec httpd -f -p 80 -h /www"


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def fetch(url: str, timeout: float = 10.0) -> str:
    """GET with a real HTTP client, retried until the server in the container answers."""
    assert url.startswith("http://127.0.0.1:") or url.startswith("http://10.2"), url  # our own addresses only
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def links(prefix: str) -> list[str]:
    return [n for n in os.listdir("/sys/class/net") if n.startswith(prefix)]


def rules(tag: str) -> list[str]:
    out = []
    for table in ("raw", "filter", "nat"):
        p = subprocess.run(["iptables", "-w", "5", "-t", table, "-S"], capture_output=True, text=True, check=True)
        out += [ln for ln in p.stdout.splitlines() if tag in ln]
    return out


def inspect(dy, name: str, fmt: str) -> str:
    return dy("inspect", "-f", fmt, name).out.strip()


# -- published ports ----------------------------------------------------------------------------------


def test_published_port_serves_the_host_and_goes_away_with_the_container(dy, busybox, name):
    port = free_port()
    cid = run_d(dy, name, "sh", "-c", HTTPD, flags=("-p", f"{port}:80"))
    assert fetch(f"http://127.0.0.1:{port}/").strip() == f"hello-{cid[:12]}"
    assert dy("port", name).out == f"80/tcp -> 0.0.0.0:{port}\n"
    assert dy("port", name, "80").out == f"0.0.0.0:{port}\n"
    assert f"0.0.0.0:{port}->80/tcp" in dy("ps").out
    assert json.loads(inspect(dy, name, "{{json .NetworkSettings.Ports}}")) == \
        {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": str(port)}]}
    # the DNAT path a packet from another host takes (PREROUTING), from a container on the bridge
    gw = inspect(dy, name, "{{.NetworkSettings.Gateway}}")
    out = dy("run", "--rm", "busybox", "wget", "-qO-", f"http://{gw}:{port}/").out
    assert out.strip() == f"hello-{cid[:12]}"
    # the port is held: nobody else may bind it while the container runs
    with pytest.raises(OSError):
        s = socket.socket()
        try:
            s.bind(("0.0.0.0", port))
        finally:
            s.close()
    dy("stop", "-t", "1", name)
    assert rules(f"dockyard ctr {cid[:12]}") == []
    s = socket.socket()
    s.bind(("0.0.0.0", port))  # released
    s.close()
    dy("start", name)  # published again on start
    assert fetch(f"http://127.0.0.1:{port}/").strip() == f"hello-{cid[:12]}"
    dy("rm", "-f", name)
    assert rules(f"dockyard ctr {cid[:12]}") == []


def test_publish_on_one_host_address_and_random_ports(dy, busybox, name):
    port = free_port()
    run_d(dy, name, "sh", "-c", HTTPD, flags=("-p", f"127.0.0.1:{port}:80", "-p", "81"))
    assert fetch(f"http://127.0.0.1:{port}/").startswith("hello-")
    out = dy("port", name).out
    assert f"80/tcp -> 127.0.0.1:{port}" in out
    random_port = int(re.search(r"81/tcp -> 0\.0\.0\.0:(\d+)", out).group(1))
    assert random_port > 1024
    cid = dy("inspect", "-f", "{{.Id}}", name).out.strip()
    assert any(f"-d 127.0.0.1/32" in r and f"--dport {port}" in r for r in rules(f"dockyard ctr {cid[:12]}"))


def test_publish_all_takes_the_exposed_ports(dy, busybox, name, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nEXPOSE 80 9000/udp\n")
    dy("build", "-q", "-t", "exposer", str(ctx))
    dy("run", "-d", "--name", name, "-P", "exposer", "sh", "-c", HTTPD)
    ports = json.loads(inspect(dy, name, "{{json .NetworkSettings.Ports}}"))
    assert set(ports) == {"80/tcp", "9000/udp"}
    assert fetch(f"http://127.0.0.1:{ports['80/tcp'][0]['HostPort']}/").startswith("hello-")


def test_udp_port(dy, busybox, name):
    """busybox has no UDP server to answer, so this checks the rule and the held port."""
    port = free_port()
    cid = run_d(dy, name, "sleep", "300", flags=("-p", f"{port}:5353/udp"))
    assert dy("port", name).out == f"5353/udp -> 0.0.0.0:{port}\n"
    ip = inspect(dy, name, "{{.NetworkSettings.IPAddress}}")
    assert any(f"-p udp -m udp --dport {port} " in r and f"--to-destination {ip}:5353" in r
               for r in rules(f"dockyard ctr {cid[:12]}"))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s, pytest.raises(OSError):
        s.bind(("0.0.0.0", port))


def test_a_taken_port_is_a_clear_error_and_starts_nothing(dy, busybox, name):
    holder = socket.socket()
    holder.bind(("0.0.0.0", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        p = dy("run", "-d", "--name", name, "-p", f"{port}:80", "busybox", "sleep", "60", check=False)
        assert p.returncode == 125, p.err
        no_traceback(p)
        assert f"Bind for 0.0.0.0:{port} failed: port is already allocated" in p.err
        assert inspect(dy, name, "{{.State.Status}}") != "running"
        assert [r for r in rules("dockyard ctr") if f"--dport {port} " in r] == []
        assert links("dv" + inspect(dy, name, "{{.Id}}")[:10]) == []
    finally:
        holder.close()


def test_bad_publish_specs(dy, busybox):
    for spec, msg in (("99999:80", "invalid hostPort: 99999"), ("80/sctp", "invalid proto"),
                      ("1.2.3:80:80", "invalid IP"),
                      ("a:b:c:d", "invalid publish spec")):
        p = dy("run", "--rm", "-p", spec, "busybox", "true", check=False)
        assert p.returncode == 125 and msg in p.err, (spec, p.err)
        no_traceback(p)
    assert dy("ps", "-aq").out == ""


# -- user networks, names, isolation ---------------------------------------------------------------


def test_containers_on_one_network_find_each_other_by_name_and_alias(dy, busybox, name):
    dy("network", "create", f"{name}-net")
    cid = run_d(dy, f"{name}-web", "sh", "-c", HTTPD, flags=("--network", f"{name}-net", "--network-alias", "www"))
    for host in (f"{name}-web", "www", cid[:12]):
        out = dy("run", "--rm", "--network", f"{name}-net", "busybox", "sh", "-c",
                 f"for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://{host}/ && break; sleep 0.2; done").out
        assert out.strip() == f"hello-{cid[:12]}", host


def test_names_follow_new_and_restarted_containers(dy, busybox, name):
    dy("network", "create", f"{name}-net")
    run_d(dy, f"{name}-client", "sleep", "300", flags=("--network", f"{name}-net"))
    run_d(dy, f"{name}-late", "sleep", "300", flags=("--network", f"{name}-net"))
    hosts = dy("exec", f"{name}-client", "cat", "/etc/hosts").out
    ip = inspect(dy, f"{name}-late", "{{.NetworkSettings.Networks." + f"{name}-net".replace("-", "_") + ".IPAddress}}") \
        if False else json.loads(inspect(dy, f"{name}-late", "{{json .NetworkSettings.Networks}}"))[f"{name}-net"]["IPAddress"]
    assert re.search(rf"^{re.escape(ip)}\s+{name}-late\b", hosts, re.M), hosts
    dy("exec", f"{name}-client", "ping", "-c", "1", "-W", "2", f"{name}-late")
    dy("stop", "-t", "0", f"{name}-late")
    assert f"{name}-late" not in dy("exec", f"{name}-client", "cat", "/etc/hosts").out
    dy("start", f"{name}-late")
    assert f"{name}-late" in dy("exec", f"{name}-client", "cat", "/etc/hosts").out
    dy("exec", f"{name}-client", "ping", "-c", "1", "-W", "2", f"{name}-late")


def test_different_networks_cannot_reach_each_other(dy, busybox, name):
    dy("network", "create", f"{name}-a")
    dy("network", "create", f"{name}-b")
    run_d(dy, f"{name}-srv", "sh", "-c", HTTPD, flags=("--network", f"{name}-a"))
    ip = json.loads(inspect(dy, f"{name}-srv", "{{json .NetworkSettings.Networks}}"))[f"{name}-a"]["IPAddress"]
    same = dy("run", "--rm", "--network", f"{name}-a", "busybox", "sh", "-c",
              f"for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://{ip}/ && break; sleep 0.2; done").out
    assert same.startswith("hello-")
    p = dy("run", "--rm", "--network", f"{name}-b", "busybox", "sh", "-c",
           f"ping -c 1 -W 1 {ip}; nc -w 2 {ip} 80 </dev/null && echo CONNECTED; getent hosts {name}-srv || "
           f"ping -c 1 -W 1 {name}-srv", check=False)
    assert "1 packets received" not in p.out and "CONNECTED" not in p.out
    assert "bad address" in p.err or "bad address" in p.out


def test_internal_network_has_no_route_out(dy, busybox, name):
    dy("network", "create", "--internal", f"{name}-int")
    dy("network", "create", f"{name}-ext")
    run_d(dy, f"{name}-other", "sleep", "300", flags=("--network", f"{name}-ext"))
    other = json.loads(inspect(dy, f"{name}-other", "{{json .NetworkSettings.Networks}}"))[f"{name}-ext"]["IPAddress"]
    run_d(dy, f"{name}-a", "sleep", "300", flags=("--network", f"{name}-int"))
    out = dy("run", "--rm", "--network", f"{name}-int", "busybox", "sh", "-c",
             f"ip route; ping -c 1 -W 1 {name}-a && echo PEER-OK; ping -c 1 -W 1 {other} || echo NO-ROUTE").out
    assert "default" not in out and "PEER-OK" in out and "NO-ROUTE" in out
    assert json.loads(dy("network", "inspect", f"{name}-int").out)[0]["Internal"] is True


def test_connect_and_disconnect_a_running_container(dy, busybox, name):
    dy("network", "create", f"{name}-n2")
    run_d(dy, f"{name}-srv", "sh", "-c", HTTPD, flags=("--network", f"{name}-n2"))
    run_d(dy, f"{name}-c", "sleep", "300")  # on the default bridge
    dy("network", "connect", "--alias", "extra", f"{name}-n2", f"{name}-c")
    out = dy("exec", f"{name}-c", "sh", "-c", "ls /sys/class/net; wget -qO- http://" + f"{name}-srv/").out
    assert "eth1" in out and "hello-" in out
    nets = json.loads(inspect(dy, f"{name}-c", "{{json .NetworkSettings.Networks}}"))
    assert set(nets) == {"bridge", f"{name}-n2"} and nets[f"{name}-n2"]["IPAddress"]
    assert "extra" in dy("exec", f"{name}-srv", "cat", "/etc/hosts").out
    dy("network", "disconnect", f"{name}-n2", f"{name}-c")
    assert "eth1" not in dy("exec", f"{name}-c", "ls", "/sys/class/net").out
    assert "extra" not in dy("exec", f"{name}-srv", "cat", "/etc/hosts").out
    p = dy("network", "disconnect", f"{name}-n2", f"{name}-c", check=False)
    assert p.returncode != 0 and "is not connected" in p.err


def test_fixed_ip_and_container_network_mode(dy, busybox, name):
    dy("network", "create", "--subnet", "10.231.7.0/24", f"{name}-fixed")
    run_d(dy, f"{name}-a", "sleep", "300", flags=("--network", f"{name}-fixed", "--ip", "10.231.7.77"))
    out = dy("run", "--rm", f"--network=container:{name}-a", "busybox", "ip", "-4", "-o", "addr").out
    assert "10.231.7.77/24" in out
    p = dy("run", "--rm", "--network", f"{name}-fixed", "--ip", "10.231.7.77", "busybox", "true", check=False)
    assert p.returncode == 125 and "Address already in use" in p.err
    no_traceback(p)
    net = json.loads(dy("network", "inspect", f"{name}-fixed").out)[0]
    assert net["IPAM"]["Config"] == [{"Subnet": "10.231.7.0/24", "Gateway": "10.231.7.1"}]
    assert [c["IPv4Address"] for c in net["Containers"].values()] == ["10.231.7.77/24"]


def test_network_commands_and_their_errors(dy, busybox, name):
    nid = dy("network", "create", "--label", "team=a", f"{name}-x").out.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", nid)
    ls = dy("network", "ls").out
    assert ls.splitlines()[0].split() == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
    assert f"{name}-x" in ls and "bridge" in ls and "host" in ls and "none" in ls
    assert dy("network", "ls", "-q", "--filter", f"name={name}-x").out.strip() == nid[:12]
    bridge = json.loads(dy("network", "inspect", f"{name}-x").out)[0]["Options"]["com.docker.network.bridge.name"]
    assert bridge in links("dy-")
    for args, msg in ((("network", "create", f"{name}-x"), "already exists"),
                      (("network", "create", "--subnet", "10.1.2.3/24", f"{name}-y"), "host bits"),
                      (("network", "create", "bridge"), "pre-defined"),
                      (("network", "rm", "bridge"), "pre-defined"),
                      (("network", "rm", f"{name}-nope"), "not found"),
                      (("run", "--rm", "--network", f"{name}-nope", "busybox", "true"), "network " + f"{name}-nope not found"),
                      (("run", "--rm", "--network-alias", "a", "busybox", "true"), "user defined networks")):
        p = dy(*args, check=False)
        assert p.returncode != 0 and msg in p.err, (args, p.err)
        no_traceback(p)
    run_d(dy, f"{name}-user", "true", flags=("--network", f"{name}-x"))
    p = dy("network", "rm", f"{name}-x", check=False)
    assert p.returncode == 1 and "has active endpoints" in p.err
    dy("rm", "-f", f"{name}-user")
    assert dy("network", "rm", f"{name}-x").out.strip() == f"{name}-x"
    assert bridge not in links("dy-") and rules(f"dockyard net {bridge}") == []
    dy("network", "create", f"{name}-p")
    dy("network", "create", "--label", "keep=yes", f"{name}-k")
    # --filter: until (created before), label, label! (docker's keys); the others are refused
    assert dy("network", "prune", "-f", "--filter", "until=1h").out.strip() == ""
    assert dy("network", "prune", "-f", "--filter", "label=keep").out.split() == ["Deleted", "Networks:", f"{name}-k"]
    dy("network", "create", "--label", "keep=yes", f"{name}-k")
    out = dy("network", "prune", "-f", "--filter", "label!=keep=yes").out
    assert f"{name}-p" in out and f"{name}-k" not in out
    for flt, words in (("driver=bridge", "Invalid filter 'driver'"), ("until=later", "failed to parse value as time or duration"),
                       ("label", "bad format of filter")):
        p = dy("network", "prune", "-f", "--filter", flt, check=False)
        assert p.returncode == 1 and words in p.err, p.err
        no_traceback(p)
    assert f"{name}-k" in dy("network", "prune", "-f", "--filter", f"until={time.time() + 5:.0f}").out
    assert f"{name}-p" not in dy("network", "ls").out


def test_forward_policy_drop_as_docker_sets_it(dy, busybox, name):
    """dockerd sets FORWARD to DROP: bridged and routed container traffic must still flow."""
    policy = subprocess.run(["iptables", "-S", "FORWARD"], capture_output=True, text=True).stdout.splitlines()[0]
    subprocess.run(["iptables", "-P", "FORWARD", "DROP"], check=True)
    try:
        dy("network", "create", f"{name}-n")
        port = free_port()
        run_d(dy, f"{name}-srv", "sh", "-c", HTTPD, flags=("--network", f"{name}-n", "-p", f"{port}:80"))
        out = dy("run", "--rm", "--network", f"{name}-n", "busybox", "sh", "-c",
                 f"for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://{name}-srv/ && break; sleep 0.2; done").out
        assert out.startswith("hello-")
        assert fetch(f"http://127.0.0.1:{port}/").startswith("hello-")
    finally:
        subprocess.run(["iptables", "-P", "FORWARD", policy.split()[-1]], check=True)


def test_nothing_is_left_after_rm_f_and_network_rm(dy, busybox, name):
    dy("network", "create", f"{name}-n")
    ids = [run_d(dy, f"{name}-{i}", "sleep", "300", flags=("--network", f"{name}-n", "-p", f"{free_port()}:80"))
           for i in range(3)]
    dy("rm", "-f", *ids)
    for cid in ids:
        wait_for(lambda: links("dv" + cid[:10]) == [], timeout=5, what="veth pairs to go")
        assert rules(f"dockyard ctr {cid[:12]}") == []
    assert dy("network", "inspect", "-f", "{{len .Containers}}", f"{name}-n").out.strip() == "0"
    dy("network", "rm", f"{name}-n")
    assert rules(f"dockyard net dy-") == [] or all(f"{name}" not in r for r in rules("dockyard net"))


def test_a_killed_monitor_leaves_nothing_after_stop_and_rm(dy, busybox, name):
    port = free_port()
    cid = run_d(dy, name, "sh", "-c", HTTPD, flags=("-p", f"{port}:80"))
    assert fetch(f"http://127.0.0.1:{port}/").startswith("hello-")
    monitors = monitors_of(dy.root)
    assert len(monitors) == 1
    os.kill(monitors[0], 9)  # the container keeps running, with nobody to give its network back
    dy("stop", "-t", "1", name)
    assert rules(f"dockyard ctr {cid[:12]}") == []
    wait_for(lambda: links("dv" + cid[:10]) == [], timeout=5, what="veth pairs to go")
    dy("start", name)
    assert fetch(f"http://127.0.0.1:{port}/").startswith("hello-")
    assert len(rules(f"dockyard ctr {cid[:12]}")) == 1
    os.kill(json.loads(dy("inspect", name).out)[0]["State"]["Pid"], 9)
    dy("rm", "-f", name)
    wait_for(lambda: links("dv" + cid[:10]) == [], timeout=5, what="veth pairs to go")
    assert rules(f"dockyard ctr {cid[:12]}") == []


def test_system_prune_repairs_what_a_crash_left(dy, busybox, name):
    """Monitor and container both killed: nobody gave the network back; `system prune` does."""
    dy("network", "create", f"{name}-n")
    dy("network", "create", f"{name}-unused")
    cid = run_d(dy, name, "sleep", "300", flags=("--network", f"{name}-n", "-p", f"{free_port()}:80"))
    pid = json.loads(dy("inspect", name).out)[0]["State"]["Pid"]
    for mon in monitors_of(dy.root):
        os.kill(mon, 9)
    os.kill(pid, 9)
    wait_for(lambda: not os.path.exists(f"/proc/{pid}"), timeout=5, what="the container to die")
    assert len(rules(f"dockyard ctr {cid[:12]}")) == 1  # left behind
    assert re.search(r"Exited \(137\)\s", dy("ps", "-a").out)
    out = dy("system", "prune", "-f").out
    assert cid in out and f"{name}-n" in out and f"{name}-unused" in out and "Total reclaimed space" in out
    assert rules(f"dockyard ctr {cid[:12]}") == []
    assert dy("ps", "-aq").out == "" and "bridge" in dy("network", "ls").out
    wait_for(lambda: links("dv" + cid[:10]) == [], timeout=5, what="veth pairs to go")


def dns_servers() -> list[int]:
    out = []
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() == "dockyard-dns" and not open(f"/proc/{pid}/stat").read().split(") ")[1].startswith("Z"):
                    out.append(int(pid))
        except (OSError, IndexError):
            continue
    return out


def test_embedded_dns_answers_container_names_on_user_networks(dy, busybox, name):
    before = set(dns_servers())
    dy("network", "create", f"{name}-n")
    run_d(dy, f"{name}-db", "sleep", "300", flags=("--network", f"{name}-n", "--network-alias", "database"))
    ip = json.loads(inspect(dy, f"{name}-db", "{{json .NetworkSettings.Networks}}"))[f"{name}-n"]["IPAddress"]
    out = dy("run", "--rm", "--network", f"{name}-n", "busybox", "sh", "-c",
             f"cat /etc/resolv.conf; nslookup {name}-db; nslookup database").out
    assert "nameserver 127.0.0.11" in out and "options ndots:0" in out
    assert out.count(f"Address: {ip}") == 2, out
    # the answer follows a restart to the new address, with no file rewritten in the asker
    run_d(dy, f"{name}-blocker", "sleep", "300", flags=("--network", f"{name}-n"))
    dy("stop", "-t", "0", f"{name}-db")
    dy("run", "-d", "--name", f"{name}-taker", "--network", f"{name}-n", "--ip", ip, "busybox", "sleep", "300")
    dy("start", f"{name}-db")
    new_ip = json.loads(inspect(dy, f"{name}-db", "{{json .NetworkSettings.Networks}}"))[f"{name}-n"]["IPAddress"]
    assert new_ip != ip
    out = dy("exec", f"{name}-blocker", "nslookup", "database").out
    assert f"Address: {new_ip}" in out and f"Address: {ip}" not in out
    # the default bridge has no embedded DNS, as with docker
    assert "127.0.0.11" not in dy("run", "--rm", "busybox", "cat", "/etc/resolv.conf").out
    dy("rm", "-f", f"{name}-db", f"{name}-blocker", f"{name}-taker")
    wait_for(lambda: set(dns_servers()) <= before, timeout=5, what="the DNS servers to go with their containers")


def test_a_published_port_is_reachable_from_another_network(dy, busybox, name):
    dy("network", "create", f"{name}-a")
    port = free_port()
    run_d(dy, f"{name}-srv", "sh", "-c", HTTPD, flags=("--network", f"{name}-a", "-p", f"{port}:80"))
    gw = json.loads(dy("network", "inspect", f"{name}-a").out)[0]["IPAM"]["Config"][0]["Gateway"]
    fetch(f"http://127.0.0.1:{port}/")
    out = dy("run", "--rm", "busybox", "wget", "-qO-", f"http://{gw}:{port}/").out
    assert out.startswith("hello-")


def test_a_restarted_container_is_attached_again(dy, busybox, name):
    """The restart policy's new run gets an address, its published port and one DNAT rule again."""
    port = free_port()
    cid = run_d(dy, name, "sh", "-c", HTTPD, flags=("--restart", "always", "-p", f"{port}:80"))
    assert fetch(f"http://127.0.0.1:{port}/").startswith("hello-")
    pid = json.loads(dy("inspect", name).out)[0]["State"]["Pid"]
    os.kill(pid, 9)
    wait_for(lambda: json.loads(dy("inspect", name).out)[0]["State"]["Pid"] not in (0, pid) and
             json.loads(dy("inspect", name).out)[0]["RestartCount"] == 1, timeout=10, what="the restart")
    assert fetch(f"http://127.0.0.1:{port}/").startswith("hello-")
    assert len(rules(f"dockyard ctr {cid[:12]}")) == 1
    assert f"0.0.0.0:{port}->80/tcp" in dy("ps").out


def test_a_network_name_is_any_printable_text_but_a_slash(dy, busybox):
    """dockerd takes `docker network create "test 01"` (docker-py's
    test_create_remove_network_with_space_in_name) and non-ASCII names; a name with / could never
    be named in an API path, so it is refused."""
    dy("network", "create", "test 01")
    dy("network", "create", "réseau")
    p = dy("run", "--rm", "--network", "test 01", "busybox", "sh", "-c", "ip -4 -o addr show eth0")
    assert " inet " in p.out
    assert dy("network", "inspect", "-f", "{{.Name}}", "test 01").out == "test 01\n"
    p = dy("network", "create", "a/b", check=False)
    assert p.returncode != 0 and 'without "/"' in p.err
    dy("network", "rm", "test 01", "réseau")


def test_dockers_bridge_options_are_refused_unless_they_are_what_dockyard_does(dy, name):
    """-o com.docker.network.* changes docker's bridge (its name, icc, masquerading, MTU): not
    done by dockyard, so refused with the reason, before any network exists; the
    values dockyard's bridges have anyway, and options of no driver, are kept and shown."""
    for opt, words in (("com.docker.network.bridge.name=br-x", "take none of docker's bridge options"),
                       ("com.docker.network.bridge.enable_icc=false", "always have com.docker.network.bridge."
                                                                      "enable_icc=true"),
                       ("com.docker.network.driver.mtu=1400", "take none of docker's bridge options")):
        p = dy("network", "create", "-o", opt, name, check=False)
        assert p.returncode == 1 and f"driver option {opt} is not supported" in p.err and words in p.err, p.err
        no_traceback(p)
        assert dy("network", "inspect", name, check=False).returncode == 1  # (the dy fixture checks bridges)
    dy("network", "create", "-o", "com.docker.network.bridge.enable_icc=true", "-o", "foo=bar", name)
    try:
        opts = json.loads(dy("network", "inspect", name).out)[0]["Options"]
        assert opts["foo"] == "bar" and opts["com.docker.network.bridge.enable_icc"] == "true"
    finally:
        dy("network", "rm", name)
