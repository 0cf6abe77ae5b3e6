"""`dockyard run` end to end, checked against what Docker 20.10 does on the same machine.

Every test runs the real CLI (`dy(...)`) against its own store; containers use the default
`--network none` or `--network host`, and nothing connects anywhere. Docker's reference values
(measured): CapEff 00000000a80425fb, Seccomp 2, HOSTNAME = the id's first 12 characters, exit
codes 125/126/127/128+N, masked and read-only /proc paths, /dev contents.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from support import Pty, assert_nothing_left, listdir, mounts_under, no_traceback, wait_for

DEFAULT_CAPS = 0x00000000A80425FB
CAP = {"CHOWN": 0, "NET_ADMIN": 12, "NET_RAW": 13, "SYS_ADMIN": 21, "SYS_RESOURCE": 24}
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HOSTS_LINES = [
    "127.0.0.1 localhost",
    "::1 localhost ip6-localhost ip6-loopback",
    "fe00::0 ip6-localnet",
    "ff00::0 ip6-mcastprefix",
    "ff02::1 ip6-allnodes",
    "ff02::2 ip6-allrouters",
]
PS_HEADERS = ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]


# -- helpers -------------------------------------------------------------------------------------


def all_caps_mask() -> int:
    with open("/proc/sys/kernel/cap_last_cap") as f:
        return (1 << (int(f.read()) + 1)) - 1


def host_status(field: str) -> str:
    with open("/proc/self/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k == field:
                return v.strip()
    raise KeyError(field)


def status_of(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        k, sep, v = line.partition(":")
        if sep:
            out[k.strip()] = v.strip()
    return out


def caps_in(dy, *flags: str) -> dict[str, int]:
    """The Cap* lines of /proc/self/status of a container's process (exec'd directly, no shell)."""
    st = status_of(dy("run", "--rm", *flags, "busybox", "cat", "/proc/self/status").out)
    return {k: int(v, 16) for k, v in st.items() if k.startswith("Cap")}


def lines(text: str) -> list[str]:
    return text.replace("\r", "").splitlines()


def inspect(dy, ref: str) -> dict:
    return json.loads(dy("inspect", ref).out)[0]


def ps_row(dy, name: str, *flags: str) -> str | None:
    for line in dy("ps", *flags).out.splitlines()[1:]:
        if line.rstrip().endswith("   " + name) or line.split()[-1:] == [name]:
            return line
    return None


def start_background(dy, name: str, *args: str) -> subprocess.Popen:
    """A foreground `dockyard run --name NAME busybox ARGS…` CLI in the background; returns once Up."""
    p = subprocess.Popen(dy.cmd("run", "--name", name, "busybox", *args), env=dy.env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: p.poll() is not None or (ps_row(dy, name) or "").find(" Up ") >= 0,
                 what=f"{name} to be Up")
        if p.poll() is not None:
            raise AssertionError(f"run exited early ({p.returncode}): {p.stderr.read().decode()}")
    except BaseException:
        p.kill()
        p.wait()
        raise
    return p




# -- a bootstrapped store, copied --------------------------------------------------------------


# -- PID 1, hostname, /etc files ------------------------------------------------------------------


def test_pid1_and_only_the_containers_processes(dy, busybox):
    out = dy("run", "--rm", "busybox", "sh", "-c", "echo $$; echo ---; ps -o pid,comm; echo ---; ls /proc; true").out
    pid, ps, proc = out.split("---\n")
    assert pid == "1\n"
    rows = [line.split() for line in ps.splitlines()[1:]]
    # the shell (PID 1) and ps itself: nothing of the host, nothing else
    assert sorted(int(r[0]) for r in rows) == [1, max(int(r[0]) for r in rows)] and len(rows) == 2, ps
    assert [r[1] for r in sorted(rows, key=lambda r: int(r[0]))] == ["sh", "ps"]
    assert len([x for x in proc.split() if x.isdigit()]) == 2, proc  # sh and ls


def test_hostname_defaults_to_the_short_id(dy, busybox, name):
    out = lines(dy("run", "--name", name, "busybox", "sh", "-c", "hostname; cat /etc/hostname; echo $HOSTNAME").out)
    cid = inspect(dy, name)["Id"]
    assert re.fullmatch(r"[0-9a-f]{64}", cid)
    assert out == [cid[:12]] * 3
    assert inspect(dy, name)["Config"]["Hostname"] == cid[:12]


def test_hostname_flag(dy, busybox):
    out = lines(dy("run", "--rm", "--hostname", "h", "busybox", "sh", "-c",
                   "hostname; cat /etc/hostname; echo $HOSTNAME; uname -n").out)
    assert out == ["h", "h", "h", "h"]


def test_etc_hosts_and_hostname_files(dy, busybox):
    out = dy("run", "--rm", "--network", "none", "busybox", "sh", "-c",
             "cat /etc/hosts; echo ---; cat /etc/hostname; hostname").out
    hosts, rest = out.split("---\n")
    got = [" ".join(line.split()) for line in hosts.splitlines() if line.strip()]
    for want in HOSTS_LINES:
        assert want in got
    # --network none: no address of the container, nothing but the localhost family
    assert sorted(got) == sorted(HOSTS_LINES)
    name_file, hostname = rest.splitlines()
    assert name_file == hostname and re.fullmatch(r"[0-9a-f]{12}", hostname)


def test_default_network_gives_an_address_named_in_etc_hosts(dy, busybox):
    out = dy("run", "--rm", "busybox", "sh", "-c", "hostname; ip -4 -o addr show eth0; cat /etc/hosts").out
    hostname, addr = out.splitlines()[:2]
    ip = re.search(r"inet (\d+\.\d+\.\d+\.\d+)/", addr).group(1)
    assert f"{ip}\t{hostname}" in out


# -- capabilities, seccomp, no_new_privs -----------------------------------------------------------


def test_default_capabilities_are_dockers(dy, busybox):
    caps = caps_in(dy)
    assert caps == {"CapInh": 0, "CapPrm": DEFAULT_CAPS, "CapEff": DEFAULT_CAPS, "CapBnd": DEFAULT_CAPS,
                    "CapAmb": 0}


@pytest.mark.parametrize("flags, want", [
    (("--cap-drop", "NET_RAW"), DEFAULT_CAPS & ~(1 << CAP["NET_RAW"])),
    (("--cap-add", "SYS_ADMIN"), DEFAULT_CAPS | 1 << CAP["SYS_ADMIN"]),
    (("--cap-add", "cap_net_admin"), DEFAULT_CAPS | 1 << CAP["NET_ADMIN"]),  # docker accepts both spellings
    (("--cap-drop", "ALL"), 0),
    (("--cap-drop", "ALL", "--cap-add", "CHOWN"), 1 << CAP["CHOWN"]),
], ids=["drop-net-raw", "add-sys-admin", "add-lowercase-prefixed", "drop-all", "drop-all-add-chown"])
def test_cap_add_and_drop(dy, busybox, flags, want):
    caps = caps_in(dy, *flags)
    assert caps["CapEff"] == want, hex(caps["CapEff"])
    assert caps["CapPrm"] == want and caps["CapBnd"] == want
    assert caps["CapInh"] == 0 and caps["CapAmb"] == 0


def test_unknown_capability_is_refused(dy, busybox):
    p = dy("run", "--rm", "--cap-add", "NOPE", "busybox", "true", check=False)
    assert p.returncode == 125
    assert "NOPE" in p.err and "capabilit" in p.err.lower()
    no_traceback(p)
    assert dy("ps", "-aq").out == ""


def _all_caps_or_clear_error(dy, flags: tuple[str, ...], script: str):
    """Every capability, or (on a host missing some, as this VM lacks CAP_SYS_RESOURCE) a clean 125."""
    p = dy("run", "--rm", *flags, "busybox", "sh", "-c", script, check=False)
    no_traceback(p)
    host_bnd = int(host_status("CapBnd"), 16)
    if p.returncode == 0:
        st = status_of(p.out)
        want = all_caps_mask() & host_bnd
        assert int(st["CapEff"], 16) == want and int(st["CapBnd"], 16) == want
        return st, p.out
    assert host_bnd != all_caps_mask(), "the host has every capability: this must work"
    assert p.returncode == 125, (p.returncode, p.err)
    assert p.err.startswith("dockyard: error: "), p.err
    assert "cap" in p.err.lower(), p.err  # says it is about capabilities
    assert dy("ps", "-aq").out == ""
    return None, p.err


def test_cap_add_all(dy, busybox):
    _all_caps_or_clear_error(dy, ("--cap-add", "ALL"), "cat /proc/self/status")


def test_privileged(dy, busybox):
    st, out = _all_caps_or_clear_error(
        dy, ("--privileged",),
        "cat /proc/self/status; echo ---; grep -E ' /sys | /proc/sys ' /proc/mounts; wc -c < /proc/timer_list")
    if st is None:
        return
    assert st["Seccomp"] == "0"
    mounts = out.split("---\n")[1]
    for line in mounts.splitlines()[:-1]:
        assert "rw" in line.split()[3].split(","), line  # nothing read-only, nothing masked
    assert int(mounts.splitlines()[-1]) > 0


def test_no_new_privileges(dy, busybox):
    st = status_of(dy("run", "--rm", "--security-opt", "no-new-privileges", "busybox", "cat", "/proc/self/status").out)
    assert st["NoNewPrivs"] == "1"
    assert st["Seccomp"] == "2"  # the default profile still applies
    assert int(st["CapEff"], 16) == DEFAULT_CAPS
    st = status_of(dy("run", "--rm", "busybox", "cat", "/proc/self/status").out)
    assert st["NoNewPrivs"] == "0"


def test_no_new_privileges_with_value(dy, busybox):
    st = status_of(dy("run", "--rm", "--security-opt", "no-new-privileges=true", "busybox",
                      "cat", "/proc/self/status").out)
    assert st["NoNewPrivs"] == "1"


def test_seccomp_default_profile(dy, busybox):
    out = dy("run", "--rm", "busybox", "sh", "-c",
             "grep '^Seccomp:' /proc/self/status; unshare -U true && echo UNSHARED; "
             "mkdir /m; mount -t tmpfs none /m && echo MOUNTED; true").out
    assert "Seccomp:\t2" in out
    assert "UNSHARED" not in out  # unshare(CLONE_NEWUSER) is blocked without CAP_SYS_ADMIN
    assert "MOUNTED" not in out


def test_seccomp_unconfined(dy, busybox):
    out = dy("run", "--rm", "--security-opt", "seccomp=unconfined", "busybox", "sh", "-c",
             "grep '^Seccomp:' /proc/self/status; unshare -U true && echo UNSHARED").out
    assert "Seccomp:\t0" in out
    assert "UNSHARED" in out  # the same call the default profile blocks


def test_seccomp_profile_follows_capabilities(dy, busybox):
    # Docker's profile allows mount(2) once CAP_SYS_ADMIN is granted.
    out = dy("run", "--rm", "--cap-add", "SYS_ADMIN", "busybox", "sh", "-c",
             "grep '^Seccomp:' /proc/self/status; mkdir /m && mount -t tmpfs none /m && echo MOUNTED").out
    assert "Seccomp:\t2" in out and "MOUNTED" in out


# -- users ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("user, want_id, want_home", [
    ("1000:1000", "uid=1000 gid=1000 groups=1000", "/"),
    ("nobody", "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)", "/home"),
    ("nobody:root", "uid=65534(nobody) gid=0(root)", "/home"),
    ("root", "uid=0(root) gid=0(root) groups=0(root),10(wheel)", "/root"),
    ("1000", "uid=1000 gid=0(root)", "/"),
    ("65534:nogroup", "uid=65534(nobody) gid=65534(nogroup)", "/home"),
])
def test_user(dy, busybox, user, want_id, want_home):
    out = lines(dy("run", "--rm", "-u", user, "busybox", "sh", "-c", "id; echo HOME=$HOME").out)
    assert out[0].startswith(want_id), out
    assert out[1] == f"HOME={want_home}"


def test_non_root_user_has_no_effective_capabilities(dy, busybox):
    caps = caps_in(dy, "-u", "1000:1000")
    assert caps == {"CapInh": 0, "CapPrm": 0, "CapEff": 0, "CapBnd": DEFAULT_CAPS, "CapAmb": 0}


@pytest.mark.parametrize("user, what", [("nosuchuser", "unable to find user nosuchuser"),
                                        ("1000:nosuchgroup", "unable to find group nosuchgroup")])
def test_unknown_user_or_group(dy, busybox, user, what):
    p = dy("run", "--rm", "-u", user, "busybox", "id", check=False)
    assert p.returncode in (125, 126)
    assert what in p.err
    assert p.out == ""
    no_traceback(p)
    assert dy("ps", "-aq").out == ""


# -- environment ---------------------------------------------------------------------------------


def test_default_environment(dy, busybox, name):
    env = lines(dy("run", "--name", name, "busybox", "env").out)
    cid = inspect(dy, name)["Id"]
    assert env == [PATH_ENV, f"HOSTNAME={cid[:12]}", "HOME=/root"]


def test_env_flags(dy, busybox, name):
    dy.env["DY_TEST_FROM_HOST"] = "host value"
    dy.env.pop("DY_TEST_UNSET", None)
    env = lines(dy("run", "--name", name, "-e", "A=1", "-e", "DY_TEST_FROM_HOST", "-e", "DY_TEST_UNSET",
                   "-e", "EMPTY=", "-e", "B=x=y", "busybox", "env").out)
    cid = inspect(dy, name)["Id"]
    assert env == [PATH_ENV, f"HOSTNAME={cid[:12]}", "A=1", "DY_TEST_FROM_HOST=host value", "EMPTY=",
                   "B=x=y", "HOME=/root"]


def test_env_overrides_keep_their_place(dy, busybox):
    env = lines(dy("run", "--rm", "-e", "PATH=/usr/bin:/bin", "-e", "HOME=/x", "-e", "A=1", "-e", "A=2",
                   "busybox", "env").out)
    assert env[0] == "PATH=/usr/bin:/bin"
    assert env[1].startswith("HOSTNAME=")
    assert env[2:] == ["HOME=/x", "A=2"]


def test_env_file(dy, busybox, tmp_path):
    dy.env["DY_TEST_FROM_HOST"] = "hv"
    dy.env.pop("DY_TEST_UNSET", None)
    f = tmp_path / "env.list"
    f.write_text("# a comment\n"
                 "\n"
                 "B=2\n"
                 "   C=three words  \n"
                 "   # an indented comment\n"
                 "DY_TEST_FROM_HOST\n"
                 "DY_TEST_UNSET\n"
                 "A=from-file\n"
                 "Q='quoted'\n")
    env = lines(dy("run", "--rm", "--env-file", str(f), "-e", "A=1", "busybox", "env").out)
    assert env[0] == PATH_ENV and env[1].startswith("HOSTNAME=")
    # file first, then -e (replacing A in place); quotes and trailing blanks are kept as docker does
    assert env[2:] == ["B=2", "C=three words  ", "DY_TEST_FROM_HOST=hv", "A=1", "Q='quoted'", "HOME=/root"]


def test_env_file_missing(dy, busybox, tmp_path):
    p = dy("run", "--rm", "--env-file", str(tmp_path / "nope"), "busybox", "true", check=False)
    assert p.returncode == 125 and "nope" in p.err
    no_traceback(p)


# -- working directory, read-only root -----------------------------------------------------------


def test_workdir(dy, busybox):
    assert dy("run", "--rm", "-w", "/tmp", "busybox", "pwd").out == "/tmp\n"
    out = lines(dy("run", "--rm", "-w", "/new/dir", "busybox", "sh", "-c", "pwd; test -d /new/dir && echo DIR").out)
    assert out == ["/new/dir", "DIR"]


def test_workdir_must_be_absolute(dy, busybox):
    p = dy("run", "--rm", "-w", "relative", "busybox", "pwd", check=False)
    assert p.returncode == 125 and "relative" in p.err
    no_traceback(p)


def test_read_only_root(dy, busybox):
    out = dy("run", "--rm", "--read-only", "busybox", "sh", "-c",
             "touch /x 2>&1 && echo ROOT-WRITABLE; "
             "touch /tmp/x 2>&1 && echo TMP-WRITABLE; "
             "echo >> /etc/hosts 2>&1 && echo HOSTS-WRITABLE; "
             "echo >> /etc/hostname 2>&1 && echo HOSTNAME-WRITABLE; "
             "touch /dev/shm/x && echo SHM-WRITABLE; "
             "grep ' / ' /proc/mounts").out
    assert "Read-only file system" in out
    for bad in ("ROOT-WRITABLE", "TMP-WRITABLE", "HOSTS-WRITABLE", "HOSTNAME-WRITABLE"):
        assert bad not in out
    assert "SHM-WRITABLE" in out
    root_line = [line for line in out.splitlines() if line.split()[1:2] == ["/"]][-1]
    assert "ro" in root_line.split()[3].split(",")


def test_root_is_writable_by_default(dy, busybox):
    out = dy("run", "--rm", "busybox", "sh", "-c", "touch /x /tmp/x && echo OK; echo 1 >> /etc/hosts && echo HOSTS").out
    assert out.split() == ["OK", "HOSTS"]


# -- /proc, /sys and /dev ------------------------------------------------------------------------


def test_masked_paths(dy, busybox):
    files = [p for p in ("/proc/kcore", "/proc/keys", "/proc/timer_list") if os.path.exists(p)]
    dirs = [p for p in ("/proc/acpi", "/sys/firmware") if os.path.isdir(p)]
    assert "/proc/keys" in files and "/sys/firmware" in dirs  # what this machine has
    script = "; ".join([f"echo {p} $(stat -c %t:%T {p}) $(cat {p} | wc -c)" for p in files] +
                       [f"echo {d} $(ls -A {d} | wc -l); touch {d}/x 2>/dev/null && echo {d} WRITABLE"
                        for d in dirs] + ["cat /proc/mounts"])
    out = dy("run", "--rm", "busybox", "sh", "-c", script).out
    for p in files:
        assert f"{p} 1:3 0" in out  # /dev/null bound over it: reads are empty
    mounts = {line.split()[1]: line.split() for line in out.splitlines() if len(line.split()) == 6}
    for d in dirs:
        assert f"{d} 0" in out and f"{d} WRITABLE" not in out
        assert mounts[d][2] == "tmpfs" and "ro" in mounts[d][3].split(","), mounts.get(d)


def test_read_only_proc_paths(dy, busybox):
    paths = [p for p in ("/proc/sys", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sysrq-trigger")
             if os.path.exists(p)]
    out = dy("run", "--rm", "busybox", "sh", "-c",
             "echo x > /proc/sys/kernel/domainname 2>/dev/null && echo SYS-WRITABLE; "
             "echo h > /proc/sysrq-trigger 2>/dev/null && echo SYSRQ-WRITABLE; "
             "cat /proc/mounts").out
    assert "SYS-WRITABLE" not in out and "SYSRQ-WRITABLE" not in out
    mounts = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) == 6:
            mounts[f[1]] = f[3].split(",")
    for p in paths:
        assert p in mounts and "ro" in mounts[p], (p, mounts.get(p))
    assert "ro" in mounts["/sys"]
    assert "rw" in mounts["/proc"]


def test_dev_contents(dy, busybox):
    out = dy("run", "--rm", "busybox", "sh", "-c",
             "for f in /dev/* /dev/pts/ptmx; do echo \"$f|$(stat -c '%F|%a|%t:%T' $f)|$(readlink $f)\"; done; "
             "head -c 5 /dev/zero | wc -c; echo x > /dev/null && echo NULL-OK; "
             "echo x > /dev/full 2>/dev/null || echo FULL-ENOSPC").out
    entries = {}
    for line in out.splitlines():
        if line.startswith("/dev/"):
            path, kind, mode, dev, link = line.split("|")
            entries[path] = (kind, mode, dev, link)
    expected_names = {"/dev/" + n for n in ("null", "zero", "full", "random", "urandom", "tty", "fd", "stdin",
                                             "stdout", "stderr", "ptmx", "pts", "shm", "mqueue")}
    if os.path.exists("/proc/kcore"):
        expected_names.add("/dev/core")
    assert set(entries) - {"/dev/pts/ptmx"} == expected_names
    for n, dev in (("null", "1:3"), ("zero", "1:5"), ("full", "1:7"), ("random", "1:8"), ("urandom", "1:9"),
                   ("tty", "5:0")):
        assert entries[f"/dev/{n}"][:3] == ("character special file", "666", dev), (n, entries[f"/dev/{n}"])
    for n, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                      ("stderr", "/proc/self/fd/2"), ("ptmx", "pts/ptmx")):
        assert entries[f"/dev/{n}"][0] == "symbolic link" and entries[f"/dev/{n}"][3] == target, n
    assert entries["/dev/shm"][:2] == ("directory", "1777")
    assert entries["/dev/mqueue"][0] == "directory"
    assert entries["/dev/pts"][0] == "directory"
    assert entries["/dev/pts/ptmx"][0] == "character special file"
    assert "5\nNULL-OK\nFULL-ENOSPC" in out


# -- network -------------------------------------------------------------------------------------


def test_network_none_has_only_loopback_up(dy, busybox):
    out = lines(dy("run", "--rm", "--network", "none", "busybox", "sh", "-c",
                   "ls /sys/class/net; cat /sys/class/net/lo/operstate /sys/class/net/lo/flags").out)
    assert out[0] == "lo" and len(out) == 3, out
    assert out[1] in ("unknown", "up")
    assert int(out[2], 16) & 0x1  # IFF_UP
    assert dy("run", "--rm", "--network", "none", "busybox", "ls", "/sys/class/net").out == "lo\n"


def test_network_host_shares_the_hosts_interfaces(dy, busybox):
    out = dy("run", "--rm", "--network", "host", "busybox", "sh", "-c", "ls /sys/class/net; echo ---; hostname").out
    ifaces, hostname = out.split("---\n")
    assert sorted(ifaces.split()) == sorted(os.listdir("/sys/class/net"))
    assert hostname.strip() == os.uname().nodename  # docker: the host's name with --network host


def test_unknown_network_is_an_engine_error(dy, busybox):
    p = dy("run", "--rm", "--network", "nosuchnet", "busybox", "true", check=False)
    assert p.returncode == 125 and "nosuchnet" in p.err
    no_traceback(p)
    assert dy("ps", "-aq").out == ""


# -- stdin ---------------------------------------------------------------------------------------


def test_stdin_with_i(dy, busybox):
    assert dy("run", "-i", "--rm", "busybox", "cat", input="hi").out == "hi"
    big = os.urandom(1 << 20).hex()  # 2 MB through the pipe, both ways
    assert dy("run", "-i", "--rm", "busybox", "cat", input=big).out == big


def test_stdin_without_i_is_empty(dy, busybox):
    p = dy("run", "--rm", "busybox", "sh", "-c", "cat; echo END", input="should not arrive", timeout=20)
    assert p.out == "END\n"


# -- exit codes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("cmd, code, message", [
    (["sh", "-c", "exit 3"], 3, None),
    (["true"], 0, None),
    (["/etc/passwd"], 126, "permission denied"),
    (["/tmp"], 126, None),
    (["nosuchcmd"], 127, "executable file not found"),
    (["/no/such/file"], 127, "no such file or directory"),
    # a child shell killed by SIGKILL: the shell reports 128+9
    (["sh", "-c", "sh -c 'kill -KILL $$'; exit $?"], 137, None),
    # PID 1 ignores signals it has no handler for, even SIGKILL from inside its namespace
    (["sh", "-c", "kill -TERM $$; kill -KILL $$; echo alive"], 0, None),
], ids=["exit-3", "true", "not-executable", "directory", "not-found", "no-such-path", "child-killed",
        "pid1-ignores-signals"])
def test_exit_codes_and_rm_on_failure(dy, busybox, tmp_path, cmd, code, message):
    p = dy("run", "--rm", "busybox", *cmd, check=False)
    assert p.returncode == code, (p.returncode, p.err)
    if message:
        assert message in p.err
    if cmd[-1].endswith("echo alive"):
        assert p.out == "alive\n"
    no_traceback(p)
    assert_nothing_left(dy, tmp_path)


def test_missing_image_is_125(dy, busybox, tmp_path):
    p = dy("run", "--rm", "nosuchimage", "true", check=False)
    assert p.returncode == 125
    assert "No such image" in p.err
    no_traceback(p)
    assert_nothing_left(dy, tmp_path)


def test_bad_flag_is_125(dy, busybox):
    p = dy("run", "--rm", "--no-such-flag", "busybox", "true", check=False)
    assert p.returncode == 125 and "unknown flag: --no-such-flag" in p.err
    no_traceback(p)


def test_killed_from_outside_is_128_plus_signal(dy, busybox, name, tmp_path):
    p = start_background(dy, name, "sleep", "30")
    try:
        pid = inspect(dy, name)["State"]["Pid"]
        with open(f"/proc/{pid}/comm") as f:
            assert f.read().strip() == "sleep"
        os.kill(pid, signal.SIGKILL)
        assert p.wait(timeout=20) == 137
    finally:
        p.kill()
        p.wait()
    st = inspect(dy, name)["State"]
    assert st["Status"] == "exited" and st["ExitCode"] == 137 and st["Running"] is False
    assert "Exited (137)" in ps_row(dy, name, "-a")
    dy("rm", name)
    assert_nothing_left(dy, tmp_path)


def test_signals_to_the_cli_reach_the_container(dy, busybox, name):
    p = subprocess.Popen(dy.cmd("run", "--rm", "--name", name, "busybox", "sh", "-c",
                                "trap 'echo got TERM; exit 42' TERM; echo ready; while :; do sleep 0.05; done"),
                         env=dy.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert p.stdout.readline() == b"ready\n"
        time.sleep(0.2)  # the CLI installs its relay right after starting the container
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=20)
    finally:
        p.kill()
        p.wait()
    assert p.returncode == 42, err
    assert out == b"got TERM\n"


# -- terminals -----------------------------------------------------------------------------------


def test_tty_allocates_a_pty(dy, busybox):
    t = Pty(dy, "run", "--rm", "-t", "busybox", "sh", "-c", "tty; echo TERM=$TERM; exit 4")
    try:
        code = t.wait()
    finally:
        t.kill()
    out = [line for line in t.text.splitlines() if line.strip()]
    assert out == ["/dev/pts/0", "TERM=xterm"], t.buf
    assert code == 4


# `dockyard run` with its terminal relay slowed down: the container's first instructions run
# before the CLI relays anything, as happens now and then on a busy machine.
SLOW_RELAY = r"""
import sys, time
try:
    import dockyard.engine.attach as attach
    _proxy = attach.proxy_tty
    def proxy_tty(*a, **k):
        time.sleep(0.5)
        return _proxy(*a, **k)
    attach.proxy_tty = proxy_tty
