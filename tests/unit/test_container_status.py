"""engine/status.py: the container status constants (an Enum's interface without `enum`), and
the state record's liveness rules."""

from __future__ import annotations

import os

import pytest

from dockyard import jsonfast
from dockyard.engine.status import ACTIVE, STOPPED, Status, effective_state, owner_alive, owner_now


def test_status_has_an_enums_interface():
    assert Status("running") is Status.RUNNING and Status.RUNNING == "running"
    assert Status.PAUSED.value == "paused" and Status.PAUSED.name == "PAUSED"
    assert [s.value for s in Status] == ["created", "running", "paused", "restarting", "removing", "exited", "dead"]
    assert len(Status) == 7 and "exited" in Status and "sleeping" not in Status
    assert repr(Status.DEAD) == "<Status.DEAD: 'dead'>"
    with pytest.raises(ValueError, match="'sleeping' is not a valid Status"):
        Status("sleeping")
    assert set(ACTIVE) | set(STOPPED) <= set(Status) and not set(ACTIVE) & set(STOPPED)


def test_status_is_stored_as_dockers_word():
    doc = {"Status": Status.RESTARTING}
    back = jsonfast.loads(jsonfast.dumps(doc))
    assert back == {"Status": "restarting"} and type(back["Status"]) is str and back["Status"] == Status.RESTARTING


class Rec:
    def __init__(self, **state):
        self.state = state


def test_a_running_record_without_init_or_monitor_has_exited():
    st = effective_state(Rec(Status="running", Pid=2**22 + 12345, PidStartTime=1, MonitorPid=0))
    assert st["Status"] == Status.EXITED and st["ExitCode"] == 137 and st["Pid"] == 0
    assert st["Error"] == "container process disappeared"


def test_a_record_whose_init_lives_is_left_as_it_is():
    from dockyard.runtime.procfs import proc_start_time

    me = os.getpid()
    st = effective_state(Rec(Status="running", Pid=me, PidStartTime=proc_start_time(me)))
    assert st["Status"] == "running"
    # the same pid with another start time is a reused pid: not the container's init
    assert effective_state(Rec(Status="paused", Pid=me, PidStartTime=-1))["Status"] == "exited"


def test_a_live_monitor_keeps_the_status_for_it_to_record():
    from dockyard.runtime.procfs import proc_start_time

    me = os.getpid()
    st = effective_state(Rec(Status="running", Pid=0, MonitorPid=me, MonitorStartTime=proc_start_time(me)))
    assert st["Status"] == "running"


def test_a_monitor_that_finished_after_the_read_is_not_a_kill():
    """The monitor records the exit (its last write) and exits between a reader's read of the
    record and its liveness check: with the database the reader sees the recorded code (50
    concurrent API waits saw 137 for `echo` before this), without it the old read says 137."""
    stale = Rec(Status="running", Pid=2**22 + 12345, PidStartTime=1, MonitorPid=2**22 + 12346,
                MonitorStartTime=1, ExitCode=0)
    stale.id = "c1"
    final = Rec(Status="exited", Pid=0, MonitorPid=0, ExitCode=0, FinishedAt="2026-12-07T02:42:57Z")

    class Db:
        reads = 0

        def get_container(self, cid):
            Db.reads += 1
            assert cid == "c1"
            return final

    st = effective_state(stale, Db())
    assert (st["Status"], st["ExitCode"], Db.reads) == ("exited", 0, 1)
    assert effective_state(stale)["ExitCode"] == 137
    # a monitor that died without recording (killed): the re-read is the same, and it is a kill
    final.state = dict(stale.state)
    assert effective_state(stale, Db())["ExitCode"] == 137


def test_owner_tags():
    assert owner_alive(owner_now())
    assert not owner_alive(None) and not owner_alive("12") and not owner_alive(f"{os.getpid()}@1")


def test_a_bundle_cut_short_by_a_kill_has_no_cgroup(tmp_path):
    """`run --rm` killed while writing config.json leaves it empty: the next command's repair must
    not fail on it (nothing ran from that bundle, so there is no cgroup to remove)."""
    from dockyard.engine.status import container_cgroup

    class Engine:
        def container_dir(self, cid):
            return str(tmp_path / cid)

    (tmp_path / "c1").mkdir()
    (tmp_path / "c1" / "config.json").write_text("")
    class R:
        def __init__(self, cid):
            self.id = cid

    assert container_cgroup(Engine(), R("c1")) is None
    assert container_cgroup(Engine(), R("absent")) is None
