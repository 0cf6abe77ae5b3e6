"""`dockyard-runtime`'s command line: runc's flags read as runc reads them, clear errors, --help,
and the imports each hot verb pays for (no root needed: no container is started here)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from dockyard.errors import InvalidArgument
from dockyard.jsonfast import dumps_indented
from dockyard.runtime import cli
from dockyard.runtime.cliargs import VERBS, UnknownCommand, UsageError, parse
from dockyard.runtime.defaults import rootless_spec

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUNC = shutil.which("runc")


def run_main(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


# ----------------------------------------------------------------------------- the parser

def test_global_flags_every_form():
    p = parse(["--root", "/r", "-log=/l", "--log-format", "json", "--debug", "-systemd-cgroup",
               "--rootless=false", "--criu", "/c", "state", "x"])
    assert p.glob == {"root": "/r", "log": "/l", "log-format": "json", "debug": True, "systemd-cgroup": True,
                      "rootless": "false", "criu": "/c", "help": False, "version": False}
    assert (p.verb, p.args) == ("state", ["x"])


def test_global_defaults():
    p = parse(["list"])
    assert (p.glob["root"], p.glob["log-format"], p.glob["rootless"]) == ("/run/dockyard-runtime", "text", "auto")
    assert not p.glob["debug"] and not p.glob["systemd-cgroup"] and p.glob["log"] == p.glob["criu"] == ""


@pytest.mark.parametrize("argv", [["-v"], ["--version"], ["-h"], ["--help"], ["--root", "/r", "--version"]])
def test_global_help_and_version_need_no_command(argv):
    p = parse(argv)
    assert p.verb == "" and (p.glob["help"] or p.glob["version"])


def test_global_flags_stop_at_the_command():
    # Go's flag package: the command ends the global flags; a global flag after it is the command's
    with pytest.raises(UsageError, match="flag provided but not defined: -root") as e:
        parse(["state", "--root", "/r", "x"])
    assert e.value.verb == "state"


def test_create_flags():
    p = parse(["create", "--bundle", "/b", "--console-socket=/s", "-pid-file", "/p", "--no-new-keyring",
               "--no-pivot", "--preserve-fds", "3", "c1"])
    assert p.opts == {"bundle": "/b", "console-socket": "/s", "pid-file": "/p", "no-new-keyring": True,
                      "no-pivot": True, "preserve-fds": 3, "help": False}
    assert p.args == ["c1"]
    assert parse(["create", "-b", "/b2", "c1"]).opts["bundle"] == "/b2"


def test_run_flags():
    p = parse(["run", "-b", "/b", "-d", "--keep", "--no-subreaper", "--pid-file=/p", "--preserve-fds=0x2", "c1"])
    assert (p.opts["bundle"], p.opts["detach"], p.opts["keep"], p.opts["no-subreaper"], p.opts["preserve-fds"]) == \
        ("/b", True, True, True, 2)
    assert p.opts["console-socket"] == "" and not p.opts["no-pivot"]


@pytest.mark.parametrize("verb", ["start", "state", "pause", "resume"])
def test_one_id_verbs(verb):
    assert parse([verb, "c1"]).args == ["c1"]
    with pytest.raises(UsageError, match=f'"{verb}" requires exactly 1 argument'):
        parse([verb])
    with pytest.raises(UsageError, match=f'"{verb}" requires exactly 1 argument'):
        parse([verb, "a", "b"])
    with pytest.raises(UsageError, match="flag provided but not defined: -force"):
        parse([verb, "--force", "c1"])


def test_kill_flags_and_arguments():
    assert parse(["kill", "c1"]).args == ["c1"]
    p = parse(["kill", "--all", "c1", "KILL"])
    assert p.opts["all"] and p.args == ["c1", "KILL"]
    assert parse(["kill", "c1", "9", "-a"]).opts["all"]  # urfave moves flags after the arguments
    with pytest.raises(UsageError, match="a maximum of 2"):
        parse(["kill", "c1", "KILL", "x"])
    with pytest.raises(UsageError, match="a minimum of 1"):
        parse(["kill", "-a"])
    with pytest.raises(UsageError, match="flag provided but not defined: -9"):
        parse(["kill", "c1", "-9"])  # as runc: a dash makes it a flag


def test_delete_flags():
    assert parse(["delete", "c1"]).opts["force"] is False
    assert parse(["delete", "-f", "c1"]).opts["force"] is True
    assert parse(["delete", "c1", "--force"]).opts["force"] is True
    assert parse(["delete", "--force=false", "c1"]).opts["force"] is False
    assert parse(["delete", "-force=t", "c1"]).opts["force"] is True
    with pytest.raises(UsageError, match='invalid boolean value "yes" for -force'):
        parse(["delete", "--force=yes", "c1"])


def test_list_flags():
    assert parse(["list"]).opts == {"format": "table", "quiet": False, "help": False}
    assert parse(["list", "-f", "json", "-q"]).opts == {"format": "json", "quiet": True, "help": False}
    assert parse(["list", "--format=json"]).opts["format"] == "json"
    with pytest.raises(UsageError, match="flag provided but not defined: -qf"):
        parse(["list", "-qf", "json"])  # no combined short flags in Go's flag package
    with pytest.raises(UsageError, match="exactly 0"):
        parse(["list", "extra"])


def test_exec_flags():
    p = parse(["exec", "--console-socket", "/s", "--cwd", "/w", "-e", "A=1", "--env=B=2", "-t", "-u", "1:2",
               "-g", "5", "--additional-gids", "6", "-p", "/proc.json", "-d", "--pid-file", "/p",
               "--process-label", "l", "--apparmor", "a", "--no-new-privs", "-c", "CAP_X", "--cap=CAP_Y",
               "--preserve-fds", "1", "--cgroup", "cpu:/x", "--ignore-paused", "c1"])
    assert p.opts == {"console-socket": "/s", "cwd": "/w", "env": ["A=1", "B=2"], "tty": True, "user": "1:2",
                      "additional-gids": [5, 6], "process": "/proc.json", "detach": True, "pid-file": "/p",
                      "process-label": "l", "apparmor": "a", "no-new-privs": True, "cap": ["CAP_X", "CAP_Y"],
                      "preserve-fds": 1, "cgroup": ["cpu:/x"], "ignore-paused": True, "help": False}
    assert p.args == ["c1"]


def test_exec_command_keeps_its_own_flags():
    # runc's exec does not reorder: everything after the id is the command, flags included
    p = parse(["exec", "-t", "c1", "sh", "-c", "echo -t --help"])
    assert p.opts["tty"] and not p.opts["help"]
    assert p.args == ["c1", "sh", "-c", "echo -t --help"]
    with pytest.raises(UsageError, match="a minimum of 1"):
        parse(["exec"])


def test_spec_and_features_flags():
    assert parse(["spec", "-b", "/b", "--rootless"]).opts == {"bundle": "/b", "rootless": True, "help": False}
    assert parse(["features"]).args == []
    with pytest.raises(UsageError, match="exactly 0"):
        parse(["spec", "x"])


def test_values_and_terminators():
    assert parse(["state", "--", "-x"]).args == ["-x"]  # after --, a dash is an argument
    assert parse(["create", "--bundle", "-weird-dir", "c1"]).opts["bundle"] == "-weird-dir"  # Go: value is next arg
    assert parse(["create", "--bundle=", "c1"]).opts["bundle"] == ""
    with pytest.raises(UsageError, match="flag needs an argument: -bundle"):
        parse(["create", "c1", "--bundle"])
    with pytest.raises(UsageError, match='invalid value "abc" for flag -preserve-fds'):
        parse(["create", "--preserve-fds", "abc", "c1"])
    with pytest.raises(UsageError, match="bad flag syntax: ---x"):
        parse(["state", "---x", "c1"])
    with pytest.raises(UsageError, match='invalid value "x" for flag -additional-gids'):
        parse(["exec", "-g", "x", "c1", "sh"])


def test_commands_unknown_and_not_implemented():
    with pytest.raises(UnknownCommand, match="bogus"):
        parse(["bogus"])
    for verb in ("checkpoint", "restore", "ps", "events", "update"):
        with pytest.raises(InvalidArgument, match="does not implement"):
            parse([verb, "c1"])


def test_every_verb_has_help_listing_each_flag(capsys):
    for verb, (flags, short, _, _) in VERBS.items():
        for argv in ([verb, "--help"], [verb, "-h"], ["help", verb]):
            code, out, err = run_main(capsys, *argv)
            assert code == 0 and err == "", argv
            assert out.startswith(f"NAME:\n   dockyard-runtime {verb} - "), argv
            for name in flags:
                assert f"--{name}" in out, (verb, name)
            for alias, name in short.items():
                assert f"--{name} value, -{alias} value" in out or f"--{name}, -{alias}" in out, (verb, alias)
    code, out, _ = run_main(capsys, "state", "c1", "--help")  # anywhere among the command's flags
    assert code == 0 and "dockyard-runtime state" in out
    code, out, _ = run_main(capsys, "delete", "--help=false", "--force", "missing-one")
    assert code == 0 and out == ""  # --help=false is no help: this is a delete (missing, forced)


def test_global_help_version_and_no_arguments(capsys):
    for argv in (["--help"], ["-h"], ["help"], ["h"], []):
        code, out, _ = run_main(capsys, *argv)
        assert code == 0 and out.startswith("NAME:\n   dockyard-runtime - ") and "GLOBAL OPTIONS" in out, argv
    code, out, _ = run_main(capsys, "-v")
    assert code == 0 and out.startswith(f"dockyard-runtime version {cli.VERSION}\n")
    code, out, err = run_main(capsys, "help", "bogus")
    assert code == 3 and "No help topic for 'bogus'" in err


# ----------------------------------------------------------------------------- errors, as runc gives them

def test_unknown_flag_is_runcs_usage_error(capsys, tmp_path):
    code, out, err = run_main(capsys, "--root", str(tmp_path), "delete", "--bogus", "c1")
    assert code == 1
    assert out.startswith("Incorrect Usage: flag provided but not defined: -bogus\n\nNAME:\n   dockyard-runtime delete")
    assert err == "dockyard-runtime: flag provided but not defined: -bogus\n"
    code, out, err = run_main(capsys, "--bogus", "list")
    assert code == 1 and out.startswith("Incorrect Usage: flag provided but not defined: -bogus\n\nNAME:\n"
                                        "   dockyard-runtime - ")


def test_wrong_argument_count_is_a_bare_incorrect_usage(capsys):
    code, out, err = run_main(capsys, "state")
    assert code == 1 and out.startswith("Incorrect Usage.\n\nNAME:\n   dockyard-runtime state")
    assert err == 'dockyard-runtime: "state" requires exactly 1 argument(s)\n'


def test_unknown_command_exits_3(capsys):
    code, out, err = run_main(capsys, "bogus", "x")
    assert code == 3 and out == "" and "unknown command 'bogus'" in err


def test_usage_errors_reach_the_json_log(capsys, tmp_path):
    log = tmp_path / "log.json"
    code, _, _ = run_main(capsys, "--log", str(log), "--log-format", "json", "kill", "--signal", "9", "c1")
    assert code == 1
    entry = json.loads(log.read_text().splitlines()[-1])
    assert entry["level"] == "error" and entry["msg"] == "flag provided but not defined: -signal"
    assert entry["time"].endswith("Z")


def test_text_log_quotes_the_message(capsys, tmp_path):
    log = tmp_path / "log.txt"
    code, _, _ = run_main(capsys, "--root", str(tmp_path / "r"), "--log", str(log), "state", 'a"b')
    assert code == 1
    line = log.read_text().splitlines()[-1]
    assert line.startswith('time="') and ' level=error msg="invalid container id \'a\\"b\'"' in line


@pytest.mark.parametrize("argv,message", [
    (["--log-format", "xml", "list"], "invalid log-format: xml"),
    (["--criu", "/usr/sbin/criu", "list"], "--criu: checkpoint and restore are not implemented"),
    (["--rootless", "true", "list"], "--rootless=true (ignore cgroup permission errors) is not implemented"),
    (["--rootless", "maybe", "list"], "invalid --rootless value 'maybe'"),
    (["create", "--no-pivot", "c1"], "--no-pivot is not implemented"),
    (["create", "--preserve-fds", "-1", "c1"], "--preserve-fds must not be negative"),
    (["run", "--no-subreaper", "c1"], "--no-subreaper is only supported with --detach"),
    (["exec", "--cgroup", "x", "c1", "sh"], "--cgroup: exec into a sub-cgroup is not supported"),
    (["exec", "--ignore-paused", "c1", "sh"], "--ignore-paused: exec into a paused container is not supported"),
    (["list", "-f", "yaml"], "invalid format option"),
    (["ps", "c1"], "'ps' is a runc command that dockyard-runtime does not implement"),
    (["state", ".."], "invalid container id '..'"),
    (["delete", "--force", "a/b"], "invalid container id 'a/b'"),
    (["state", "\u00e9t\u00e9"], "invalid container id"),
])
def test_refused_flags_say_why_and_touch_nothing(capsys, tmp_path, argv, message):
    root = tmp_path / "root"
    code, out, err = run_main(capsys, "--root", str(root), *argv)
    assert code == 1 and out == ""
    assert err.startswith("dockyard-runtime: ") and message in err, err
    assert not root.exists()  # refused before any state directory was made


def test_accepted_global_flags_are_honoured(capsys, tmp_path):
    log = tmp_path / "debug.log"
    code, out, _ = run_main(capsys, "--root", str(tmp_path / "r"), "--debug", "--log", str(log), "--rootless",
                            "auto", "--systemd-cgroup", "list", "-q")
    assert code == 0 and out == ""
    assert 'level=debug msg="dockyard-runtime --root' in log.read_text()


def test_ids_as_runc_allows_them(tmp_path):
    from dockyard.errors import NotFound
    from dockyard.runtime.container import Runtime

    rt = Runtime(str(tmp_path))
    for cid in ("a", "A_b-c.d+e,f", "1", "..a", "a.."):  # runc's [\w+-\.]: , is in the range + to .
        with pytest.raises(NotFound):
            rt.state(cid)
    for cid in ("", ".", "..", "a/b", "a b", "a:b", "\u00e9"):
        with pytest.raises(InvalidArgument):
            rt.state(cid)


# ----------------------------------------------------------------------------- exec's process

class _State:
    def __init__(self, bundle: str) -> None:
        self.bundle = bundle


class _FakeRuntime:
    def __init__(self, bundle: str) -> None:
        self.bundle = bundle

    def state(self, cid: str) -> _State:
        return _State(self.bundle)


@pytest.fixture
def base_bundle(tmp_path):
    (tmp_path / "rootfs").mkdir()
    spec = {"ociVersion": "1.0.2", "root": {"path": "rootfs"},
            "process": {"args": ["sleep", "1"], "cwd": "/", "env": ["PATH=/bin"], "terminal": False,
                        "user": {"uid": 0, "gid": 7, "additionalGids": [1], "umask": 18},
                        "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"],
                                         "permitted": ["CAP_KILL"], "ambient": ["CAP_KILL"]},
                        "noNewPrivileges": True}}
    (tmp_path / "config.json").write_text(json.dumps(spec))
    return _FakeRuntime(str(tmp_path))


def exec_spec(rt, *argv: str) -> dict:
    p = parse(["exec", *argv])
    return cli.exec_process_spec(rt, p.args[0], p.args[1:], p.opts, p.given)


def test_exec_process_from_the_command_line(base_bundle):
    proc = exec_spec(base_bundle, "--cwd", "/tmp", "-e", "A=1", "-t", "-u", "1000", "-g", "5", "-c", "CAP_NET_RAW",
                     "--no-new-privs=false", "c1", "id", "-u")
    assert proc["args"] == ["id", "-u"] and proc["cwd"] == "/tmp" and proc["terminal"] is True
    assert proc["env"] == ["PATH=/bin", "A=1"]
    assert proc["user"] == {"uid": 1000, "gid": 7, "additionalGids": [1, 5], "umask": 18}  # runc keeps the gid
    caps = proc["capabilities"]
    assert caps["bounding"] == caps["effective"] == caps["permitted"] == ["CAP_KILL", "CAP_NET_RAW"]
    assert caps["ambient"] == ["CAP_KILL"]
    assert proc["noNewPrivileges"] is False


def test_exec_labels_go_to_the_process_for_lsm_to_apply_or_refuse(base_bundle):
    from dockyard.runtime import lsm

    proc = exec_spec(base_bundle, "--apparmor", "acme", "--process-label", "system_u:system_r:t:s0", "c1", "true")
    assert proc["apparmorProfile"] == "acme" and proc["selinuxLabel"] == "system_u:system_r:t:s0"
    with pytest.raises(InvalidArgument, match="SELinux"):  # what exec does with it before joining anything
        lsm.check(dict(proc, apparmorProfile=""))
    assert "apparmorProfile" not in exec_spec(base_bundle, "--apparmor=", "c1", "true")  # empty: unset, as runc


def test_exec_process_defaults_follow_runc(base_bundle):
    proc = exec_spec(base_bundle, "c1", "true")
    assert proc["terminal"] is False and proc["noNewPrivileges"] is True and proc["cwd"] == "/"
    assert proc["user"] == {"uid": 0, "gid": 7, "additionalGids": [1], "umask": 18}
    assert exec_spec(base_bundle, "-u", "5:6", "c1", "true")["user"]["gid"] == 6


@pytest.mark.parametrize("user", ["foo", "1:x", "-1", "1:", "99999999999"])
def test_exec_bad_user_is_refused(base_bundle, user):
    with pytest.raises(InvalidArgument, match="as int for"):
        exec_spec(base_bundle, "-u", user, "c1", "true")


def test_exec_process_file(base_bundle, tmp_path):
    f = tmp_path / "process.json"
    f.write_text(json.dumps({"args": ["sh"], "cwd": "/", "terminal": False}))
    assert exec_spec(base_bundle, "-p", str(f), "c1") == {"args": ["sh"], "cwd": "/", "terminal": False}
    # conmon sends --tty next to --process when the process has a terminal
    assert exec_spec(base_bundle, "--process", str(f), "--tty", "c1")["terminal"] is True
    with pytest.raises(InvalidArgument, match="--cwd cannot be combined with --process"):
        exec_spec(base_bundle, "-p", str(f), "--cwd", "/x", "c1")
    with pytest.raises(InvalidArgument, match="takes only the container id"):
        exec_spec(base_bundle, "-p", str(f), "c1", "sh")
    f.write_text("{not json")
    with pytest.raises(InvalidArgument, match="invalid JSON"):
        exec_spec(base_bundle, "-p", str(f), "c1")
    f.write_text("[1]")
    with pytest.raises(InvalidArgument, match="must be a JSON object"):
        exec_spec(base_bundle, "-p", str(f), "c1")


def test_exec_needs_a_command(base_bundle):
    with pytest.raises(InvalidArgument, match="needs a command or --process"):
        exec_spec(base_bundle, "c1")


def test_exec_negative_gid_refused(base_bundle):
    with pytest.raises(InvalidArgument, match="additional-gids must be a positive number"):
        exec_spec(base_bundle, "-g", "-3", "c1", "true")


# ----------------------------------------------------------------------------- spec, features, JSON

def test_spec_writes_tab_indented_json_once(capsys, tmp_path):
    code, _, _ = run_main(capsys, "spec", "--bundle", str(tmp_path))
    assert code == 0
    text = (tmp_path / "config.json").read_text()
    spec = json.loads(text)
    assert text == json.dumps(spec, indent="\t")
    assert spec["process"]["terminal"] is True and spec["process"]["args"] == ["sh"]
    code, _, err = run_main(capsys, "spec", "-b", str(tmp_path))
    assert code == 1 and "config.json exists" in err


@pytest.mark.skipif(RUNC is None, reason="runc is not installed (the reference for --rootless)")
def test_rootless_spec_is_runcs_transformation(tmp_path):
    plain, rootless = tmp_path / "plain", tmp_path / "rootless"
    plain.mkdir()
    rootless.mkdir()
    subprocess.run([RUNC, "spec", "-b", str(plain)], check=True, timeout=30)
    subprocess.run([RUNC, "spec", "--rootless", "-b", str(rootless)], check=True, timeout=30)
    theirs = json.loads((rootless / "config.json").read_text())
    ours = rootless_spec(json.loads((plain / "config.json").read_text()), os.geteuid(), os.getegid())
    assert ours == theirs


def test_spec_rootless_cli(capsys, tmp_path):
    code, _, _ = run_main(capsys, "spec", "--rootless", "-b", str(tmp_path))
    assert code == 0
    spec = json.loads((tmp_path / "config.json").read_text())
    linux = spec["linux"]
    assert linux["uidMappings"] == [{"containerID": 0, "hostID": os.geteuid(), "size": 1}]
    assert linux["gidMappings"] == [{"containerID": 0, "hostID": os.getegid(), "size": 1}]
    types = [ns["type"] for ns in linux["namespaces"]]
    assert "network" not in types and types[-1] == "user" and "resources" not in linux
    sys_mount = next(m for m in spec["mounts"] if m["destination"] == "/sys")
    assert sys_mount == {"destination": "/sys", "type": "none", "source": "/sys",
                         "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}
    assert not any(o.startswith(("uid=", "gid=")) for m in spec["mounts"] for o in m.get("options", []))


def test_features_is_json(capsys):
    code, out, _ = run_main(capsys, "features")
    assert code == 0
    doc = json.loads(out)
    assert "rbind" in doc["mountOptions"] and "CAP_SYS_ADMIN" in doc["linux"]["capabilities"]
    assert out == json.dumps(doc, indent=2) + "\n"


@pytest.mark.parametrize("doc", [{}, [], "x", None, 1.5, {"a": {"b": [1, {"c": []}, {}]}, "é": "\u2603\"\\"},
                                 [[[]], {"k": [True, False, None]}]])
@pytest.mark.parametrize("indent", ["  ", "\t"])
def test_dumps_indented_is_json_dumps_indent(doc, indent):
    assert dumps_indented(doc, indent) == json.dumps(doc, indent=indent)


def test_dumps_indented_refuses_non_string_keys():
    with pytest.raises(TypeError):
        dumps_indented({1: "x"})


# ----------------------------------------------------------------------------- imports of the hot verbs

HEAVY = ("argparse", "json", "re", "dataclasses", "typing", "enum", "signal", "shutil", "ctypes", "socket",
         "dockyard.runtime.spawn", "dockyard.linux.syscalls", "dockyard.runtime.clihelp")


def imported_by(argv: list[str], tmp_path) -> set[str]:
    """The modules a `python -S` run of the CLI (as the launcher starts it) has loaded at exit."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from dockyard.runtime.cli import main; "
            "rc = main(sys.argv[2:]); sys.stderr.write('\\nMODULES ' + ' '.join(sorted(sys.modules)) + '\\n')")
    p = subprocess.run([sys.executable, "-S", "-c", code, REPO, *argv], capture_output=True, text=True, timeout=60,
                       cwd=tmp_path)
    assert "Traceback" not in p.stderr, p.stderr
    return set(p.stderr.rsplit("MODULES ", 1)[1].split())