except (ImportError, AttributeError):
    pass
from dockyard.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def test_tty_has_the_terminal_size_from_the_start(dy, busybox):
    # Docker 23+ and the OCI spec's process.consoleSize: the size is the user's before the
    # process runs (with a plain `run` this fails only now and then: the relay usually wins).
    args = ("run", "--rm", "-t", "busybox", "stty", "size")
    t = Pty(dy, *args, rows=33, cols=111, argv=[sys.executable, "-S", "-c", SLOW_RELAY, *args])
    try:
        code = t.wait()
    finally:
        t.kill()
    assert [line for line in t.text.splitlines() if line.strip()] == ["33 111"], t.buf
    assert code == 0


def test_tty_env_has_term(dy, busybox):
    t = Pty(dy, "run", "--rm", "-t", "busybox", "env")
    try:
        assert t.wait() == 0
    finally:
        t.kill()
    env = [line for line in t.text.splitlines() if line.strip()]
    assert env[0] == PATH_ENV and env[1].startswith("HOSTNAME=")
    assert env[2:] == ["TERM=xterm", "HOME=/root"]


def test_interactive_ctrl_d_ends_the_shell(dy, busybox, tmp_path):
    t = Pty(dy, "run", "--rm", "-it", "busybox", "sh")
    try:
        end = t.expect(rb"/ # ")
        t.send(b"echo sum=$((2+3))\n")
        end = t.expect(rb"sum=5\r?\n", start=end)
        t.expect(rb"/ # ", start=end)
        t.send(b"\x04")
        assert t.wait() == 0
    finally:
        t.kill()
    assert_nothing_left(dy, tmp_path)


