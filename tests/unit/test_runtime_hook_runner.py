"""dockyard.runtime.hooks on its own: the checks on config.json's hooks and running one hook
(no container needed; the integration suite runs them at their lifecycle points against runc)."""

from __future__ import annotations

import json
import os
import time

import pytest

from dockyard.errors import BadSpec
from dockyard.runtime.hooks import HookError, run_hooks, run_one, run_poststop, state_json, validate

STATE = state_json(cid="c1", status="creating", pid=42, bundle="/b", annotations={"k": "v"})


def test_state_json_is_runcs_shape():
    assert list(STATE) == ["ociVersion", "id", "status", "pid", "bundle", "annotations"]
    assert list(state_json(cid="c", status="stopped", pid=0, bundle="/b", annotations={})) == \
        ["ociVersion", "id", "status", "bundle"]  # pid and annotations omitted when empty, as runc


@pytest.mark.parametrize("hooks", [
    None, {}, {"poststop": None}, {"poststop": []},
    {"prestart": [{"path": "/bin/true"}], "createRuntime": [{"path": "/x", "args": ["x", "-v"], "env": ["A=1", "B="],
                                                            "timeout": 5}]},
])
def test_valid_hooks(hooks):
    validate(hooks)


@pytest.mark.parametrize("hooks, words", [
    ([], "hooks must be an object"),
    ({"createRuntime": [{"path": "hook"}]}, "hooks.createRuntime[0].path must be an absolute path"),
    ({"createRuntime": [{}]}, "hooks.createRuntime[0].path must be an absolute path"),
    ({"createRuntime": ["/bin/true"]}, "hooks.createRuntime[0] must be an object"),
    ({"poststart": [{"path": "/x", "args": ["a", 1]}]}, "args must be a list of strings"),
    ({"poststart": [{"path": "/x", "env": "A=1"}]}, "env must be a list of strings"),
    ({"poststart": [{"path": "/x", "env": ["=1"]}]}, "is not KEY=VALUE"),
    ({"poststart": [{"path": "/x", "args": ["a\0b"]}]}, "must not contain NUL"),
    ({"poststart": [{"path": "/x", "timeout": 0}]}, "greater than zero"),
    ({"poststart": [{"path": "/x", "timeout": 1.5}]}, "whole number of seconds"),
    ({"poststart": [{"path": "/x", "timeout": True}]}, "whole number of seconds"),
    ({"postStop": [{"path": "/x"}]}, "unknown hook kind hooks.postStop"),
    ({"poststop": [{"path": "/x", "cwd": "/"}]}, "unknown field 'cwd'"),
])
def test_invalid_hooks(hooks, words):
    with pytest.raises(BadSpec) as e:
        validate(hooks)
    assert words in str(e.value)


def sh(script: str, **extra) -> dict:
    return {"path": "/bin/sh", "args": ["my-argv0", "-c", script], **extra}


def test_stdin_argv_and_env(tmp_path):
    out = tmp_path / "out"
    hook = sh(f'cat > {out}.stdin; IFS= read -r a < /proc/self/cmdline; echo "$a" > {out}.argv; env > {out}.env',
              env=["ONLY=this"])
    run_hooks("createRuntime", [hook], STATE)
    assert json.loads((tmp_path / "out.stdin").read_text()) == STATE
    assert (tmp_path / "out.argv").read_text() == "my-argv0-c" + hook["args"][2] + "\n"  # NULs dropped by read
    assert {kv.split("=")[0] for kv in (tmp_path / "out.env").read_text().split()} - {"PWD"} == {"ONLY"}


def test_no_env_means_the_callers(tmp_path, monkeypatch):
    monkeypatch.setenv("HOOK_UNIT_MARK", "here")
    run_hooks("poststart", [sh(f"env > {tmp_path}/env")], STATE)
    assert "HOOK_UNIT_MARK=here" in (tmp_path / "env").read_text().split()
    run_hooks("createContainer", [sh(f"env > {tmp_path}/env")], STATE, env={"FROM": "process"})
    assert "FROM=process" in (tmp_path / "env").read_text().split()


