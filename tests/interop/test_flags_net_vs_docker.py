"""Issue 15's proof for run's and create's network flags: a user bridge network of the same name
and subnet on each side (dockerd here runs with --bridge=none --iptables=false, which still makes
user bridges and publishes ports through its userland proxy). The two networks would share a
subnet on one host, so each side runs alone: network up, containers, what they show, all down;
then the two sides' records are compared."""

from __future__ import annotations

import json
import random
import re
import socket
import subprocess

import pytest
from dockyard_interop import DOCKER, compares, differences, normalised, wait_for


def free_subnet() -> str:
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True, timeout=30).stdout
    for _ in range(100):
        net = f"10.{random.randint(160, 250)}.{random.randint(0, 255)}"
        if f"{net}." not in routes:
            return net
    pytest.skip("no free 10.x.y.0/24 subnet")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def each_side(pair, cli=None):
    """(label, runner) for dockyard and docker; `cli`: another docker CLI binary (same dockerd)."""
    def docker(*args, **kw):
        if cli is None:
            return pair.docker(*args, **kw)
        return subprocess.run([cli, *args], capture_output=True, text=True, timeout=kw.get("timeout", 120),
                              stdin=subprocess.DEVNULL)
    return (("dockyard", pair.dy), ("docker", docker))


def alike(text: str, doc: dict) -> str:
    """A side's own container id (its hostname) made alike."""
    return text.replace(doc["Id"][:12], "<id>")


@compares("run", "--network", "--ip", "--network-alias", "--link", "--publish", "--publish-all", "--expose",
          "--dns", "--dns-search", "--dns-option")
def test_user_network_run_like_docker(pair):
    net, target, name = pair.name("network"), pair.name(), pair.name()
    sub = free_subnet()
    host_port = free_port()
    # /etc/hosts: the container's own lines only (dockyard also lists the network's other containers and
    # the link's alias there; docker's has its embedded DNS answer for them, which --iptables=false breaks)
    script = ("ip -4 -o addr show eth0 | awk '{print $4}'; cat /etc/resolv.conf; "
              "grep -E \"localhost|$(hostname)\" /etc/hosts | grep -v '^[f:]'; "
              "env | grep -i tgt | sort; echo done; exec sleep 60")
    seen = {}
    for label, side in each_side(pair):
        assert side("network", "create", "--subnet", f"{sub}.0/24", net).returncode == 0
        try:
            p = side("run", "-d", "--name", target, "--network", net, "--network-alias", "tgt-alias", pair.tag,
                     "sleep", "60")
            assert p.returncode == 0, p.stderr
            p = side("run", "-d", "--name", name, "--network", net, "--ip", f"{sub}.9", "--network-alias", "al1",
                     "--network-alias", "al2", "--link", f"{target}:tgt", "-p", f"127.0.0.1:{host_port}:80",
                     "-P", "--expose", "90", "--dns", "192.0.2.53", "--dns-search", "example.com",
                     "--dns-option", "ndots:2", pair.tag, "sh", "-c", script)
            assert p.returncode == 0 and p.stderr == "", (label, p.stderr)
            assert wait_for(lambda: "done" in side("logs", name).stdout, 30), side("logs", name)
            doc = json.loads(side("inspect", name).stdout)[0]
            endpoint = doc["NetworkSettings"]["Networks"][net]
            ports = side("port", name).stdout
            seen[label] = {
                "logs": alike(side("logs", name).stdout, doc),
                # -P's host ports are each engine's pick; dockyard's networks are IPv4 only (no [::] proxy)
                "port": re.sub(r"0\.0\.0\.0:\d+", "0.0.0.0:<any>", "".join(
                    ln for ln in ports.splitlines(True) if "[::]" not in ln)),
                "ip": (endpoint["IPAddress"], endpoint["IPPrefixLen"], endpoint["IPAMConfig"]),
                # docker adds the container's short id to its aliases; dockyard too (checked below)
                "aliases": sorted(a for a in endpoint["Aliases"] or () if a != doc["Id"][:12]),
                "links": doc["HostConfig"]["Links"], "bindings": doc["HostConfig"]["PortBindings"],
                "publish_all": doc["HostConfig"]["PublishAllPorts"],
                "exposed": doc["Config"]["ExposedPorts"],
                "published": sorted(k for k, v in (doc["NetworkSettings"]["Ports"] or {}).items() if v),
                "dns": (doc["HostConfig"]["Dns"], doc["HostConfig"]["DnsSearch"], doc["HostConfig"]["DnsOptions"]),
            }
            assert doc["Id"][:12] in endpoint["Aliases"], (label, endpoint)
            assert f"127.0.0.1:{host_port}" in ports, (label, ports)
        finally:
            side("rm", "-f", name, target)
            side("network", "rm", net)
    assert seen["dockyard"] == seen["docker"], "\n".join(differences(seen["dockyard"], seen["docker"]))