def test_interactive_ctrl_c_interrupts_the_foreground_job_only(dy, busybox):
    t = Pty(dy, "run", "--rm", "-it", "busybox", "sh")
    try:
        end = t.expect(rb"/ # ")
        t.send(b"echo sta''rted; sleep 100\n")
        end = t.expect(rb"started\r?\n", start=end)
        time.sleep(0.3)  # let the shell fork and exec sleep
        t.send(b"\x03")
        end = t.expect(rb"/ # ", timeout=10, start=end)
        t.send(b"echo after=$? pid=$$\n")
        end = t.expect(rb"after=130 pid=1\r?\n", start=end)
        t.send(b"exit 7\n")
        assert t.wait() == 7
    finally:
        t.kill()


def test_interactive_window_resize(dy, busybox):
    t = Pty(dy, "run", "--rm", "-it", "busybox", "sh", rows=20, cols=70)
    try:
        end = t.expect(rb"/ # ")
        t.send(b"stty size\n")
        end = t.expect(rb"\n20 70\r?\n", start=end)
        t.resize(41, 123)  # SIGWINCH to dockyard, which must pass the new size on
        deadline = time.monotonic() + 10
        while True:
            mark = len(t.buf)
            t.send(b"stty size\n")
            t.expect(rb"\n\d+ \d+\r?\n", start=mark)
            if re.search(rb"\n41 123\r?\n", t.buf[mark:]) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert re.search(rb"\n41 123\r?\n", t.buf[end:]), t.buf
        t.send(b"exit\n")
        assert t.wait() == 0
    finally:
        t.kill()


