"""The iptables rules of bridge networks and published ports.

Why iptables (not nft directly): when Docker runs beside dockyard it sets the FORWARD policy to
DROP in iptables' own `filter` table, and a packet must survive every base chain of the forward
hook, so dockyard's accept rules have to live in that same chain. The `iptables` command is
whatever backend the host (and Docker) use, so both engines always agree.

Layout, like Docker's but under our own names, so neither engine touches the other's rules:

    filter FORWARD       -j DOCKYARD-FORWARD          (inserted first; re-checked at every setup)
    DOCKYARD-FORWARD     -j DOCKYARD-ISOLATION-1, then per network: replies and DNAT'd traffic
                         into the bridge, and everything out of it, accepted; the rest into it
                         dropped (published ports are the only way in, as with Docker)
    DOCKYARD-ISOLATION-1 connections to published ports pass; then per network: traffic leaving
                         its bridge for another interface goes to stage 2 (an --internal network
                         drops it here, both ways)
    DOCKYARD-ISOLATION-2 per network: -o bridge DROP: so no bridge reaches another
    nat PREROUTING/OUTPUT  -m addrtype --dst-type LOCAL -j DOCKYARD
    DOCKYARD             per published port: DNAT to the container
    nat POSTROUTING      per network: MASQUERADE out to the world (not --internal), and for
                         host-local sources and hairpin connections into the bridge
    raw PREROUTING       -j DOCKYARD-PREROUTING       (inserted first)
    DOCKYARD-PREROUTING  per network: -i bridge -d 127.0.0.0/8 DROP; per port published on a
                         127.x address: to it from anywhere but lo DROP

Loopback (CVE-2020-8558, moby's filterPortMappedOnLoopback, kubelet's martian rule): publishing
on 127.0.0.1 needs `route_localnet=1` on the bridge (the host's own connection leaves by the
bridge with a 127.0.0.1 source, and its replies come back to 127.0.0.1), but that sysctl also
lets a container send a frame to its gateway's MAC addressed to 127.0.0.1 and reach any host
service bound to loopback. In the raw table, before conntrack and NAT, no legitimate packet
from a bridge is addressed to 127.0.0.0/8 (replies to the host's connections are masqueraded,
so they arrive addressed to the gateway), so those are dropped there, and nothing of theirs
ever enters conntrack. Likewise a port published on 127.x is DNAT'd in PREROUTING before the
kernel's martian check, so a neighbour on any other interface could reach it: dropped unless
it comes from lo, as Docker does. `route_localnet` is set only after these rules are in place,
and the bridge's alias records which rules it has (`stamp`), so a bridge made by an older
dockyard gets them the next time it is used.

IPv6 networks get the same chains and rules from `ip6tables` (`network_rules6`, with `v6=True`
everywhere): the same isolation, the same comments, so `remove_tagged` removes a network's rules
of both families at once. The raw drop is of ::1 (no packet from a bridge is addressed to the
host's loopback), and outbound traffic is masqueraded as dockerd 27 does (ip6tables MASQUERADE
by default), so a container's ULA address reaches what the host reaches. No port is published on
an IPv6 host address (ports.py refuses one): published ports stay IPv4 DNAT rules, which a
dual-stack container answers on its IPv4 address.

Every rule carries a comment naming its owner ("dockyard net <bridge>" or "dockyard ctr <id>"),
so removing a network or a container's ports deletes exactly its rules, even after a crash left
them behind with nothing else remembering them. Changes go through `iptables-restore --noflush`:
one exec for a whole set of rules.
"""

from __future__ import annotations

import os

from dockyard.errors import Unavailable

FORWARD, ISO1, ISO2, NAT = "DOCKYARD-FORWARD", "DOCKYARD-ISOLATION-1", "DOCKYARD-ISOLATION-2", "DOCKYARD"
RAW = "DOCKYARD-PREROUTING"
_OWN_CHAINS = {"raw": (RAW,), "filter": (FORWARD, ISO1, ISO2), "nat": (NAT, "POSTROUTING")}
# What a bridge's rules are: bump when network_rules() changes in a way old bridges must get.
RULES_STAMP = "dockyard-rules 3"  # 3: IPv6 off on an IPv4-only network's bridge (engine/netv6.py)


def net_tag(bridge: str) -> str:
    return f"dockyard net {bridge}"


def ctr_tag(container_id: str) -> str:
    return f"dockyard ctr {container_id[:12]}"