def stopped_container(root, cid: str = "c1") -> None:
    d = root / cid
    d.mkdir(parents=True)
    (d / "state.json").write_text(json.dumps({
        "ociVersion": "1.0.2", "id": cid, "pid": 0, "status": "created", "bundle": "/b", "rootfs": "/b/rootfs",
        "created": "2026-01-01T00:00:00.000000000Z", "owner": "", "start_time": None, "cgroup": None}))


@pytest.mark.parametrize("argv", [["state", "c1"], ["list"], ["list", "-f", "json"], ["kill", "c1", "KILL"],
                                  ["start", "c1"], ["delete", "c1"], ["state", "missing"]])
def test_hot_verbs_import_nothing_heavy(tmp_path, argv):
    root = tmp_path / "root"
    stopped_container(root)
    mods = imported_by(["--root", str(root), *argv], tmp_path)
    assert "dockyard.runtime.container" in mods
    assert not mods & set(HEAVY), sorted(mods & set(HEAVY))
    if argv[0] == "delete":
        assert not (root / "c1").exists()


def test_state_output_of_a_stopped_container(capsys, tmp_path):
    stopped_container(tmp_path)
    code, out, _ = run_main(capsys, "--root", str(tmp_path), "state", "c1")
    assert code == 0 and not out.endswith("\n")  # runc prints no trailing newline
    doc = json.loads(out)
    assert out == json.dumps(doc, indent=2)
    assert (doc["status"], doc["pid"], doc["id"]) == ("stopped", 0, "c1")
    code, out, err = run_main(capsys, "--root", str(tmp_path), "kill", "c1")
    assert code == 1 and "container not running" in err


