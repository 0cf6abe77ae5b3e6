"""dockyard.ownership: a temp is reclaimed only when its owner is dead and nobody holds its lock."""

from __future__ import annotations

import fcntl
import os
import resource
import signal
import time

from dockyard import ownership
from dockyard.engine.logs import JsonFileWriter, read_records


def _dead_owner() -> str:
    """The owner tag of a process that has exited (a forked child, reaped)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.write(w, ownership.owner_tag().encode())
        os._exit(0)
    os.close(w)
    tag = os.read(r, 100).decode()
    os.close(r)
    os.waitpid(pid, 0)
    return tag


def test_owner_tag_names_this_process_and_survives_fork_correctly():
    tag = ownership.owner_tag()
    assert tag.startswith(f"{os.getpid()}@")
    assert ownership.owner_of(f"layer-{tag}-abc.tar") == (os.getpid(), ownership.start_time(os.getpid()))
    assert ownership.owner_alive(f"rm-{tag}-x") is True
    child = _dead_owner()
    assert child != tag and ownership.owner_alive(f"rm-{child}-x") is False
    assert ownership.owner_of("rm-1234-abcdef") is None and ownership.owner_alive("plain") is None


def test_recycled_pid_is_not_the_owner():
    pid, started = os.getpid(), ownership.start_time(os.getpid())
    assert ownership.owner_alive(f"{pid}@{started + 1}.1.x.part") is False


def test_reclaim_removes_dead_keeps_live_locked_and_young(tmp_path):
    dead = _dead_owner()
    (tmp_path / f"{dead}.1.a.part").write_bytes(b"x" * 10000)
    (tmp_path / f"rm-{dead}-b").mkdir()
    (tmp_path / f"rm-{dead}-b" / "f").write_bytes(b"y" * 5000)
    live = tmp_path / f"{ownership.owner_tag()}.1.c.part"
    live.write_bytes(b"live")
    young = tmp_path / "unowned-young"
    young.write_bytes(b"?")
    old = tmp_path / "unowned-old"
    old.write_bytes(b"?")
    os.utime(old, (time.time() - 2 * ownership.UNOWNED_GRACE_S,) * 2)
    old_locked = tmp_path / "unowned-old-locked"
    old_locked.write_bytes(b"?")
    os.utime(old_locked, (time.time() - 2 * ownership.UNOWNED_GRACE_S,) * 2)
    fd = os.open(old_locked, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        removed, freed = ownership.reclaim(str(tmp_path))
    finally:
        os.close(fd)
    assert removed == 3 and freed >= 15000
    assert sorted(os.listdir(tmp_path)) == sorted([live.name, young.name, old_locked.name])


def test_reclaim_prefix_limits_what_is_looked_at(tmp_path):
    dead = _dead_owner()
    (tmp_path / f".tmp-{dead}-a").mkdir()
    (tmp_path / f"{dead}-layer").mkdir()  # not a temp of this kind: left alone
    assert ownership.reclaim(str(tmp_path), prefix=".tmp-")[0] == 1
    assert os.listdir(tmp_path) == [f"{dead}-layer"]


def _write_log_limited(path: str, limit: int) -> None:
    """In a child: log lines with the file size capped (EFBIG, like ENOSPC: a write that does not
    fit), then lift the cap and log once more."""
    pid = os.fork()
    if pid == 0:
        try:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
            w = JsonFileWriter(path)
            for i in range(50):
                w.write("stdout", f"line {i} {'z' * 100}\n".encode())
            resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
            w.write("stdout", b"after\n")
            w.close()
            os._exit(0)
        except BaseException:
            os._exit(1)
    assert os.waitpid(pid, 0)[1] == 0


def test_log_writer_drops_whole_records_and_says_how_much(tmp_path):
    path = str(tmp_path / "c-json.log")
    _write_log_limited(path, 2000)
    recs = list(read_records(path))
    with open(path, "rb") as f:
        assert f.read().endswith(b"\n")  # no torn record
    logs = [r["log"] for r in recs]
    assert logs[0].startswith("line 0 ") and logs[-1] == "after\n"
    note = [r for r in recs if "were dropped" in r["log"]]
    assert len(note) == 1 and note[0]["stream"] == "stderr"
    kept = sum(1 for x in logs if x.startswith("line "))
    dropped = int(note[0]["log"].split()[1])
    assert kept < 50 and dropped == sum(len(f"line {i} {'z' * 100}\n") for i in range(kept, 50))