def test_no_args_runs_path_as_argv0(tmp_path):
    script = tmp_path / "hook"
    script.write_text(f"#!/bin/sh\necho \"$0\" > {tmp_path}/zero\n")
    script.chmod(0o755)
    run_hooks("poststop", [{"path": str(script)}], STATE)
    assert (tmp_path / "zero").read_text() == f"{script}\n"


def test_failure_names_the_hook_and_quotes_its_output():
    with pytest.raises(HookError) as e:
        run_hooks("createRuntime", [sh("true"), sh("echo to-out; echo to-err >&2; exit 4")], STATE)
    assert str(e.value) == \
        "error running createRuntime hook #1 (/bin/sh): exit status 4, stdout: to-out, stderr: to-err"


def test_a_later_hook_does_not_run_after_a_failure(tmp_path):
    with pytest.raises(HookError):
        run_hooks("prestart", [sh("exit 1"), sh(f"touch {tmp_path}/ran")], STATE)
    assert not (tmp_path / "ran").exists()


def test_killed_by_a_signal():
    with pytest.raises(HookError) as e:
        run_hooks("prestart", [sh("kill -TERM $$")], STATE)
    assert "killed by signal 15" in str(e.value)


@pytest.mark.parametrize("name, words", [("missing", "No such file or directory"),
                                         ("not-executable", "Permission denied")])
def test_exec_failure(tmp_path, name, words):
    (tmp_path / "not-executable").write_text("#!/bin/sh\n")
    path = str(tmp_path / name)
    with pytest.raises(HookError) as e:
        run_hooks("poststart", [{"path": path}], STATE)
    assert str(e.value) == f"error running poststart hook #0 ({path}): exec {path}: {words}"


def test_timeout_kills_the_hook_and_its_children(tmp_path):
    t0 = time.monotonic()
    with pytest.raises(HookError) as e:
        run_hooks("createRuntime", [sh(f"sleep 60 & echo $! > {tmp_path}/child; wait", timeout=1)], STATE)
    assert "hook ran past specified timeout of 1.0s" in str(e.value)
    assert time.monotonic() - t0 < 5
    child = int((tmp_path / "child").read_text())
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{child}") and _state(child) != "Z":
        assert time.monotonic() < deadline, "the hook's child survived its timeout"
        time.sleep(0.01)


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0]
    except OSError:
        return "gone"


def test_a_daemon_left_holding_stdout_does_not_hold_us(tmp_path):
    t0 = time.monotonic()
    run_hooks("poststart", [sh(f"sleep 60 & echo $! > {tmp_path}/child; echo done")], STATE)
    assert time.monotonic() - t0 < 5
    os.kill(int((tmp_path / "child").read_text()), 9)


def test_big_state_unread_by_the_hook():
    big = state_json(cid="c1", status="creating", pid=1, bundle="/b", annotations={"x": "y" * 300_000})
    assert run_one(sh("exit 0"), json.dumps(big).encode(), None) is None


def test_big_state_read_whole(tmp_path):
    big = state_json(cid="c1", status="creating", pid=1, bundle="/b", annotations={"x": "y" * 300_000})
    run_hooks("prestart", [sh(f"cat > {tmp_path}/in")], big)
    assert json.loads((tmp_path / "in").read_text()) == big


def test_poststop_failures_are_warnings_and_the_rest_run(tmp_path):
    warnings = run_poststop([sh("exit 2"), sh(f"touch {tmp_path}/ran"), sh("exit 5")], STATE)
    assert (tmp_path / "ran").exists()
    assert [w.split(":")[0] for w in warnings] == ["error running poststop hook #0 (/bin/sh)",
                                                   "error running poststop hook #2 (/bin/sh)"]
    assert "exit status 5" in warnings[1]
