"""Issue 15's proof for the container commands other than run/create/start/stop/restart/exec: the
same invocation through dockyard and the docker CLI (28, against dockerd: `private_dockerd`),
the same exit code and output, normalised only for what differs by nature (tests/interop/flagcmp.py
says what and why). Every container is `--network none` (the dockerd here may have no bridge)."""

from __future__ import annotations

import json
import re
import time

from dockyard_interop import compares
from flagcmp import dockerd, pair  # noqa: F401 - fixtures


def _exited(pair, name: str, *cmd: str) -> None:
    """A container that ran `cmd` and exited, on both sides."""
    pair.container(name, *cmd)
    a, b = pair.both("start", "-a", name)
    assert a.rc == b.rc, (a, b)


def anon_volume(pair, container: str) -> list[str]:
    """The (random) names of the anonymous volume each side made for `container`."""
    vols = [r.out.strip() for r in pair.both("inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", container)]
    pair.same_id(container + "-volume", *vols)
    return vols


@compares("ps", "--all", "--filter", "--format", "--last", "--latest", "--no-trunc", "--quiet", "--size")
def test_ps_flags_as_docker(pair):
    img = pair.image
    done, up, new = pair.name("done"), pair.name("up"), pair.name("new")
    _exited(pair, done, "-l", "tier=a", "-v", "/data", img, "sh", "-c", "echo out; exit 3")
    pair.running(up, "-l", "tier=b", img, "sleep", "300")
    pair.container(new, "-l", "tier=a", img, "true")
    anon_volume(pair, done)
    mine = f"name={pair.prefix}"
    fields = ("{{.Names}}|{{.Image}}|{{.Command}}|{{.State}}|{{.Status}}|{{.Labels}}|{{.Label \"tier\"}}|"
              "{{.Networks}}|{{.Ports}}|{{.LocalVolumes}}|{{.ID}}")
    pair.same("ps", "-a", "--filter", mine, "--format", fields)
    pair.same("ps", "--filter", mine, "--format", fields)  # running only
    for flt in ("status=exited", "status=created", "label=tier=a", "exited=3", "label=tier"):
        pair.same("ps", "-a", "--filter", mine, "--filter", flt, "--format", "{{.Names}}")
    pair.same("ps", "-a", "-q", "--filter", mine)
    pair.same("ps", "-a", "-q", "--no-trunc", "--filter", mine)
    pair.same("ps", "-a", "--no-trunc", "--filter", mine, "--format", "{{.ID}} {{.Command}}")
    pair.same("ps", "-n", "2", "--filter", mine, "--format", "{{.Names}}")
    pair.same("ps", "--last", "1", "--filter", mine, "--format", "{{.Names}}")
    pair.same("ps", "-l", "--filter", mine, "--format", "{{.Names}}")
    pair.same("ps", "-a", "-s", "--filter", mine, "--format", "{{.Names}} {{.Size}}")
    pair.same("ps", "-a", "--filter", mine, table=True)  # docker's default table
    pair.same("ps", "-a", "-s", "--filter", mine, "--format", "table {{.Names}}\t{{.Size}}\t{{.Status}}", table=True)
    # `--format json`: every field, keys sorted; CreatedAt is each side's own moment, and
    # dockerd 20.10 sends no ImageManifestDescriptor, so its Platform is null (later ones: linux/amd64)
    a, b = pair.ok("ps", "-a", "--filter", mine, "--format", "json")
    rows = []
    for side, out in enumerate((a, b)):
        docs = [json.loads(line) for line in pair.norm(out, side).splitlines()]
        for d in docs:
            assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC", d.pop("CreatedAt"))
            d.pop("Platform")
        rows.append(docs)
    assert rows[0] == rows[1]
    assert [list(line) for line in (json.loads(x) for x in a.splitlines())] == \
        [sorted(json.loads(x)) for x in a.splitlines()]  # keys in docker's (sorted) order