@compares("create", "--network", "--ip", "--network-alias", "--link", "--publish", "--publish-all", "--expose",
          "--dns", "--dns-search", "--dns-option")
def test_user_network_create_like_docker(pair):
    """The same flags through create: HostConfig, Config and the endpoint's asked settings."""
    net, target, name = pair.name("network"), pair.name(), pair.name()
    sub = free_subnet()
    docs = {}
    for label, side in each_side(pair):
        assert side("network", "create", "--subnet", f"{sub}.0/24", net).returncode == 0
        try:
            assert side("create", "--name", target, "--network", net, pair.tag).returncode == 0
            p = side("create", "--name", name, "--network", net, "--ip", f"{sub}.9", "--network-alias", "al1",
                     "--link", f"{target}:tgt", "-p", "127.0.0.1:8080:80/udp", "-p", "9000-9001:90-91", "-P",
                     "--expose", "100", "--dns", "192.0.2.53", "--dns-search", "example.com", "--dns-option",
                     "ndots:2", pair.tag)
            assert p.returncode == 0, (label, p.stderr)
            doc = json.loads(side("inspect", name).stdout)[0]
            endpoint = doc["NetworkSettings"]["Networks"][net]
            docs[label] = {**normalised(doc), "Endpoint": {
                # dockyard lists the short id among the aliases from the create on, as moby at API 1.44;
                # dockerd 20.10 adds it at the start
                "IPAMConfig": endpoint["IPAMConfig"], "Links": endpoint["Links"],
                "Aliases": [a for a in endpoint["Aliases"] or () if a != doc["Id"][:12]]}}
        finally:
            side("rm", "-f", name, target)
            side("network", "rm", net)
    assert docs["dockyard"] == docs["docker"], "\n".join(differences(docs["dockyard"], docs["docker"]))


@compares("run", "--mac-address")
@compares("create", "--mac-address")
def test_mac_address_like_docker(pair):
    """--mac-address through Debian's docker CLI 20.10 (CLI 28 puts it in the endpoint, which needs API
    1.44; dockerd 20.10 speaks 1.41): the address inside, in inspect, and the same refusals."""
    if not DOCKER or DOCKER == pair.docker_cli:
        pytest.skip("needs Debian's docker CLI 20.10 (/usr/bin/docker) beside CLI 28")
    net, name, made = pair.name("network"), pair.name(), pair.name()
    sub = free_subnet()
    mac = "02:42:0a:00:00:99"
    seen = {}
    for label, side in each_side(pair, cli=DOCKER):
        assert side("network", "create", "--subnet", f"{sub}.0/24", net).returncode == 0
        try:
            p = side("run", "--name", name, "--network", net, "--mac-address", mac, pair.tag,
                     "cat", "/sys/class/net/eth0/address")
            assert p.returncode == 0, (label, p.stderr)
            assert side("create", "--name", made, "--network", net, "--mac-address", mac, pair.tag).returncode == 0
            run_doc, create_doc = (json.loads(side("inspect", n).stdout)[0] for n in (name, made))
            seen[label] = {"inside": p.stdout, "run": run_doc["Config"]["MacAddress"],
                           "create": (create_doc["Config"]["MacAddress"],
                                      create_doc["HostConfig"]["NetworkMode"]),
                           }
        finally:
            side("rm", "-f", name, made)
            side("network", "rm", net)
    assert seen["docker"]["inside"] == mac + "\n"
    assert seen["dockyard"] == seen["docker"], "\n".join(differences(seen["dockyard"], seen["docker"]))
