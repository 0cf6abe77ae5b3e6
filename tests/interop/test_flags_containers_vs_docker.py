"""Issue 15's proof for exec, start, stop and restart: every implemented flag run through dockyard
and through docker CLI 28 against dockerd (docker.io 20.10, no bridge: --network none on both
sides) on the same image, with the same exit code and the same output. Normalised: nothing but
the container names (each side's own). What cannot be compared here is in
tests/interop/comparisons.py (stop/restart --signal: dockerd 20.10's API is older than the flag)."""

from __future__ import annotations

import os
import re
import subprocess
import time
import uuid

import pytest
from dockyard_interop import compares

@pytest.fixture(scope="module")
def docker(docker28):
    return docker28


@pytest.fixture
def image(dy, busybox, docker, tmp_path):
    tag = f"dyflags-{uuid.uuid4().hex[:8]}:1"
    dy("tag", "busybox", tag)
    dy("save", "-o", str(tmp_path / "bb.tar"), tag)
    assert subprocess.run([docker, "load", "-i", str(tmp_path / "bb.tar")], capture_output=True,
                          timeout=120).returncode == 0
    yield tag  # (each test removes its containers by name: `ps --filter ancestor=` would match every
    # container of this image id, which other sessions' busybox images share)
    subprocess.run([docker, "rmi", "-f", tag], capture_output=True, timeout=60)


class Both:
    """One invocation through each CLI: (exit code, stdout, stderr) of dockyard's and docker's."""

    def __init__(self, dy, docker):
        self.dy, self.docker = dy, docker

    def __call__(self, *argv: str, input: str | None = None, timeout: float = 60):
        ours = self.dy(*argv, check=False, input=input, timeout=timeout)
        theirs = subprocess.run([self.docker, *argv], capture_output=True, timeout=timeout,
                                input=input.encode() if input is not None else None,
                                stdin=None if input is not None else subprocess.DEVNULL)
        return (ours.returncode, ours.out, ours.err), \
            (theirs.returncode, theirs.stdout.decode(errors="replace"), theirs.stderr.decode(errors="replace"))

    def each(self, *argv: str, timeout: float = 60):
        """The same setup command on each side (it must work on both)."""
        for cmd in (self.dy.cmd(*argv), [self.docker, *argv]):
            p = subprocess.run(cmd, env=self.dy.env, capture_output=True, text=True, timeout=timeout,
                               stdin=subprocess.DEVNULL)
            assert p.returncode == 0, (cmd, p.stderr)


@compares("exec", "--env", "--env-file", "--user", "--workdir", "--interactive", "--detach", "--privileged")
def test_exec_flags_match_docker(dy, docker, image, name, tmp_path):
    both = Both(dy, docker)
    envf = tmp_path / "env"
    envf.write_text("B=from-file\n# a comment\nC\n")  # C: taken from the caller's environment
    os.environ["C"] = dy.env["C"] = "from-caller"
    try:
        both.each("run", "-d", "--name", name, "--network", "none", image, "sleep", "300")
        ours, theirs = both("exec", "-e", "A=1", "--env-file", str(envf), "-u", "nobody", "-w", "/tmp", name, "sh",
                            "-c", "echo $A $B $C; id; pwd; grep -E 'CapEff|CapBnd' /proc/self/status")
        assert theirs[0] == 0 and "nobody" in theirs[1], theirs
        assert ours == theirs
        ours, theirs = both("exec", "-i", name, "sh", "-c", "cat; echo end", input="line1\nline2\n")
        assert ours == theirs == (0, "line1\nline2\nend\n", "")
        ours, theirs = both("exec", name, "sh", "-c", "cat; echo end", input="not read\n")  # no -i: no stdin
        assert ours == theirs == (0, "end\n", "")
        ours, theirs = both("exec", "-d", name, "sh", "-c", "echo detached >> /tmp/d")
        assert ours == theirs == (0, "", "")
        time.sleep(0.5)
        ours, theirs = both("exec", name, "cat", "/tmp/d")
        assert ours == theirs == (0, "detached\n", "")
        # --privileged asks for every capability, and this test host's own bounding set lacks some
        # (`docker run --cap-add ALL` fails here too): in both 126 and EPERM from setting them (the
        # wording is each runtime's own error chain, runc's or ours, and dockerd writes it on stdout)
        ours, theirs = both("exec", "--privileged", name, "true")
        assert ours[0] == theirs[0] == 126, (ours, theirs)
        assert all("operation not permitted" in (s[1] + s[2]).lower() for s in (ours, theirs)), (ours, theirs)
    finally:
        os.environ.pop("C", None)
        subprocess.run([docker, "rm", "-f", name], capture_output=True, timeout=60)