def test_it_without_a_terminal_is_refused(dy, busybox):
    p = dy("run", "--rm", "-it", "busybox", "true", input="", check=False)
    assert p.returncode != 0 and "the input device is not a TTY" in p.err
    no_traceback(p)


# -- lifecycle: --rm, ps, inspect, rm ------------------------------------------------------------


def test_rm_leaves_nothing_behind(dy, busybox, tmp_path):
    dy("run", "--rm", "busybox", "sh", "-c", "echo data > /file; mkdir -p /a/b; sleep 0.1")
    assert_nothing_left(dy, tmp_path)


def test_exited_container_until_rm(dy, busybox, name, tmp_path):
    p = dy("run", "--name", name, "busybox", "sh", "-c", "exit 3", check=False)
    assert p.returncode == 3
    row = ps_row(dy, name, "-a")
    assert row is not None and re.search(r"\bExited \(3\) ", row), row
    assert ps_row(dy, name) is None  # not running: not in plain `ps`
    info = inspect(dy, name)
    assert info["State"]["ExitCode"] == 3 and info["State"]["Status"] == "exited"
    assert info["State"]["Running"] is False and info["State"]["Pid"] == 0
    assert info["Name"] == "/" + name
    assert info["Path"] == "sh" and info["Args"] == ["-c", "exit 3"]
    assert os.path.isdir(info["GraphDriver"]["Data"]["UpperDir"])
    assert listdir(os.path.join(dy.root, "snapshots", "active")) == [info["Id"]]
    assert dy("rm", name).out.strip() == name
    assert_nothing_left(dy, tmp_path)
    p = dy("inspect", name, check=False)
    assert p.returncode != 0 and name in p.err


