"""Control groups for a container: what runc's cgroupfs driver does for `linux.cgroupsPath` and
`linux.resources` of an OCI spec.

    from dockyard.runtime.cgroups.cgroup import Cgroup
    cg = Cgroup.for_spec(spec, container_id)   # None when the spec asks for no cgroup at all
    cg.create()                                # directories (+ cpuset copy on v1, controllers on v2)
    cg.set()                                   # linux.resources → files
    cg.apply(pid)                              # pid → cgroup.procs of every hierarchy
    ... cg.freeze() / cg.thaw() / cg.stats() / cg.pids() / cg.oom_killed() ...
    cg.destroy()                               # SIGKILL leftovers, wait, rmdir everywhere

Layouts, detected at run time from /proc/self/mountinfo (`current_layout()`):
- "v2": one cgroup2 tree (/sys/fs/cgroup); the container is one directory, its controllers are
  enabled in every ancestor's cgroup.subtree_control.
- "v1": one tree per controller (/sys/fs/cgroup/{cpu,memory,pids,...}); the container gets the
  same relative directory in each, plus the named `name=systemd` tree (join only), as runc does.
- "hybrid": v1 controllers plus an empty cgroup2 at /sys/fs/cgroup/unified. Limits go to v1; the
  container also joins the unified tree (runc does too), which gives us `cgroup.kill`.

Paths: an absolute cgroupsPath is under each hierarchy's root, a relative one under the caller's
own cgroup in that hierarchy (runc's rule); none means `/dockyard/<id>`. A systemd-style
`slice:prefix:name` (podman's `machine.slice:libpod:<id>`) becomes the plain path systemd would
have used (`/machine.slice/libpod-<id>.scope`); we never talk to systemd.

Every failure is an `InvalidArgument` (the kernel refused a value; names file and value),
`Unavailable` (a controller or file is missing) or `SyscallError`, never a bare OSError.
The package's modules (hot path: they import only os, errno and time, all builtin; this file
imports nothing, so a caller that needs only `values` or `paths` loads only those):
- `cgroup.py`   the `Cgroup` class: create, join, set limits and devices, freeze, kill, destroy;
- `paths.py`    cgroupsPath rules, the host's layout and mounts, the directory in each hierarchy;
- `plan.py`     linux.resources → the file writes for v1 or v2, and why a host cannot apply one;
- `values.py`   docker's `--cpus` and the v1 → v2 value conversions (runc's);
- `files.py`    file reads and writes whose errors name file and value, process and rmdir walks;
- `stats.py`    the counters in the Docker API's shape.
"""