@compares("exec", "--tty")
def test_exec_tty_matches_docker(dy, docker, image, name):
    """-t without -i: a terminal for the process, whatever the caller's stdin."""
    both = Both(dy, docker)
    try:
        both.each("run", "-d", "--name", name, "--network", "none", image, "sleep", "300")
        ours, theirs = both("exec", "-t", name, "sh", "-c", "tty; test -t 1 && echo is-a-tty")
        assert theirs[0] == 0 and theirs[1].endswith("\r\nis-a-tty\r\n"), theirs  # the terminal's CR LF
        # the pty's number is the kernel's pick in the container's devpts (one left open by the
        # exec before would make it 1)
        pts = lambda r: (r[0], re.sub(r"/dev/pts/[0-9]+", "/dev/pts/N", r[1]), r[2])  # noqa: E731
        assert pts(ours) == pts(theirs)
    finally:
        subprocess.run([docker, "rm", "-f", name], capture_output=True, timeout=60)


@compares("start", "--attach", "--interactive")
def test_start_attach_and_interactive_match_docker(dy, docker, image, name):
    both = Both(dy, docker)
    try:
        both.each("create", "--name", name, "--network", "none", image, "sh", "-c", "echo out; echo err >&2; exit 3")
        ours, theirs = both("start", "-a", name)
        assert ours == theirs == (3, "out\n", "err\n")
        both.each("create", "-i", "--name", name + "-i", "--network", "none", image, "sh", "-c", "cat; echo done")
        ours, theirs = both("start", "-a", "-i", name + "-i", input="hello\n")
        assert ours == theirs == (0, "hello\ndone\n", "")
    finally:
        subprocess.run([docker, "rm", "-f", name, name + "-i"], capture_output=True, timeout=60)


@compares("start", "--detach-keys")
def test_start_detach_keys_match_docker(dy, docker, image, name):
    """On a terminal, the keys given detach (docker's start ends quietly with 0, the container runs
    on); `script` gives each CLI its terminal."""
    both = Both(dy, docker)
    try:
        both.each("create", "-it", "--name", name, "--network", "none", image, "sh", "-c",
                  "read a; echo got $a; sleep 60")
        outs = []
        for cli in (" ".join(dy.cmd()), docker):
            feed = subprocess.Popen(["sh", "-c", "sleep 1; printf 'abc\\r'; sleep 1; printf '\\001x'; sleep 2"],
                                    stdout=subprocess.PIPE)
            p = subprocess.run(["script", "-qec", f"{cli} start -ai --detach-keys ctrl-a,x {name}; echo rc=$?",
                                "/dev/null"], stdin=feed.stdout, env=dy.env, capture_output=True, timeout=60)
            feed.wait(10)
            state = subprocess.run([*cli.split(), "inspect", "-f", "{{.State.Running}}", name], env=dy.env,
                                   capture_output=True, text=True, timeout=60).stdout
            outs.append((p.stdout.decode(errors="replace"), state))
        assert outs[1] == ("abc\r\ngot abc\r\nrc=0\r\n", "true\n"), outs[1]
        assert outs[0] == outs[1]
    finally:
        subprocess.run([docker, "rm", "-f", name], capture_output=True, timeout=60)


TRAP = 'trap "echo got-term; exit 3" TERM; echo started; while :; do sleep 0.1; done'
DEAF = 'trap "" TERM; echo started; while :; do sleep 0.1; done'  # ignores SIGTERM: only the timeout ends it


@compares("stop", "--timeout")
@compares("restart", "--timeout")
def test_stop_and_restart_timeouts_match_docker(dy, docker, image, name):
    """A container deaf to SIGTERM: -t 1 kills it after one second (137), -t 0 at once, where the
    default would wait 10 s; one that traps it exits 3 inside a long timeout. Logs show what ran."""
    both = Both(dy, docker)
    try:
        both.each("run", "-d", "--name", name, "--network", "none", image, "sh", "-c", DEAF)
        both.each("run", "-d", "--name", name + "-t", "--network", "none", image, "sh", "-c", TRAP)
        time.sleep(1)
        results = []
        for argv in (["stop", "-t", "1", name], ["restart", "--timeout", "0", name], ["stop", "--timeout", "0", name],
                     ["restart", "-t", "5", name + "-t"], ["stop", "-t", "30", name + "-t"]):
            t0 = time.monotonic()
            ours, theirs = both(*argv)
            took = time.monotonic() - t0
            assert ours == theirs == (0, argv[-1] + "\n", ""), (argv, ours, theirs)
            results.append(argv)
            assert took < 2 * 8, (argv, took)  # both sides, each well inside docker's default 10 s
            time.sleep(0.5)
        for ctr in (name, name + "-t"):
            ours, theirs = both("inspect", "-f", "{{.State.ExitCode}} {{.State.Running}}", ctr)
            assert ours == theirs, (ctr, ours, theirs)
            ours, theirs = both("logs", ctr)
            assert ours == theirs, (ctr, ours, theirs)
        assert both("inspect", "-f", "{{.State.ExitCode}}", name)[1][1] == "137\n"
        assert both("logs", name + "-t")[1][1] == "started\ngot-term\nstarted\ngot-term\n"
    finally:
        subprocess.run([docker, "rm", "-f", name, name + "-t"], capture_output=True, timeout=60)