def test_name_conflict(dy, busybox, name):
    first = dy("run", "--name", name, "busybox", "true")
    assert first.returncode == 0
    cid = inspect(dy, name)["Id"]
    p = dy("run", "--name", name, "busybox", "true", check=False)
    assert p.returncode == 125
    assert f'The container name "/{name}" is already in use by container "{cid}"' in p.err
    no_traceback(p)
    assert dy("ps", "-aq", "--no-trunc").out.split() == [cid]


def _docker_table(rows: list[list[str]]) -> list[str]:
    """docker's table layout: text/tabwriter(minwidth 10, padding 3); the last column is not padded."""
    widths = [max(max(len(r[i]) for r in rows) + 3, 10) for i in range(len(rows[0]) - 1)]
    return [("".join(c.ljust(w) for c, w in zip(r, widths)) + r[-1]).rstrip() for r in rows]


def _cells(header: str, line: str) -> list[str]:
    starts = [header.index(h) for h in PS_HEADERS]
    ends = starts[1:] + [None]
    return [line[s:e].strip() for s, e in zip(starts, ends)]


def test_ps_formats(dy, busybox, name):
    assert dy("ps").out.splitlines() == _docker_table([PS_HEADERS])
    assert dy("ps", "-a").out.splitlines() == _docker_table([PS_HEADERS])
    assert dy("ps", "-q").out == "" and dy("ps", "-aq").out == ""
    dy("run", "--name", name, "busybox", "sh", "-c", "exit 3", check=False)
    cid = inspect(dy, name)["Id"]
    out = dy("ps", "-a").out.splitlines()
    assert len(out) == 2
    cells = _cells(out[0], out[1])
    assert out == _docker_table([PS_HEADERS, cells])
    assert cells[0] == cid[:12]
    assert cells[1] == "busybox"
    assert cells[2] == "\"sh -c 'exit 3'\""  # docker quotes arguments with spaces
    assert re.fullmatch(r"(Less than a second|\d+ seconds?) ago", cells[3])
    assert re.fullmatch(r"Exited \(3\) (Less than a second|\d+ seconds?) ago", cells[4])
    assert cells[5] == "" and cells[6] == name
    assert dy("ps").out.splitlines() == _docker_table([PS_HEADERS])
    assert dy("ps", "-aq").out == cid[:12] + "\n"
    assert dy("ps", "-aq", "--no-trunc").out == cid + "\n"
    assert dy("ps", "-q").out == ""
    long_cmd = dy("ps", "-a", "--no-trunc").out.splitlines()
    assert cid in long_cmd[1]


