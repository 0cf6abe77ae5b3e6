"""`dockyard system reset` (podman's): a store and everything it made go, on the host too.

In order: every container is removed as `rm -f` removes it (killed, then its cgroup, mounts,
network endpoints, port rules and reserved ports, DNS server, files), and its monitor awaited;
every network (bridges and their rules); then what the host still holds for this store with its
database gone (deleted by hand): processes started for it (monitors, their containers, DNS
servers and probers, found by the store root on their command line) and bridges whose alias
names it (`firewall.stamp`), with their rules and the port rules leading into them; then the
root (images, volumes, build cache, the event journal, the database: all files under it) and
the runroot directories.

What may go, and why (the host is shared: other stores, the tests' many stores, Docker's and
Podman's networks):

- By default only what this store made: objects its database names, processes and bridges that
  name its root. Another store's bridge is never touched, whether or not it is in use.
- `orphans=True` also removes bridges whose alias names a store that no longer names them (its
  `state.db` is gone, or has no network with that bridge), unless a container interface is
  still attached to one; rules tagged for a bridge that is not on the host (they match no
  interface); and port rules whose address no host route reaches. A bridge whose alias names
  no store (made before bridges were stamped, or a root longer than an alias holds) is listed,
  never removed. A store that is only out of reach at the time (its disk unmounted) counts as
  gone: its networks are made again, with their rules, the next time it uses them.
- Directories: the root is removed whole only if it holds a `state.db`; otherwise only when it
  is empty (what is in it is listed as kept). The runroot loses what dockyard keeps there
  (`containers`, `exits`, `runtimes`) and is removed when nothing else is left. `/` is refused.
"""

from __future__ import annotations

import os
import time

from dockyard.errors import ContainerNotFound, DockyardError, InvalidArgument

RUNROOT_ENTRIES = ("containers", "exits", "runtimes")
STORE_PROCESSES = ("dockyard-mon", "dockyard-dns", "dockyard-health")


def reset(engine, *, orphans: bool = False, orphans_below: str = "/") -> dict:
    """Remove the store and what it made on the host. The report's keys: Containers, Networks
    (names), Images, Volumes (counts), Processes (pids killed with no record left of them),
    Bridges, Rules (tags), Orphans (bridges of stores that are gone), Unowned (bridges left
    alone: no store named), Kept (paths not removed), Errors (what failed; the rest went on).
    `orphans_below`: only the bridges of gone stores under that directory are looked at (and no
    rule is judged by itself: those name no store)."""
    from dockyard.engine.networking import NetworkLock
    from dockyard.fsutil import unmount_below
    from dockyard.network.leftovers import Rules, bridges, remove_bridge

    for path in (engine.root, engine.runroot):
        if os.path.realpath(path) == "/":
            raise InvalidArgument("system reset refuses to remove /: give the store's own --root and --runroot")
    report: dict = {"Containers": [], "Networks": [], "Images": 0, "Volumes": 0, "Processes": [], "Bridges": [],
                    "Rules": [], "Orphans": [], "Unowned": [], "Kept": [], "Errors": []}
    if os.path.exists(os.path.join(engine.root, "state.db")):
        _from_database(engine, report)
    report["Processes"] = kill_store_processes(engine.root)
    with NetworkLock():
        rules = Rules()
        for bridge, owner in bridges().items():
            if owner == engine.root:
                report["Bridges"].append(bridge)
                report["Rules"] += remove_bridge(bridge, rules)
        if orphans:
            _orphans(engine.root, rules, report, os.path.abspath(orphans_below))
    for path in (engine.root, engine.runroot):
        if os.path.isdir(path):
            unmount_below(path)  # volumes with mount options, builds, an external runtime's rootfs
    report["Kept"] += _remove_root(engine.root) + _remove_runroot(engine.runroot)
    return report


def _from_database(engine, report: dict) -> None:
    from dockyard.engine.networking import reset as reset_networks
    from dockyard.engine.teardown import remove
    from dockyard.engine.volumes import list_volumes
    from dockyard.state.networks import list_networks

    db = engine.db
    report["Images"] = len(db.list_images())
    report["Volumes"] = len(list_volumes(engine))
    monitors = []
    for rec in db.list_containers():
        st = rec.state
        monitors.append((st.get("MonitorPid", 0), st.get("MonitorStartTime")))
        try:
            remove(engine, rec.id, force=True)
            report["Containers"].append(rec.id)
        except ContainerNotFound:  # its monitor removed it (--rm) meanwhile
            report["Containers"].append(rec.id)
        except DockyardError as e:
            report["Errors"].append(f"container {rec.name}: {e}")
            _drop_port_rules(rec.id)  # its processes are killed below; nothing else would remove these
    _await_gone(monitors)  # a monitor writes the exit and its last log lines, then leaves
    report["Networks"] = [n.name for n in list_networks(db)]
    try:
        reset_networks(engine)
    except DockyardError as e:
        report["Errors"].append(f"networks: {e}")
    db.close()


def _drop_port_rules(cid: str) -> None:
    from dockyard.network import firewall

    try:
        firewall.remove_tagged(firewall.ctr_tag(cid))
    except DockyardError:
        pass