def _run(args: list[str], data: str | None = None, check: bool = True, v6: bool = False) -> tuple[int, str]:
    """Run an iptables command without importing subprocess (posix_spawn + pipes); `v6`: its
    ip6tables twin."""
    import shutil

    if v6:
        args = [args[0].replace("iptables", "ip6tables", 1), *args[1:]]
    exe = shutil.which(args[0], path="/usr/sbin:/sbin:/usr/bin:/bin:" + os.environ.get("PATH", ""))
    if exe is None:
        raise Unavailable(f"{args[0]} is not installed: bridge networks need it",
                          hint="apt-get install iptables, or run with --network none|host")
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    try:
        pid = os.posix_spawn(exe, args, os.environ,
                             file_actions=[(os.POSIX_SPAWN_DUP2, in_r, 0), (os.POSIX_SPAWN_DUP2, out_w, 1),
                                           (os.POSIX_SPAWN_DUP2, out_w, 2)])
    finally:
        os.close(in_r)
        os.close(out_w)
    try:
        if data:
            os.write(in_w, data.encode())
    finally:
        os.close(in_w)
    chunks = []
    while True:
        b = os.read(out_r, 65536)
        if not b:
            break
        chunks.append(b)
    os.close(out_r)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    out = b"".join(chunks).decode(errors="replace")
    if check and code != 0:
        what = " ".join(args) if data is None else f"{args[0]} with:\n{data}"
        raise Unavailable(f"{what} failed: {out.strip()}")
    return code, out


def apply(lines_by_table: dict[str, list[str]], v6: bool = False) -> None:
    """Apply rule lines ("-A CHAIN …" / "-D CHAIN …") atomically per table, in one exec."""
    doc = []
    for table, lines in lines_by_table.items():
        if lines:
            doc.append(f"*{table}")
            doc.extend(lines)
            doc.append("COMMIT")
    if doc:
        _run(["iptables-restore", "--noflush", "-w", "5"], "\n".join(doc) + "\n", v6=v6)


def _has(table: str, rule: list[str], v6: bool = False) -> bool:
    return _run(["iptables", "-w", "5", "-t", table, "-C", *rule], check=False, v6=v6)[0] == 0


def ensure_base(v6: bool = False) -> None:
    """Our chains and the jumps into them (idempotent: cheap checks when all is in place);
    `v6`: in ip6tables, for IPv6 networks."""
    _ensure_base(v6)
    path = "/proc/sys/net/ipv6/conf/all/forwarding" if v6 else "/proc/sys/net/ipv4/ip_forward"
    if sysctl(path, "1"):
        # forwarding was off and we turned it on: only what our chains accept may be forwarded
        # (dockerd's setupIPForwarding does the same), not traffic between the host's other links
        _run(["iptables", "-w", "5", "-t", "filter", "-P", "FORWARD", "DROP"], v6=v6)


def _ensure_base(v6: bool) -> None:
    def run(args: list[str], check: bool = True) -> tuple[int, str]:
        return _run(args, check=check, v6=v6)

    def has(table: str, rule: list[str]) -> bool:
        return _has(table, rule, v6)

    code, out = run(["iptables", "-w", "5", "-t", "filter", "-S"], check=True)
    have = set(out.splitlines())
    for chain in (FORWARD, ISO1, ISO2):
        if f"-N {chain}" not in have:
            run(["iptables", "-w", "5", "-t", "filter", "-N", chain], check=False)
    if f"-A {FORWARD} -j {ISO1}" not in have:
        run(["iptables", "-w", "5", "-t", "filter", "-I", FORWARD, "1", "-j", ISO1])
    if f"-A {ISO1} -m conntrack --ctstate DNAT -j RETURN" not in have:
        # a published port is reachable from every network (as through docker-proxy), both ways
        run(["iptables", "-w", "5", "-t", "filter", "-I", ISO1, "1", "-m", "conntrack", "--ctstate", "DNAT",
             "-j", "RETURN"])
    lines = [ln for ln in out.splitlines() if ln.startswith("-A FORWARD ")]
    if not lines or lines[0] != f"-A FORWARD -j {FORWARD}":
        # first in FORWARD, ahead of a DROP policy or rules Docker may have put there
        while f"-A FORWARD -j {FORWARD}" in have and has("filter", ["FORWARD", "-j", FORWARD]):
            run(["iptables", "-w", "5", "-t", "filter", "-D", "FORWARD", "-j", FORWARD])
            have.discard(f"-A FORWARD -j {FORWARD}")
        run(["iptables", "-w", "5", "-t", "filter", "-I", "FORWARD", "1", "-j", FORWARD])
    code, out = run(["iptables", "-w", "5", "-t", "nat", "-S"], check=True)
    have = set(out.splitlines())
    if f"-N {NAT}" not in have:
        run(["iptables", "-w", "5", "-t", "nat", "-N", NAT], check=False)
    for hook in ("PREROUTING", "OUTPUT"):
        if f"-A {hook} -m addrtype --dst-type LOCAL -j {NAT}" not in have:
            run(["iptables", "-w", "5", "-t", "nat", "-A", hook, "-m", "addrtype", "--dst-type", "LOCAL",
                 "-j", NAT])
    code, out = run(["iptables", "-w", "5", "-t", "raw", "-S"], check=True)
    have = set(out.splitlines())
    if f"-N {RAW}" not in have:
        run(["iptables", "-w", "5", "-t", "raw", "-N", RAW], check=False)
    lines = [ln for ln in out.splitlines() if ln.startswith("-A PREROUTING ")]
    if not lines or lines[0] != f"-A PREROUTING -j {RAW}":
        # first, so no ACCEPT (or NOTRACK) put there by someone else ends raw before our drops
        while f"-A PREROUTING -j {RAW}" in have and has("raw", ["PREROUTING", "-j", RAW]):
            run(["iptables", "-w", "5", "-t", "raw", "-D", "PREROUTING", "-j", RAW])
            have.discard(f"-A PREROUTING -j {RAW}")
        run(["iptables", "-w", "5", "-t", "raw", "-I", "PREROUTING", "1", "-j", RAW])


