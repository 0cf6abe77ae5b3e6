"""What dockyard left on the host, found from the host alone (for `system reset`).

Bridges and iptables rules are host-wide and outlive a store's directory. What makes them
findable without the store's database:

- a bridge's alias is `dockyard-rules N <root>`: the store that made it (`firewall.stamp`);
- every rule's comment names its owner: "dockyard net <bridge>" or "dockyard ctr <id12>";
- a network's NAT rules carry its subnet (`-s <subnet>`), and a published port's DNAT rule
  its container's address (`--to-destination <ip>:<port>`), so the port rules that lead into a
  bridge are those whose address is in that bridge's subnet.

Nothing here decides what may go; engine/reset.py does. Callers hold the engine's network lock,
so no bridge or rule is half made while they look.
"""

from __future__ import annotations

import os

from dockyard.network import firewall

BRIDGE_PREFIX = "dy-"
DEFAULT_BRIDGE = "dockyard0"  # the default store's default network


def is_ours(name: str) -> bool:
    return name == DEFAULT_BRIDGE or (name.startswith(BRIDGE_PREFIX) and len(name) == len(BRIDGE_PREFIX) + 12)


def bridges() -> dict[str, str | None]:
    """{bridge: the store root its alias names, or None} for every dockyard bridge on the host."""
    try:
        names = os.listdir("/sys/class/net")
    except OSError:
        return {}
    return {n: firewall.owner_of(n) for n in sorted(names) if is_ours(n)}


class Rules:
    """A snapshot of our tagged rules: {tag: [(table, rule line)]}."""

    def __init__(self) -> None:
        self.by_tag: dict[str, list[tuple[str, str]]] = {}
        for entry in firewall.tagged_rules(v6=True):  # an IPv6 network's are under raw6, filter6, nat6
            table, _, line = entry.partition(": ")
            tag = _comment(line)
            if tag:
                self.by_tag.setdefault(tag, []).append((table, line))

    def subnet_of(self, bridge: str) -> str | None:
        """The network's subnet, from its own NAT rule (`-s <subnet>`)."""
        for table, line in self.by_tag.get(firewall.net_tag(bridge), ()):
            words = line.split()
            if table.endswith("6"):
                continue
            if "-s" in words:
                return words[words.index("-s") + 1]
        return None

    def ports_into(self, subnet: str) -> list[str]:
        """The container tags whose DNAT rules lead to an address in `subnet`."""
        from dockyard.network.ipam import Subnet

        sub = Subnet.parse(subnet)
        return [tag for tag, lines in self.by_tag.items()
                if tag.startswith("dockyard ctr ") and any(sub.contains(ip) for ip in _destinations(lines))]

    def bridgeless(self) -> list[str]:
        """Network tags whose bridge is not on the host (removed by hand, or by a crash halfway):
        their rules match no interface. A store that still has the network makes both again on
        its next use (`networking._plug` brings up a missing bridge with its rules)."""
        return [tag for tag in self.by_tag
                if tag.startswith("dockyard net ") and not os.path.exists(f"/sys/class/net/{tag[13:]}")]

    def dead_ports(self) -> list[str]:
        """Container tags whose DNAT leads to an address no host route reaches (their bridge is
        gone, so their container can be reached by nobody)."""
        from dockyard.network.ipam import host_routes

        routes = host_routes()
        return [tag for tag, lines in self.by_tag.items() if tag.startswith("dockyard ctr ")
                and (dests := _destinations(lines)) and not any(r.contains(ip) for ip in dests for r in routes)]


def remove_bridge(name: str, rules: Rules) -> list[str]:
    """Delete a bridge, its network's rules and the port rules that lead into its subnet; returns
    the tags removed. The caller has decided the bridge is gone for good."""
    from dockyard.linux.netlink import Netlink

    tags = [firewall.net_tag(name)]
    subnet = rules.subnet_of(name)
    if subnet:
        tags += rules.ports_into(subnet)
    with Netlink() as nl:
        nl.delete_link(name)
    return [t for t in tags if firewall.remove_tagged(t)]


def _comment(line: str) -> str:
    head, sep, rest = line.partition('--comment "')
    return rest.partition('"')[0] if sep else ""


def _destinations(lines) -> list[str]:
    out = []
    for _table, line in lines:
        words = line.split()
        if "--to-destination" in words:
            out.append(words[words.index("--to-destination") + 1].rpartition(":")[0])
    return out