def _await_gone(procs, timeout: float = 10.0) -> None:
    from dockyard.engine.status import alive

    deadline = time.monotonic() + timeout
    while (left := [(p, t) for p, t in procs if alive(p, t)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid, _t in left:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass


def kill_store_processes(root: str) -> list[int]:
    """Kill what still runs for store `root` with no record to stop it by: its monitors (started
    as `python … monitor_entry ROOT RUNROOT`, the DNS servers and probers they fork have the same
    command line) and the containers they watch (the monitors' other children): each container's
    own cgroup (`…/<64 hex id>`) is emptied (thawed first if paused) and removed in every
    hierarchy. Returns the pids killed."""
    from dockyard.engine.status import alive
    from dockyard.ownership import start_time
    from dockyard.runtime.cgroups.cgroup import Cgroup

    mine, inits = [], []
    for pid in _pids():
        comm, argv = _comm(pid), _cmdline(pid)
        if comm in STORE_PROCESSES and len(argv) >= 3 and argv[-2] == root and "monitor_entry" in " ".join(argv):
            mine.append(pid)
            if comm == "dockyard-mon":
                inits += [c for c in _children(pid) if _comm(c) not in STORE_PROCESSES]
    if not mine:
        return []
    procs = [(p, start_time(p)) for p in inits + mine]
    for path in sorted({p for c in inits for p in _own_cgroups(c)}):
        try:
            Cgroup.at(path).destroy()
        except DockyardError:
            pass
    for pid in inits + mine:  # a container without a cgroup of its own; then the monitors
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 10
    while any(alive(p, t) for p, t in procs) and time.monotonic() < deadline:
        time.sleep(0.05)
    return inits + mine


def _orphans(root: str, rules, report: dict, below: str) -> None:
    from dockyard.network import firewall
    from dockyard.network.leftovers import Rules, remove_bridge

    gone, report["Unowned"], busy = orphan_bridges(root, below)
    report["Errors"] += busy
    for bridge in gone:
        report["Orphans"].append(bridge)
        report["Rules"] += remove_bridge(bridge, rules)
    if below != "/":
        return
    rules = Rules()  # what is left
    for tag in rules.bridgeless() + rules.dead_ports():
        if firewall.remove_tagged(tag):
            report["Rules"].append(tag)


def orphan_bridges(root: str = "", below: str = "/") -> tuple[list[str], list[str], list[str]]:
    """(bridges whose store is gone and that nothing is attached to, bridges that name no store,
    why a gone store's bridge is kept), of the stores under `below`. `root`'s own bridges are
    not orphans: they are its."""
    from dockyard.network.leftovers import bridges

    gone, unowned, busy = [], [], []
    prefix = below.rstrip("/") + "/"
    for bridge, owner in bridges().items():
        if owner == root:
            continue
        if owner is None:
            if below == "/":
                unowned.append(bridge)
            continue
        if not owner.startswith(prefix):
            continue
        if store_names(owner, bridge) is not False:
            continue  # its store has it (or cannot be read: then it is not ours to judge)
        try:
            attached = os.listdir(f"/sys/class/net/{bridge}/brif")
        except OSError:
            attached = []
        if attached:
            busy.append(f"bridge {bridge} of the removed store {owner} is left: {', '.join(sorted(attached))} "
                        f"attached to it (`dockyard --root {owner} system reset` stops what runs there)")
            continue
        gone.append(bridge)
    return gone, unowned, busy


def store_names(root: str, bridge: str) -> bool | None:
    """Whether the store at `root` has a network on `bridge`: False when it has none (or no
    database at all), None when its database cannot be read."""
    import sqlite3
    from urllib.parse import quote

    path = os.path.join(root, "state.db")
    if not os.path.exists(path):
        return False
    try:
        conn = sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True, timeout=5)
        try:
            row = conn.execute("SELECT 1 FROM networks WHERE bridge = ?", (bridge,)).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return row is not None


def _remove_root(root: str) -> list[str]:
    from dockyard.fsutil import rmtree

    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return []
    if "state.db" in names:
        real = os.path.realpath(root)
        rmtree(real)
        if real != root and os.path.islink(root):
            os.unlink(root)
        return []
    if names:
        return [os.path.join(root, n) for n in sorted(names)]
    os.rmdir(root)
    return []


def _remove_runroot(runroot: str) -> list[str]:
    from dockyard.fsutil import rmtree

    for name in RUNROOT_ENTRIES:
        rmtree(os.path.join(runroot, name))
    try:
        names = os.listdir(runroot)
    except FileNotFoundError:
        return []
    if names:
        return [os.path.join(runroot, n) for n in sorted(names)]
    os.rmdir(runroot)
    return []


# ---------------------------------------------------------------------------- /proc


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return []


def _children(pid: int) -> list[int]:
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return out


def _own_cgroups(pid: int) -> set[str]:
    """The cgroup paths of a container init that are its own (named by a container id)."""
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return set()
    out = set()
    for line in lines:
        path = line.split(":", 2)[-1]
        name = path.rsplit("/", 1)[-1]
        if len(name) == 64 and all(c in "0123456789abcdef" for c in name):
            out.add(path)
    return out