def test_ps_truncates_long_commands(dy, busybox, name):
    dy("run", "--name", name, "busybox", "echo", "a-rather-long-argument-list")
    out = dy("ps", "-a").out.splitlines()
    cells = _cells(out[0], out[1])
    assert cells[2] == '"echo a-rather-long-…"'  # 19 characters and an ellipsis, as docker
    out = dy("ps", "-a", "--no-trunc").out.splitlines()
    assert '"echo a-rather-long-argument-list"' in out[1]


def test_rm_of_a_running_container_needs_force(dy, busybox, name, tmp_path):
    p = start_background(dy, name, "sleep", "30")
    try:
        row = ps_row(dy, name)
        assert re.search(r"\bUp (Less than a second|\d+ seconds?)\b", row), row
        assert inspect(dy, name)["State"]["Running"] is True
        r = dy("rm", name, check=False)
        assert r.returncode != 0
        assert "You cannot remove a running container" in r.err
        assert "Traceback" not in r.err
        assert ps_row(dy, name) is not None  # still running
        r = dy("rm", "-f", name)
        assert r.out.strip() == name
        assert p.wait(timeout=20) == 137
    finally:
        p.kill()
        p.wait()
    assert_nothing_left(dy, tmp_path)


def test_killed_cli_does_not_leave_a_running_ghost(dy, busybox, name, tmp_path):
    p = start_background(dy, name, "sleep", "30")
    try:
        pid = inspect(dy, name)["State"]["Pid"]
        assert pid > 0
        with open(f"/proc/{pid}/comm") as f:
            assert f.read().strip() == "sleep"
        p.kill()  # SIGKILL: no cleanup of any kind
        p.wait()
    finally:
        p.kill()
        p.wait()
    if os.path.exists(f"/proc/{pid}"):
        # the container outlived its CLI (as docker's outlive theirs): then it is really running
        assert "Up" in (ps_row(dy, name) or ""), dy("ps", "-a").out
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: ps_row(dy, name) is None, what="ps to stop listing the container")
    row = ps_row(dy, name, "-a")
    assert row is not None and "Exited" in row and "Up" not in row, row
    st = inspect(dy, name)["State"]
    assert st["Running"] is False and st["Status"] == "exited" and st["Pid"] == 0
    assert dy("rm", "-f", name).out.strip() == name
    assert_nothing_left(dy, tmp_path)