@compares("logs", "--details", "--follow", "--since", "--tail", "--timestamps", "--until")
def test_logs_flags_as_docker(pair):
    """stdout and stderr compared each on its own: how dockerd interleaves the two streams in its
    log file is a race between its two copiers."""
    name, mixed = pair.name("logs"), pair.name("mixed")
    _exited(pair, name, pair.image, "sh", "-c", "echo one; echo two; echo three; printf 'no newline'")
    _exited(pair, mixed, "--log-opt", "labels=tier,nope", "--log-opt", "env=FOO,PATH", "-l", "tier=x&y", "-e",
            "FOO=a b", pair.image, "sh", "-c", "echo out1; echo err1 >&2; echo out2; echo err2 >&2")
    for args in ([], ["--details"], ["-f"], ["--since", "1h"]):
        a, b = pair.both("logs", *args, mixed)
        assert (a.rc, a.out, a.err) == (b.rc, b.out, b.err), (args, a, b)
    for args in ([], ["--tail", "2"], ["-n", "0"], ["--tail", "all"], ["--details"], ["-f"],
                 ["--since", "2000-01-01T00:00:00Z"], ["--since", "1h"], ["--until", "2000-01-01"],
                 ["--since", "2999-01-01T00:00:00Z"], ["--until", "1h"], ["--since", "0", "--until", "2999-01-01"]):
        a, b = pair.both("logs", *args, name)
        assert (a.rc, a.out, a.err) == (b.rc, b.out, b.err), (args, a, b)
    stamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z ", re.M)  # each side's own moment
    a, b = pair.both("logs", "-t", "--tail", "2", name)
    assert a.rc == b.rc == 0 and stamp.sub("", a.out) == stamp.sub("", b.out) == "three\nno newline", (a, b)
    assert len(stamp.findall(a.out)) == len(stamp.findall(b.out)) == 2
    a, b = pair.both("logs", "--since", "nonsense", name)
    assert (a.rc, a.out) == (b.rc, b.out) and a.rc != 0


@compares("inspect", "--format", "--size", "--type")
@compares("container inspect", "--format", "--size")
@compares("image inspect", "--format")
def test_inspect_flags_as_docker(pair):
    name = pair.name("insp")
    _exited(pair, name, "-l", "k=v", "-e", "FOO=1", "-w", "/tmp", "--stop-signal", "SIGUSR1", "-u", "nobody",
            pair.image, "sh", "-c", "exit 4")
    fields = ("{{.Name}} {{.Path}} {{json .Args}} {{.State.Status}} {{.State.ExitCode}} {{.State.Running}} "
              "{{.RestartCount}} {{.Image}} {{json .Config.Env}} {{json .Config.Cmd}} {{json .Config.Labels}} "
              "{{.Config.WorkingDir}} {{.Config.User}} {{.Config.StopSignal}} {{.Config.Image}} "
              "{{.HostConfig.NetworkMode}} {{.Id}}")
    pair.same("inspect", "-f", fields, name)
    pair.same("inspect", "--type", "container", "--format", fields, name)
    pair.same("container", "inspect", "--format", fields, name)
    pair.same("inspect", "--format", "{{json .Config.Labels}} {{.Config.Labels.k}}", name, name)
    pair.same("inspect", "-s", "-f", "{{.SizeRw}} {{.SizeRootFs}}", name)
    pair.same("container", "inspect", "--size", "-f", "{{.SizeRw}} {{.SizeRootFs}}", name)
    pair.same("inspect", "-f", "{{.SizeRw}}", name)  # no --size: no such key
    # (not RepoTags: the image's other tags in the shared dockerd are other runs')
    image_fields = ("{{.Id}} {{.Os}} {{.Architecture}} {{.Size}} {{json .Config.Cmd}} "
                    "{{json .Config.Env}} {{.RootFS.Type}} {{len .RootFS.Layers}}")
    pair.same("inspect", "--type", "image", "-f", image_fields, pair.image)
    pair.same("image", "inspect", "--format", image_fields, pair.image)
    # a container is no image: dockerd 20.10 words it "no such image: X: No such image: X:latest"
    pair.same("inspect", "--type", "image", name, stderr=False)
    pair.same("inspect", "--type", "volume", "-f", "{{.Name}}", name)
    pair.same("inspect", "-f", "{{.Nope}}", name)