def sysctl(path: str, value: str) -> bool:
    """Set a sysctl; True if it changed."""
    try:
        with open(path) as f:
            if f.read().strip() == value:
                return False
        with open(path, "w") as f:
            f.write(value)
        return True
    except OSError as e:
        raise Unavailable(f"cannot set {path} to {value}: {e.strerror}") from None


def route_localnet(bridge: str, on: bool) -> None:
    """The bridge's route_localnet; turn it on only once network_rules() are in place."""
    sysctl(f"/proc/sys/net/ipv4/conf/{bridge}/route_localnet", "1" if on else "0")


def alias_for(owner: str) -> str:
    """The bridge alias: this version's rules stamp, then the root of the store that made the
    bridge (what `system reset` goes by once that store's database is gone). An alias holds 255
    bytes: a root that does not fit (or holds a newline) is not written, and the bridge has no
    known owner."""
    text = f"{RULES_STAMP} {owner}"
    return text if owner.startswith("/") and "\n" not in owner and len(text.encode()) <= 255 else RULES_STAMP


def stamped(bridge: str, owner: str = "") -> bool:
    """Whether the bridge got this version's rules and names its store (its alias, which lives as
    long as it does)."""
    try:
        with open(f"/sys/class/net/{bridge}/ifalias") as f:
            return f.read().strip() == alias_for(owner)
    except OSError:
        return False


def stamp(bridge: str, owner: str = "") -> None:
    try:
        with open(f"/sys/class/net/{bridge}/ifalias", "w") as f:
            f.write(alias_for(owner))
    except OSError as e:
        raise Unavailable(f"cannot set the alias of bridge {bridge}: {e.strerror}") from None


def owner_of(bridge: str) -> str | None:
    """The store root a bridge's alias names (None: not ours, or made before bridges named one)."""
    try:
        with open(f"/sys/class/net/{bridge}/ifalias") as f:
            return owner_in(f.read().rstrip("\n"))
    except OSError:
        return None


def owner_in(alias: str) -> str | None:
    head, sep, owner = alias.partition(" /")
    if not sep or not head.startswith("dockyard-rules "):
        return None
    return "/" + owner