# -- user namespaces -----------------------------------------------------------------------------


@pytest.fixture
def open_runroot(dy):
    """Point the test's runroot at a directory every uid can traverse, as /run/dockyard is.

    The default `tmp_path` lives under /tmp/pytest-of-root (mode 0700); see
    test_userns_auto_with_a_private_runroot_parent for that case.
    """
    import shutil
    import tempfile

    base = tempfile.mkdtemp(prefix="dockyard-userns-", dir="/tmp")
    os.chmod(base, 0o755)
    dy.runroot = os.path.join(base, "run")
    dy.env["DOCKYARD_RUNROOT"] = dy.runroot
    yield base
    ids = dy("ps", "-aq", "--no-trunc", check=False).out.split()
    if ids:
        dy("rm", "-f", *ids, check=False)
    for p in sorted(mounts_under(base), key=len, reverse=True):
        subprocess.run(["umount", "-l", p], stderr=subprocess.DEVNULL)
    shutil.rmtree(base, ignore_errors=True)


def _check_userns_auto(dy, name, tmp_path):
    out = lines(dy("run", "--name", name, "--userns", "auto", "busybox", "sh", "-c",
                   "cat /proc/self/uid_map /proc/self/gid_map; id -u; echo hi > /created; "
                   "touch /etc/new; stat -c %u:%g /created /etc/passwd").out)
    assert out[0].split() == ["0", "100000", "65536"]
    assert out[1].split() == ["0", "100000", "65536"]
    assert out[2] == "0"
    assert out[3:] == ["0:0", "0:0"]  # the image's files belong to the container's root
    upper = inspect(dy, name)["GraphDriver"]["Data"]["UpperDir"]
    st = os.stat(os.path.join(upper, "created"))
    assert (st.st_uid, st.st_gid) == (100000, 100000)
    assert os.stat(os.path.join(upper, "etc", "new")).st_uid == 100000
    dy("rm", name)
    assert_nothing_left(dy, tmp_path)


def test_userns_auto(dy, busybox, name, tmp_path, open_runroot):
    _check_userns_auto(dy, name, tmp_path)
    assert mounts_under(open_runroot) == []


def test_userns_auto_with_a_private_runroot_parent(dy, busybox, name, tmp_path):
    # --runroot under a mode-0700 directory (here pytest's tmp dir): the container's root is uid
    # 100000 on the host and cannot search that parent (nor reach the bundle's /etc/hosts).
    # Docker's userns-remap has the same requirement; dockyard says so up front, clearly.
    os.chmod(str(tmp_path), 0o700)
    p = dy("run", "--rm", "--name", name, "--userns", "auto", "busybox", "true", check=False)
    assert p.returncode == 125, p.err
    assert "--userns auto needs every directory above" in p.err and str(tmp_path) in p.err, p.err
    no_traceback(p)
    assert dy("ps", "-aq").out == ""


def test_invalid_userns(dy, busybox):
    p = dy("run", "--rm", "--userns", "bogus", "busybox", "true", check=False)
    assert p.returncode == 125 and "--userns: invalid USER mode" in p.err  # docker CLI's words
    no_traceback(p)