@compares("kill", "--signal")
def test_process_commands_as_docker(pair):
    """top, port, diff, wait, rename, pause, unpause (commands without flags: no @compares, which
    declares flags) and kill's --signal."""
    up, done = pair.name("up"), pair.name("done")
    pair.running(up, pair.image, "sh", "-c", "trap 'echo got-usr1' USR1; mkdir /made; touch /tmp/x; "
                                             "while true; do sleep 0.1; done")
    _exited(pair, done, pair.image, "sh", "-c", "rm /bin/ls; echo x > /etc/new; exit 5")
    time.sleep(0.5)  # the trap and the files are in place on both sides
    pid = re.compile(r"^(\S+\s+)\d+(\s+)\d+", re.M)  # the host's pids and ppids (ps -ef)

    def top(*args):
        a, b = pair.both("top", up, *args)
        assert a.rc == b.rc == 0, (a, b)
        return pid.sub(r"\1PID\2PPID", a.out), pid.sub(r"\1PID\2PPID", b.out)

    def steady(out):  # the loop's `sleep 0.1` children come and go: not compared
        return [ln for ln in out.splitlines() if "sleep" not in ln]

    ours, theirs = top()
    assert ours.splitlines()[0] == theirs.splitlines()[0]  # the header, laid out alike
    assert sorted(re.sub(r"\d\d:\d\d(:\d\d)?", "T", ln).split()[-1] for ln in steady(ours)[1:]) == \
        sorted(re.sub(r"\d\d:\d\d(:\d\d)?", "T", ln).split()[-1] for ln in steady(theirs)[1:])
    ours, theirs = pair.ours("top", up, "-o", "pid,user,comm").out, pair.theirs("top", up, "-o", "pid,user,comm").out
    assert sorted(re.sub(r"^\d+", "PID", ln) for ln in steady(ours)) == \
        sorted(re.sub(r"^\d+", "PID", ln) for ln in steady(theirs))
    pair.same("top", up, "-o", "user,comm")  # no PID column: refused alike
    pair.same("top", done)  # not running
    pair.same("port", up)
    pair.same("port", up, "80")
    pair.same("diff", done, sort=True)
    pair.same("diff", up, sort=True)
    pair.same("wait", done)
    pair.same("kill", "-s", "USR1", up)
    time.sleep(0.5)  # two signals during one `sleep 0.1` would make one trap run
    pair.same("kill", "--signal", "SIGUSR1", up)
    pair.same("kill", "-s", "NOPE", up)
    time.sleep(0.5)
    a, b = pair.both("logs", up)
    assert a.out == b.out == "got-usr1\ngot-usr1\n"
    pair.same("pause", up)
    pair.same("ps", "--filter", f"name={up}", "--format", "{{.State}} {{.Status}}")
    pair.same("pause", up)  # already paused
    pair.same("unpause", up)
    pair.same("unpause", up)  # not paused
    pair.same("rename", done, pair.name("renamed"))
    pair.same("rename", pair.name("renamed"), done)
    pair.same("rename", done, up)  # taken
    pair.same("kill", done)  # not running
    pair.same("kill", up)
    pair.same("wait", up)
    pair.same("ps", "-a", "--filter", f"name={up}", "--format", "{{.State}} {{.Status}}")


@compares("rm", "--force", "--volumes")
def test_rm_flags_as_docker(pair):
    up, done = pair.name("up"), pair.name("done")
    pair.running(up, pair.image, "sleep", "300")
    _exited(pair, done, "-v", "/data", pair.image, "true")
    vols = anon_volume(pair, done)
    pair.same("rm", up)  # running: refused
    pair.same("rm", "-v", done)
    a, b = pair.ours("volume", "inspect", vols[0]), pair.theirs("volume", "inspect", vols[1])
    assert a.rc == b.rc == 1  # the anonymous volume went with it
    pair.same("rm", "--force", up)
    pair.same("rm", "-f", up)  # no such container now: said, but no failure with -f
    pair.same("rm", up)  # a failure without
    pair.same("rm", "-f", pair.name("never"), done)


@compares("stats", "--all", "--format", "--no-stream", "--no-trunc")
def test_stats_flags_as_docker(pair):
    """Memory and CPU figures are each kernel's measurement; names, IDs, PIDs, the network and
    block I/O of an idle --network none container are the same."""
    up, done = pair.name("up"), pair.name("done")
    pair.running(up, pair.image, "sleep", "300")
    _exited(pair, done, pair.image, "true")
    fmt = "{{.Name}} {{.Container}} {{.ID}} {{.PIDs}} {{.NetIO}} {{.BlockIO}}"
    pair.same("stats", "--no-stream", "--format", fmt, up)
    pair.same("stats", "--no-stream", "--no-trunc", "--format", fmt, up)
    pair.same("stats", "--no-stream", "--format", fmt, up, done)
    pair.same("stats", "--no-stream", "-a", "--format", fmt, up, done)
    a, b = pair.both("stats", "--no-stream", up)
    assert a.rc == b.rc == 0
    assert a.out.splitlines()[0] == b.out.splitlines()[0]  # the header
    assert a.out.split()[8:10] == b.out.split()[8:10]  # the ID and the name
    # json: docker's keys, sorted
    a, b = pair.ok("stats", "--no-stream", "--format", "json", up)
    assert list(json.loads(a)) == list(json.loads(b))
    pair.same("stats", "--no-stream", pair.name("never"))