def network_rules(bridge: str, subnet: str, internal: bool) -> dict[str, list[str]]:
    c = f'-m comment --comment "{net_tag(bridge)}"'
    # before conntrack and NAT: nothing from a bridge is addressed to loopback (see the docstring)
    raw = [f"-A {RAW} -i {bridge} -d 127.0.0.0/8 {c} -j DROP"]
    filt = [f"-A {ISO2} -o {bridge} {c} -j DROP"]
    if internal:
        filt += [f"-A {ISO1} -i {bridge} ! -o {bridge} {c} -j DROP",
                 f"-A {ISO1} -o {bridge} ! -i {bridge} {c} -j DROP",
                 f"-A {FORWARD} -i {bridge} -o {bridge} {c} -j ACCEPT"]
    else:
        filt += [f"-A {ISO1} -i {bridge} ! -o {bridge} {c} -j {ISO2}",
                 f"-A {FORWARD} -o {bridge} -m conntrack --ctstate RELATED,ESTABLISHED {c} -j ACCEPT",
                 f"-A {FORWARD} -o {bridge} -m conntrack --ctstate DNAT {c} -j ACCEPT",
                 f"-A {FORWARD} -i {bridge} {c} -j ACCEPT",
                 # nothing else gets in, whatever the FORWARD policy: not another host's traffic
                 # routed at a container's address, nor a Docker or Podman container's
                 f"-A {FORWARD} -o {bridge} {c} -j DROP"]
    nat = [f"-A POSTROUTING -o {bridge} -m addrtype --src-type LOCAL {c} -j MASQUERADE",
           f"-A POSTROUTING -o {bridge} -s {subnet} -m conntrack --ctstate DNAT {c} -j MASQUERADE"]
    if not internal:
        nat.append(f"-A POSTROUTING -s {subnet} ! -o {bridge} {c} -j MASQUERADE")
    return {"raw": raw, "filter": filt, "nat": nat}


def network_rules6(bridge: str, subnet: str, internal: bool) -> dict[str, list[str]]:
    """An IPv6 network's ip6tables rules: network_rules' isolation and NAT, with ::1 for loopback."""
    rules = network_rules(bridge, subnet, internal)
    rules["raw"] = [ln.replace("-d 127.0.0.0/8", "-d ::1/128") for ln in rules["raw"]]
    return rules


def port_rules(container_id: str, ports: list[tuple[str, int, str, str, int]]) -> dict[str, list[str]]:
    """ports: (proto, host port, host ip or "", container ip, container port)."""
    from dockyard.network.ipam import to_int

    c = f'-m comment --comment "{ctr_tag(container_id)}"'
    raw, nat = [], []
    for proto, hport, hip, cip, cport in ports:
        dst = f"-d {hip}/32 " if hip and hip != "0.0.0.0" else ""
        if hip and to_int(hip) >> 24 == 127:  # loopback only: DNAT must not take it from elsewhere
            raw.append(f"-A {RAW} -d {hip}/32 ! -i lo -p {proto} -m {proto} --dport {hport} {c} -j DROP")
        nat.append(f"-A {NAT} {dst}-p {proto} -m {proto} --dport {hport} {c} -j DNAT --to-destination {cip}:{cport}")
    return {"raw": raw, "nat": nat}  # raw first: the drop is in place before the DNAT


def remove_tagged(tag: str) -> int:
    """Delete every rule in our chains whose comment is `tag`, in iptables and, for a network's tag
    (a container's port rules are IPv4 only), in ip6tables when the host has it; return how many
    there were."""
    n = _remove_tagged(tag, False)
    if tag.startswith("dockyard net ") and has_ip6tables():
        n += _remove_tagged(tag, True)
    return n


def has_ip6tables() -> bool:
    import shutil

    return shutil.which("ip6tables", path="/usr/sbin:/sbin:/usr/bin:/bin:" + os.environ.get("PATH", "")) is not None


def _remove_tagged(tag: str, v6: bool) -> int:
    needle = f'--comment "{tag}"'
    for attempt in range(3):
        batch: dict[str, list[str]] = {}
        for table, chains in _OWN_CHAINS.items():
            code, out = _run(["iptables", "-w", "5", "-t", table, "-S"], check=False, v6=v6)
            if code != 0:
                continue
            batch[table] = ["-D" + ln[2:] for ln in out.splitlines()
                            if ln.startswith("-A ") and needle in ln and ln.split()[1] in chains]
        n = sum(len(v) for v in batch.values())
        if not n:
            return 0
        try:
            apply(batch, v6=v6)
            return n
        except Unavailable:
            if attempt == 2:
                raise
            # another command removed some of them between our listing and the delete (the
            # batch is all or nothing): list again and delete what is still there
    return 0


def tagged_rules(prefix: str = "dockyard ", v6: bool = False) -> list[str]:
    """Every rule of ours whose comment starts with `prefix` (for tests and `system prune`);
    `v6`: those of ip6tables (tables named raw6, filter6, nat6), after iptables' ones."""
    out_lines = []
    for family in (False, True) if v6 and has_ip6tables() else (False,):
        for table in ("raw", "filter", "nat"):
            code, out = _run(["iptables", "-w", "5", "-t", table, "-S"], check=False, v6=family)
            name = table + "6" if family else table
            out_lines += [f"{name}: {ln}" for ln in out.splitlines() if f'--comment "{prefix}' in ln]
    return out_lines
