"""`dockyard attach`, `start -a/-i`, `run -a`, --sig-proxy: the CLI joined to a container's stdio
through its monitor's attach socket."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

from support import Pty, assert_nothing_left, wait_for


def _status(dy, name: str) -> str:
    return dy("inspect", "-f", "{{.State.Status}}", name).out.strip()


def test_start_attach_streams_and_exit_code(dy, busybox, tmp_path):
    dy("create", "--name", "a1", "--network", "none", "busybox", "sh", "-c",
       "echo out; echo err >&2; exit 6")
    p = dy("start", "-a", "a1", check=False)
    assert (p.returncode, p.out, p.err) == (6, "out\n", "err\n")
    # the output from the first byte: the monitor waited for us before the process started
    dy("create", "--name", "a2", "--network", "none", "busybox", "sh", "-c", "seq 1 2000")
    p = dy("start", "-a", "a2")
    assert p.out.split() == [str(i) for i in range(1, 2001)]
    # -i: stdin in, its end closes the container's (StdinOnce from create -i)
    dy("create", "-i", "--name", "a3", "--network", "none", "busybox", "md5sum")
    data = os.urandom(200_000)  # with ctrl-p ctrl-q in it somewhere: no TTY, no detach keys
    import hashlib

    p = dy("start", "-ai", "a3", input=data)
    assert p.out.split()[0] == hashlib.md5(data).hexdigest()
    p = dy("start", "-a", "a1", "a2", check=False)
    assert p.returncode == 1 and "cannot start and attach multiple containers" in p.err
    p = dy("start", "-a", "--detach-keys", "ctrl-", "a1", check=False)
    assert p.returncode != 0 and "Invalid detach keys" in p.err
    dy("rm", "a1", "a2", "a3")
    assert_nothing_left(dy, tmp_path)


def test_attach_tty_detach_keys_and_leaving(dy, busybox, tmp_path):
    dy("run", "-dit", "--name", "sh", "--network", "none", "busybox", "sh")
    t = Pty(dy, "attach", "sh", rows=30, cols=90)
    try:
        time.sleep(0.5)
        t.send(b"stty size; echo $((3*4))\r")
        t.expect(rb"30 90\r\n12\r\n")  # our size reached its terminal
        t.send(b"\x10\x11")
        assert t.wait() == 1 and b"read escape sequence" in t.buf
    finally:
        t.kill()
    assert _status(dy, "sh") == "running"
    # two attachers at once both see the output; one leaving leaves the other and the container
    a = Pty(dy, "attach", "--detach-keys", "ctrl-a", "sh")
    b = Pty(dy, "attach", "--no-stdin", "sh")
    try:
        time.sleep(0.7)
        a.send(b"echo both-$((5*5))\r")
        a.expect(rb"both-25")
        b.expect(rb"both-25")
        b.kill()  # gone without a word
        a.send(b"echo still-$((6*6))\r")
        a.expect(rb"still-36")
        a.send(b"\x01")
        assert a.wait() == 1
    finally:
        a.kill()
        b.kill()
    assert _status(dy, "sh") == "running"
    t = Pty(dy, "attach", "sh")
    try:
        time.sleep(0.5)
        t.send(b"exit 9\r")
        assert t.wait() == 9
    finally:
        t.kill()
    p = dy("attach", "sh", check=False)
    assert p.returncode == 1 and "You cannot attach to a stopped container, start it first" in p.err
    # the attach socket is the monitor's: 0600, and gone with it
    dy("rm", "sh")
    assert_nothing_left(dy, tmp_path)


def test_attach_non_tty_sig_proxy_and_hostile_socket_clients(dy, busybox, tmp_path):
    cid = dy("run", "-d", "--name", "trap", "--network", "none", "busybox", "sh", "-c",
             "trap 'echo got-term; exit 4' TERM; while true; do sleep 0.1; done").out.strip()
    p = subprocess.Popen(dy.cmd("attach", "trap"), env=dy.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL)
    time.sleep(0.8)
    p.send_signal(signal.SIGTERM)  # --sig-proxy (the default): the container gets it
    out, err = p.communicate(timeout=20)
    assert (p.returncode, out) == (4, b"got-term\n"), err
    # junk on the monitor's socket does not disturb it
    dy("run", "-d", "--name", "quiet", "--network", "none", "busybox", "sh", "-c",
       "while true; do echo tick; sleep 0.1; done")
    qid = dy("inspect", "-f", "{{.Id}}", "quiet").out.strip()
    path = os.path.join(dy.runroot, "containers", qid, "attach")
    assert os.stat(path).st_mode & 0o777 == 0o600
    fd = os.open(os.path.dirname(path), os.O_PATH)
    try:
        for junk in (b"not json\n", b"[1,2]\n", b'{"resize": ["x", 1]}\n', b'{"resize": [0, 99999999]}\n',
                     b"x" * 5000, b""):
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(f"/proc/self/fd/{fd}/attach")
                s.sendall(junk)
        with socket.socket(socket.AF_UNIX) as s:  # a client that never reads is dropped, not waited for
            s.connect(f"/proc/self/fd/{fd}/attach")
            s.sendall(b'{"stdout": true}\n')
            time.sleep(0.5)
    finally:
        os.close(fd)
    n = dy("logs", "quiet").out.count("tick")
    wait_for(lambda: dy("logs", "quiet").out.count("tick") > n + 3, what="the monitor to go on draining")
    assert _status(dy, "quiet") == "running"
    dy("rm", "-f", "trap", "quiet")
    assert cid
    assert_nothing_left(dy, tmp_path)


def test_run_attach_flags(dy, busybox, tmp_path):
    script = "echo out; echo err >&2"
    p = dy("run", "--rm", "-a", "stdout", "--network", "none", "busybox", "sh", "-c", script)
    assert (p.out, p.err) == ("out\n", "")
    p = dy("run", "--rm", "-a", "STDERR", "--network", "none", "busybox", "sh", "-c", script)
    assert (p.out, p.err) == ("", "err\n")
    p = dy("run", "--rm", "-i", "-a", "stdin", "-a", "stdout", "--network", "none", "busybox", "cat", input=b"in\n")
    assert p.out == "in\n"
    # docker CLI 28's codes: a flag's bad value 125, options that conflict 1; a refused flag 125
    for args, msg, code in ((("-a", "bogus"), 'valid streams are STDIN, STDOUT and STDERR', 125),
                            (("-d", "-a", "stdout"), "conflicting options: cannot specify both --attach and --detach", 1),
                            (("--detach-keys", "ctrl-a"), "cannot detach", 125)):
        p = dy("run", "--rm", *args, "busybox", "true", check=False)
        assert p.returncode == code and msg in p.err, (args, p.err)
    # --sig-proxy=false: our SIGTERM is ours, not the container's, and (as docker CLI's) does not end us
    p = subprocess.Popen(dy.cmd("run", "--rm", "--sig-proxy=false", "--name", "np", "--network", "none", "busybox",
                                "sh", "-c", "trap 'echo got; exit 3' TERM; sleep 1000 & wait"),
                         env=dy.env, stdout=subprocess.PIPE)
    wait_for(lambda: dy("ps", "-q", "-f", "name=np").out.strip() != "", what="the container")
    time.sleep(0.3)
    p.send_signal(signal.SIGTERM)
    time.sleep(1)
    assert p.poll() is None  # still attached
    assert _status(dy, "np") == "running"  # the signal was not forwarded: the trap did not run
    dy("rm", "-f", "np")
    assert p.wait(10) == 137
    assert b"got" not in p.stdout.read()
    wait_for(lambda: dy("ps", "-aq").out == "", what="--rm")
    assert_nothing_left(dy, tmp_path)