@compares("update", "--blkio-weight", "--cpu-period", "--cpu-quota", "--cpu-shares", "--cpus", "--cpuset-cpus",
          "--cpuset-mems", "--memory", "--memory-reservation", "--memory-swap", "--pids-limit", "--restart")
def test_update_flags_as_docker(pair):
    """A blkio weight this host cannot apply (no BFQ) is discarded with the same warning by both."""
    up, new = pair.name("up"), pair.name("new")
    pair.running(up, pair.image, "sleep", "300")
    pair.container(new, pair.image, "true")
    # (PidsLimit alone: with fields not spelt as docker's Go struct, docker renders the template
    # over the raw JSON, where a null prints as <no value>, not <nil>; see the known differences)
    fields = ("{{.HostConfig.NanoCpus}} {{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} "
              "{{.HostConfig.MemoryReservation}} {{.HostConfig.CpuShares}} "
              "{{.HostConfig.BlkioWeight}} {{.HostConfig.CpuPeriod}} {{.HostConfig.CpuQuota}} "
              "{{.HostConfig.CpusetCpus}} {{.HostConfig.CpusetMems}} {{.HostConfig.RestartPolicy.Name}} "
              "{{.HostConfig.RestartPolicy.MaximumRetryCount}}")
    a, b = pair.both("update", "--cpus", "0.5", "--memory", "64m", "--memory-swap", "128m", "--memory-reservation",
                     "32m", "--pids-limit", "50", "--cpu-shares", "512", "--blkio-weight", "300", "--cpuset-cpus",
                     "0", "--cpuset-mems", "0", "--restart", "on-failure:2", up)
    assert (a.rc, a.out, a.err) == (b.rc, b.out, b.err), (a, b)
    pair.same("inspect", "-f", fields, up)
    pair.same("inspect", "-f", "{{.HostConfig.PidsLimit}}", up, new)
    pair.same("update", "--cpu-period", "100000", up)  # --cpus set: dockerd's refusal
    pair.same("update", "--cpu-quota", "50000", up)
    pair.same("update", "--cpus", "1", "--cpu-quota", "50000", up)
    pair.same("update", "--cpus", "1", "--cpu-period", "50000", up)
    pair.same("update", "--cpu-period", "100000", "--cpu-quota", "25000", new)
    pair.same("inspect", "-f", fields, new)
    pair.same("update", "--memory", "256m", "--memory-swap", "-1", "--restart", "always", new)
    pair.same("inspect", "-f", fields, new)
    pair.same("update", "--memory", "1m", new)  # below dockerd's minimum
    pair.same("update", "--restart", "nope", new)
    pair.same("update", "--memory-reservation", "512m", "--memory", "256m", new)  # above the limit


@compares("commit", "--author", "--change", "--message", "--pause")
def test_commit_flags_as_docker(pair):
    """Each side's image ID holds its creation time; its config and history are compared."""
    name = pair.name("src")
    _exited(pair, name, "-l", "k=v", "-e", "FOO=1", "-w", "/tmp", pair.image, "sh", "-c",
            "echo data > /tmp/file; exit 0")
    tag = pair.name("img") + ":1"
    pair.made["image"].append(tag)
    a, b = pair.both("commit", "-a", "Someone <s@example.com>", "-m", "a message", "-c", "ENV X=2", "-c",
                     "LABEL z=w", "-c", 'CMD ["cat", "/tmp/file"]', "-c", "EXPOSE 8080", "--pause=false", name, tag)
    assert a.rc == b.rc == 0, (a, b)
    pair.same_id("committed", a.out, b.out)
    fields = ("{{.Author}}|{{.Comment}}|{{json .Config.Env}}|{{json .Config.Labels}}|{{json .Config.Cmd}}|"
              "{{json .Config.ExposedPorts}}|{{.Config.WorkingDir}}|{{len .RootFS.Layers}}|{{.Parent}}")
    pair.same("image", "inspect", "-f", fields, tag)
    pair.same("history", "--format", "{{.CreatedBy}}|{{.Comment}}|{{.Size}}", tag)
    pair.same("run", "--rm", "--network", "none", tag)
    up = pair.name("up")
    pair.running(up, pair.image, "sh", "-c", "echo hi > /hi; sleep 300")
    tag2 = pair.name("img") + ":2"
    pair.made["image"].append(tag2)
    a, b = pair.both("commit", "-p", up, tag2)
    assert a.rc == b.rc == 0
    pair.same("ps", "--filter", f"name={up}", "--format", "{{.State}}")  # running again after the pause
    pair.same("commit", "-c", "NOPE x", name, tag2)


