"""The Cgroup class: one container's cgroup in every hierarchy of this host, what runc's cgroupfs
driver does for `linux.cgroupsPath` and `linux.resources` (the package docstring has the lifecycle).
Hot path module: only os, errno and time (all builtin) are imported; `plan` and `stats` only by
the methods that need them, so kill and delete load neither."""

from __future__ import annotations

import errno
import os
import time

from dockyard.errors import DockyardError, InvalidArgument, SyscallError, Unavailable
from dockyard.runtime.cgroups.files import (enable_controllers, kill_pids, kv_file, procs_below, read_file,
                                            rmdir_tree, write_file)
from dockyard.runtime.cgroups.paths import clean_path, layout_of, mounts, resolve_dirs, spec_cgroup_path


class Cgroup:
    """One container's cgroup in every hierarchy of this host (plain class: the run hot path
    does not import dataclasses)."""

    __slots__ = ("path", "layout", "dirs", "resources", "skipped")

    def __init__(self, path: str, dirs: dict, layout: str, *, resources: dict | None = None) -> None:
        self.path = path
        self.layout = layout
        self.dirs = dirs  # {"cpu": "/sys/fs/cgroup/cpu/dockyard/x", ..., "": cgroup2 dir}
        self.resources = resources or {}
        self.skipped: list = []  # resources this host cannot apply (callers may warn, as dockerd does)

    def __repr__(self) -> str:
        return f"Cgroup({self.path!r}, layout={self.layout!r})"

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def at(cls, path: str, **kw) -> Cgroup:
        """The cgroup at `path` (absolute, or relative to our own cgroup) in this host's layout."""
        path = clean_path(path)
        v1, v2 = mounts()
        layout = layout_of(v1, v2)
        return cls(path, resolve_dirs(path, v1, v2, None, layout), layout, **kw)

    @classmethod
    def for_spec(cls, spec: dict, container_id: str, *, systemd: bool = False) -> Cgroup | None:
        """The cgroup runc would use for `spec`; None when it sets neither cgroupsPath nor resources."""
        path = spec_cgroup_path(spec, container_id, systemd=systemd)
        if path is None:
            return None
        linux = spec.get("linux") or {}
        return cls.at(path, resources=linux.get("resources") or {})

    def to_json(self) -> dict:
        """What a state file keeps: the resolved directories (a relative path depends on the
        creator's own cgroup, so a later `delete` must not recompute them)."""
        return {"path": self.path, "layout": self.layout, "dirs": self.dirs}

    @classmethod
    def from_json(cls, d: dict) -> Cgroup:
        return cls(d["path"], dict(d["dirs"]), d["layout"])

    def _unique(self) -> list:
        return list(dict.fromkeys(self.dirs.values()))

    def exists(self) -> bool:
        return any(os.path.isdir(d) for d in self._unique())

    # -- create / join / limits ---------------------------------------------------------------
    def create(self) -> None:
        """mkdir in every hierarchy. v1 cpuset: fill empty cpuset.cpus/mems from the parent at
        each level (a task cannot join an empty cpuset); v2: enable the parent's controllers.
        An existing directory is joined as is (runc's rule); on failure only the directories
        made here are removed again."""
        v1, v2 = mounts()
        made: list = []
        done: set = set()
        try:
            for name, d in self.dirs.items():
                if d in done:
                    continue  # co-mounted controllers (cpu,cpuacct) share one directory
                done.add(d)
                if name == "":
                    top = v2[0] if v2 else None
                else:
                    top = v1[name][0] if name in v1 else None
                self._mkdirs(d, top, made, cpuset=d == self.dirs.get("cpuset"),
                             controllers=name == "" and self.layout == "v2")
        except BaseException:
            for d in reversed(made):
                try:
                    os.rmdir(d)
                except OSError:
                    pass
            raise

    @staticmethod
    def _mkdirs(d: str, top: str | None, made: list, *, cpuset: bool, controllers: bool) -> None:
        top = (top or "").rstrip("/")
        if not top or not d.startswith(top + "/"):
            raise Unavailable(f"cannot create cgroup {d}: not under a mounted cgroup hierarchy")
        cur = top
        for comp in d[len(top) + 1:].split("/"):
            if controllers:
                enable_controllers(cur)
            parent, cur = cur, cur + "/" + comp
            try:
                os.mkdir(cur, 0o755)
                made.append(cur)
            except FileExistsError:
                pass
            except OSError as e:
                raise SyscallError("mkdir", e.errno or errno.EIO, cur) from None
            if cpuset:
                for f in ("cpuset.cpus", "cpuset.mems"):
                    if not (read_file(f"{cur}/{f}") or "").strip():
                        value = (read_file(f"{parent}/{f}") or "").strip()
                        if value:
                            write_file(f"{cur}/{f}", value)

    def apply(self, pid: int) -> None:
        """Move `pid` (0: the calling process) into the cgroup in every hierarchy."""
        for d in self._unique():
            write_file(d + "/cgroup.procs", str(pid))

    def set(self, resources: dict | None = None) -> None:
        """Apply linux.resources (default: the spec's). Things this host cannot do that docker
        only warns about (blkio weight without BFQ, swap without accounting, v2 device rules) land
        in `self.skipped`; anything else failing raises. The device policy is applied with the
        spec's resources (even when they name no devices, as runc does) or when `resources` has
        "devices"."""
        res = self.resources if resources is None else resources
        if resources is None or "devices" in res:
            self.set_devices(res.get("devices"))
        if not res:
            return

        def exists(h: str, f: str) -> bool:
            d = self.dirs.get(h)
            return d is not None and os.path.exists(f"{d}/{f}")

        def read(h: str, f: str) -> str | None:
            d = self.dirs.get(h)
            return None if d is None else read_file(f"{d}/{f}")

        from dockyard.runtime.cgroups.plan import plan_v1, plan_v2, resource_name, why_missing

        plan = plan_v2 if self.layout == "v2" else plan_v1
        writes, skipped = plan(res, exists=exists, read=read)
        self.skipped.extend(skipped)
        deferred = []
        for h, f, value, kind in writes:
            d = self.dirs.get(h)
            if d is None:
                if kind == "opt":
                    self.skipped.append(f"{f}={value} (the {h} controller is not mounted)")
                    continue
                if kind == "quiet":
                    continue
                raise Unavailable(f"{resource_name(f)}: cannot set {f} to {value!r}: the {h or 'cgroup2'} "
                                  "cgroup controller is not mounted on this host")
            path = f"{d}/{f}"
            if not os.path.exists(path):
                if kind == "opt":
                    self.skipped.append(f"{f}={value} (not supported by this kernel)")
                if kind in ("opt", "quiet"):
                    continue
                raise Unavailable(f"{resource_name(f)}: cannot set {f} to {value!r}: {why_missing(f)}")
            try:
                write_file(path, value)
            except InvalidArgument:
                if kind != "defer":
                    raise
                deferred.append((path, value))
                continue
            if kind == "verify":
                got = (read_file(path) or "").strip()
                if got != value:
                    raise InvalidArgument(f"{path}: asked for {value}, the kernel set {got} (out of range)")
        for path, value in deferred:
            write_file(path, value)

    def set_devices(self, rules) -> None:
        """Device access: deny all, then `rules` (OCI linux.resources.devices), then runc's
        defaults (devices.py). cgroup v1: devices.deny/devices.allow in the devices hierarchy;
        cgroup v2 (or a hybrid host without the v1 devices controller): an eBPF program attached
        to the unified directory. Applied once, at creation: a second v2 program would stack (an
        access must pass both). Refuses when neither is possible, unless all is allowed anyway."""
        from dockyard.runtime.devices import effective

        emu = effective(rules)
        if self.layout != "v2" and "devices" in self.dirs:
            d = self.dirs["devices"]
            for f, value in emu.v1_writes():
                write_file(f"{d}/{f}", value)
            return
        if "" in self.dirs:
            from dockyard.linux.bpf import attach_device_filter
            from dockyard.runtime.devfilter import LICENSE, encode, instructions

            attach_device_filter(self.dirs[""], encode(instructions(emu)), LICENSE)
            return
        if not (emu.default_allow and not emu.exceptions):
            raise Unavailable("cannot enforce the container's device rules: neither the cgroup v1 devices "
                              "controller nor a cgroup2 hierarchy is mounted")

    # -- freezer ------------------------------------------------------------------------------
    def _freezer(self) -> tuple[str, str] | None:
        if "freezer" in self.dirs:
            return "v1", self.dirs["freezer"]
        if "" in self.dirs and os.path.exists(self.dirs[""] + "/cgroup.freeze"):
            return "v2", self.dirs[""]
        return None

    def freeze(self, timeout: float = 10.0) -> None:
        """Freeze every process; returns once the kernel reports the cgroup frozen."""
        fz = self._freezer()
        if fz is None:
            raise Unavailable(f"cannot freeze {self.path}: no freezer controller on this host")
        kind, d = fz
        deadline = time.monotonic() + timeout
        delay = 0.0005
        if kind == "v2":
            write_file(d + "/cgroup.freeze", "1")
            while kv_file(d + "/cgroup.events").get("frozen") != 1:
                if time.monotonic() > deadline:
                    write_file(d + "/cgroup.freeze", "0")
                    raise Unavailable(f"cannot freeze {d}: still not frozen after {timeout:g}s")
                time.sleep(delay)
                delay = min(delay * 2, 0.02)
            return
        state_file = d + "/freezer.state"
        n = 0
        while True:
            write_file(state_file, "FROZEN")
            state = (read_file(state_file) or "").strip()
            if state == "FROZEN":
                return
            if state != "FREEZING":
                raise Unavailable(f"cannot freeze {d}: freezer.state reads {state!r}")
            if time.monotonic() > deadline:
                write_file(state_file, "THAWED")
                raise Unavailable(f"cannot freeze {d}: stuck in FREEZING after {timeout:g}s")
            n += 1
            if n % 50 == 0:  # as runc: thaw for a moment so tasks stuck mid-freeze can move on
                write_file(state_file, "THAWED")
                time.sleep(0.01)
            time.sleep(delay)
            delay = min(delay * 2, 0.02)

    def thaw(self) -> None:
        fz = self._freezer()
        if fz is None:
            raise Unavailable(f"cannot thaw {self.path}: no freezer controller on this host")
        kind, d = fz
        if kind == "v2":
            write_file(d + "/cgroup.freeze", "0")
        else:
            write_file(d + "/freezer.state", "THAWED")

    def frozen(self) -> bool:
        fz = self._freezer()
        if fz is None:
            return False
        kind, d = fz
        if kind == "v2":
            return (read_file(d + "/cgroup.freeze") or "").strip() == "1"
        return (read_file(d + "/freezer.state") or "").strip() == "FROZEN"

    # -- processes ----------------------------------------------------------------------------
    def _primary(self) -> str:
        for h in ("pids", "freezer", "memory", "", "cpu"):
            if h in self.dirs:
                return self.dirs[h]
        return next(iter(self.dirs.values()))

    def pids(self) -> list:
        """Every process in the container's cgroup (and cgroups below it), sorted."""
        out: set = set()
        procs_below(self._primary(), out)
        return sorted(out)

    def _all_pids(self) -> list:
        out: set = set()
        for d in self._unique():
            procs_below(d, out)
        return sorted(out)

    def kill_all(self, sig: int = 9) -> None:
        """Signal every process. SIGKILL uses cgroup.kill when the kernel has it (v2, or the
        unified tree on hybrid hosts); otherwise the cgroup is frozen while we signal, so nothing
        forks behind our back (runc's signalAllProcesses)."""
        u = self.dirs.get("")
        if sig == 9 and u is not None and os.path.exists(u + "/cgroup.kill"):
            try:
                write_file(u + "/cgroup.kill", "1")
                return
            except DockyardError:
                pass  # fall back to signalling one by one
        froze = False
        if self._freezer() is not None and not self.frozen():
            try:
                self.freeze()
                froze = True
            except DockyardError:
                pass
        try:
            # Frozen, one pass sees everyone. Not frozen, a process may fork while we signal:
            # go again while new pids keep appearing (bounded).
            seen: set = set()
            for _ in range(1 if froze else 20):
                pids = [p for p in self._all_pids() if p not in seen]
                if not pids:
                    break
                kill_pids(pids, sig)
                seen.update(pids)
        finally:
            if froze:
                self.thaw()

    def destroy(self, timeout: float = 10.0) -> None:
        """SIGKILL whatever is left, wait until the cgroup is empty, rmdir it (and any cgroups
        the container made below it) in every hierarchy. Already-removed is fine."""
        dirs = [d for d in self._unique() if os.path.isdir(d)]
        if not dirs:
            return
        deadline = time.monotonic() + timeout
        pids = self._all_pids()
        if pids:
            self.kill_all(9)
        if self._freezer() is not None and self.frozen():
            self.thaw()  # frozen tasks cannot act on SIGKILL
        delay = 0.001
        # No reaping here: the init's exit status belongs to whoever waits for it, and zombies
        # leave cgroup.procs (and stop counting as populated) as soon as they exit.
        while pids:
            pids = self._all_pids()
            if not pids:
                break
            if time.monotonic() > deadline:
                raise Unavailable(f"cannot remove cgroup {self.path}: processes {pids} did not die "
                                  f"after SIGKILL within {timeout:g}s")
            kill_pids(pids, 9)
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        for d in dirs:
            rmdir_tree(d, deadline)

    # -- accounting ---------------------------------------------------------------------------
    def oom_killed(self) -> bool:
        """Whether the kernel's OOM killer killed something here (read before destroy())."""
        if self.layout == "v2":
            return kv_file(self.dirs[""] + "/memory.events").get("oom_kill", 0) > 0
        d = self.dirs.get("memory")
        if d is None:
            return False
        oc = kv_file(d + "/memory.oom_control")
        return oc.get("oom_kill", 0) > 0 or oc.get("under_oom", 0) == 1

    def stats(self) -> dict:
        """Docker-API-shaped stats: memory_stats, cpu_stats, pids_stats, blkio_stats (the API adds
        the host-wide fields: system_cpu_usage, online_cpus, read/preread)."""
        from dockyard.runtime.cgroups.stats import stats_v1, stats_v2

        return stats_v2(self.dirs) if self.layout == "v2" else stats_v1(self.dirs)
