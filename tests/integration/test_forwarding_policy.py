"""Turning forwarding on for a network also closes the FORWARD chain, as dockerd does.

When dockyard finds IP forwarding off and turns it on (for a bridge network, IPv4 or IPv6), the
host would otherwise route between all its links; dockerd sets the FORWARD policy to DROP then,
so only what its own chains accept is forwarded. Each case runs in a network namespace of its own,
so the host's sysctls and tables are untouched (checked afterwards).
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest


PROBE = r"""
import json, subprocess, sys
from dockyard.network import firewall
v6 = sys.argv[1] == "6"
fwd = "/proc/sys/net/ipv6/conf/all/forwarding" if v6 else "/proc/sys/net/ipv4/ip_forward"
open(fwd, "w").write("1" if sys.argv[2] == "on" else "0")
firewall.ensure_base(v6=v6)
tool = "ip6tables" if v6 else "iptables"
out = subprocess.run([tool, "-w", "5", "-S", "FORWARD"], capture_output=True, text=True, check=True).stdout
print(json.dumps({"forwarding": open(fwd).read().strip(), "rules": out.splitlines()}))
"""


def host_state() -> list[str]:
    return [open("/proc/sys/net/ipv4/ip_forward").read(), open("/proc/sys/net/ipv6/conf/all/forwarding").read(),
            subprocess.run(["iptables", "-w", "5", "-S", "FORWARD"], capture_output=True, text=True).stdout,
            subprocess.run(["ip6tables", "-w", "5", "-S", "FORWARD"], capture_output=True, text=True).stdout]


@pytest.mark.parametrize("family", ["4", "6"])
def test_forwarding_turned_on_closes_the_forward_chain(family):
    before = host_state()
    p = subprocess.run(["unshare", "-n", sys.executable, "-c", PROBE, family, "off"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    assert got["forwarding"] == "1"
    assert "-P FORWARD DROP" in got["rules"]
    assert "-A FORWARD -j DOCKYARD-FORWARD" in got["rules"]
    assert host_state() == before


@pytest.mark.parametrize("family", ["4", "6"])
def test_forwarding_already_on_leaves_the_policy_alone(family):
    p = subprocess.run(["unshare", "-n", sys.executable, "-c", PROBE, family, "on"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    assert got["forwarding"] == "1" and "-P FORWARD ACCEPT" in got["rules"]