@compares("cp", "--archive", "--follow-link", "--quiet")
@compares("export", "--output")
def test_cp_and_export_flags_as_docker(pair, tmp_path):
    name = pair.name("files")
    _exited(pair, name, pair.image, "sh", "-c", "mkdir -p /d/sub && echo a > /d/a && ln -s a /d/link && "
                                                "echo b > /d/sub/b && chown 1000:1000 /d/a")
    src = tmp_path / "src"
    (src / "in").mkdir(parents=True)
    (src / "in" / "f").write_text("host\n")
    (src / "link").symlink_to("in/f")
    for side in ("ours", "theirs"):
        (tmp_path / side).mkdir()

    def cp(*args):
        outs = []
        for side in ("ours", "theirs"):
            argv = [a.replace("DEST", str(tmp_path / side)) for a in args]
            outs.append(getattr(pair, side)("cp", *argv))
        a, b = outs
        err = [unprefixed_first(r.err).replace(str(tmp_path / side), "DEST") for r, side in zip(outs, ("ours", "theirs"))]
        assert (a.rc, a.out, err[0]) == (b.rc, b.out, err[1]), (args, a, b)
        return a

    cp(f"{name}:/d", "DEST/d")
    cp("-a", f"{name}:/d/a", "DEST/a-archive")
    cp(f"{name}:/d/a", "DEST/a-plain")
    cp("-L", f"{name}:/d/link", "DEST/followed")
    cp(f"{name}:/d/link", "DEST/kept")
    cp("-q", f"{name}:/d/sub/b", "DEST/b")
    cp(f"{name}:/nope", "DEST/x")
    cp(f"{name}:/d/a", "DEST/nodir/x")
    listing = {}
    for side in ("ours", "theirs"):
        root = tmp_path / side
        listing[side] = sorted((str(p.relative_to(root)), p.is_symlink(), p.is_symlink() and str(p.readlink()),
                                p.lstat().st_uid if p.name.startswith("a-") else None,
                                not p.is_symlink() and p.is_file() and p.read_text())
                               for p in root.rglob("*"))
    assert listing["ours"] == listing["theirs"]
    for args in (("-a", str(src / "in" / "f"), f"{name}:/tmp/f1"), ("-L", str(src / "link"), f"{name}:/tmp/f2"),
                 (str(src / "link"), f"{name}:/tmp/f3"), ("-q", str(src / "in"), f"{name}:/tmp/in")):
        pair.same("cp", *args)
    pair.same("diff", name, sort=True)
    for side in ("ours", "theirs"):
        r = getattr(pair, side)("export", "-o", str(tmp_path / f"{side}.tar"), name)
        assert r.rc == 0 and r.out == "", r
    import tarfile

    def entries(path):
        """Not dockerd's init layer (/.dockerenv, the /dev and /etc mount points it makes in every
        container's root), and the permission bits only (Go's tar headers also carry the type's)."""
        with tarfile.open(path) as t:
            return sorted((m.name.rstrip("/"), m.type, m.uid, m.mode & 0o7777, m.linkname, m.size)
                          for m in t.getmembers()
                          if m.name.rstrip("/") not in (".dockerenv", "dev/console", "dev/pts", "dev/shm",
                                                        "etc/hostname", "etc/hosts", "etc/mtab", "etc/resolv.conf"))

    assert entries(tmp_path / "ours.tar") == entries(tmp_path / "theirs.tar")
    pair.same("export", "--output", str(tmp_path / "nodir" / "x.tar"), name)


def unprefixed_first(err: str) -> str:
    from flagcmp import unprefixed

    lines = unprefixed(err).strip().splitlines()
    return lines[0] if lines else ""


@compares("attach", "--no-stdin", "--sig-proxy", "--detach-keys")
def test_attach_flags_as_docker(pair):
    """Attached to a container that prints and exits: its output and its exit code."""
    for flags in (("--no-stdin",), ("--sig-proxy=false",), ("--no-stdin", "--detach-keys", "ctrl-x,x")):
        name = pair.name("att" + str(len(pair.made["container"])))
        pair.running(name, pair.image, "sh", "-c", "sleep 1.5; echo late; echo err >&2; exit 7")
        a, b = pair.both("attach", *flags, name)
        assert (a.rc, a.out, a.err) == (b.rc, b.out, b.err) == (7, "late\n", "err\n"), (flags, a, b)
    pair.same("attach", "--detach-keys", "ctrl-", name)  # exited: refused before the keys are read
    pair.same("attach", name)