def test_signal_names_without_the_signal_module(tmp_path):
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from dockyard.signals import parse_signal; "
            "print(parse_signal('KILL'), parse_signal('sigterm'), parse_signal('RTMIN+2') > 32, "
            "'signal' in sys.modules, 'enum' in sys.modules)")
    p = subprocess.run([sys.executable, "-S", "-c", code, REPO], capture_output=True, text=True, timeout=60)
    assert p.stdout.split() == ["9", "15", "True", "False", "False"], p.stderr


def test_no_command_line_ends_in_a_traceback(capsys, tmp_path, monkeypatch):
    """Seeded random command lines from runc's vocabulary (and some junk): every one ends with
    runc's statuses (0, 1, 3) and a message, never an internal error. Every root is a private,
    empty one, so no container is touched; `spec` writes into the temp dir."""
    import random

    monkeypatch.chdir(tmp_path)
    rng = random.Random(1234)
    verbs = list(VERBS) + ["h", "ps", "bogus", ""]
    tokens = ["--root", str(tmp_path / "root"), "--log", str(tmp_path / "log"), "--log-format", "json", "text",
              "--debug", "-a", "-f", "--force=false", "-q", "--format", "json", "-b", str(tmp_path), "-d", "-t",
              "--keep", "-u", "1:1", "x:y", "-e", "A=1", "-g", "7", "-p", str(tmp_path / "nope.json"), "-c", "CAP_KILL",
              "--preserve-fds", "2", "-1", "--", "-", "--=", "-x", "c1", "KILL", "9", "..", "", "é", "--help=maybe",
              "--rootless", "auto", "--criu", "--systemd-cgroup", "--no-pivot", "--cwd", str(tmp_path / "w")]
    for _ in range(600):
        argv = rng.sample(tokens, rng.randint(0, 3)) + [rng.choice(verbs)] + \
            [rng.choice(tokens) for _ in range(rng.randint(0, 5))]
        argv = [a for a in argv if a != ""] if rng.random() < 0.5 else argv
        # always a private root first (a later --root overrides it): never the host's default
        code = cli.main(["--root", str(tmp_path / "root"), *argv])
        out, err = capsys.readouterr()
        assert code in (0, 1, 3), (argv, code, err)
        assert "Traceback" not in out + err and "internal error" not in err, (argv, err)
        assert code == 0 or err.strip(), (argv, "a failure must say why")
