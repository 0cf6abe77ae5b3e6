"""The overlay snapshotter against real overlayfs: stacking, whiteouts, races, cleanup.

Every test works in its own temporary root and unmounts what it mounted; the `no_mounts_left`
fixture checks /proc/self/mountinfo afterwards.
"""

from __future__ import annotations

import hashlib
import io
import multiprocessing
import os
import signal
import stat
import tarfile
import time

import pytest

from dockyard import errors
from dockyard.snapshots.mount import mount_all, unmount_all
from dockyard.snapshots.overlay import OverlaySnapshotter


def _overlay_available() -> bool:
    try:
        with open("/proc/filesystems") as f:
            return any(line.split()[-1] == "overlay" for line in f if line.strip())
    except OSError:
        return False


pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="overlay mounts need root"),
    pytest.mark.skipif(not _overlay_available(), reason="overlayfs not available"),
]


# -- helpers ----------------------------------------------------------------------------------


def _entry(name, kind="file", data=b"", **kw):
    ti = tarfile.TarInfo(name)
    ti.type = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE}[kind]
    ti.mode = 0o755 if kind == "dir" else 0o644
    ti.mtime = 1_600_000_000
    ti.size = len(data) if kind == "file" else 0
    for k, v in kw.items():
        setattr(ti, k, v)
    return ti, data


def _tar(*entries) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for ti, data in entries:
            tf.addfile(ti, io.BytesIO(data) if ti.isreg() else None)
    return buf.getvalue()


def _diff_id(blob: bytes) -> str:
    return "sha256:" + hashlib.sha256(blob).hexdigest()


def _chain(parent: str | None, diff_id: str) -> str:
    return diff_id if parent is None else "sha256:" + hashlib.sha256(f"{parent} {diff_id}".encode()).hexdigest()


def _mounted_under(path: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    return [p for p in points if p == path or p.startswith(path.rstrip("/") + "/")]


@pytest.fixture
def no_mounts_left(tmp_path):
    yield
    leftovers = _mounted_under(str(tmp_path))
    for p in reversed(leftovers):  # do not leak into other tests even when failing
        unmount_all(p, detach=True)
    assert leftovers == []


@pytest.fixture
def snap(tmp_path, no_mounts_left):
    return OverlaySnapshotter(str(tmp_path / "snapshots"))


LOWER = _tar(
    _entry("etc", "dir"),
    _entry("etc/a", data=b"lower a"),
    _entry("etc/b", data=b"lower b"),
    _entry("dir", "dir"),
    _entry("dir/x", data=b"x"),
    _entry("dir/y", data=b"y"),
)
UPPER = _tar(
    _entry("etc/.wh.a"),
    _entry("dir", "dir"),
    _entry("dir/.wh..wh..opq"),
    _entry("dir/z", data=b"z"),
    _entry("etc/c", data=b"upper c"),
)


def _content_size(layer: bytes) -> int:
    """A layer's size as Docker counts it: its files' and symlinks' bytes, no tar headers."""
    from dockyard.archive.apply import content_size

    return content_size(io.BytesIO(layer))


def _stack(snap) -> tuple[str, str]:
    c1 = _chain(None, _diff_id(LOWER))
    c2 = _chain(c1, _diff_id(UPPER))
    r1 = snap.unpack_layer(c1, None, io.BytesIO(LOWER))
    r2 = snap.unpack_layer(c2, c1, io.BytesIO(UPPER), diff_id=_diff_id(UPPER))
    assert (r1.diff_id, r1.size) == (_diff_id(LOWER), _content_size(LOWER))
    assert r2.diff_id == _diff_id(UPPER)
    return c1, c2


# -- tests ------------------------------------------------------------------------------------


def test_layout_and_lowerdirs(snap, tmp_path):
    c1, c2 = _stack(snap)
    assert snap.has_layer(c1) and snap.has_layer(c2)
    assert not snap.has_layer(_chain(None, _diff_id(b"other")))
    assert snap.lowerdirs(c2) == [snap.layer_path(c2), snap.layer_path(c1)]
    assert snap.parent_of(c2) == c1 and snap.parent_of(c1) is None
    assert snap.depth(c2) == 2 and snap.layer_size(c1) == _content_size(LOWER)
    assert snap.list_layers() == sorted([c1, c2])
    assert os.listdir(tmp_path / "snapshots" / "tmp") == []
    # idempotent: a second unpack does not touch the committed layer
    ino = os.stat(snap.layer_path(c1)).st_ino
    again = snap.unpack_layer(c1, None, io.BytesIO(b"not even read"))
    assert again.diff_id == _diff_id(LOWER) and os.stat(snap.layer_path(c1)).st_ino == ino


def test_whiteouts_and_opaque_dirs_through_real_overlayfs(snap, tmp_path):
    _, c2 = _stack(snap)
    mounts = snap.prepare("ctr1", c2)
    assert len(mounts) == 1 and mounts[0].type == "overlay" and mounts[0].source == "overlay"
    opts = dict(o.split("=", 1) for o in mounts[0].options if "=" in o)
    assert opts["upperdir"] == snap.upper_dir("ctr1") and opts["workdir"] == snap.work_dir("ctr1")
    target = tmp_path / "merged"
    target.mkdir()
    mount_all(mounts, str(target))
    try:
        assert sorted(os.listdir(target / "etc")) == ["b", "c"]
        assert (target / "etc" / "b").read_bytes() == b"lower b"
        assert sorted(os.listdir(target / "dir")) == ["z"]
        (target / "new").write_text("written by the container")
        os.unlink(target / "etc" / "b")
    finally:
        assert unmount_all(str(target)) == 1
    upper = snap.upper_dir("ctr1")
    assert open(os.path.join(upper, "new")).read() == "written by the container"
    st = os.lstat(os.path.join(upper, "etc", "b"))
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0  # the container's delete is a whiteout
    snap.remove("ctr1")
    assert not os.path.exists(os.path.join(tmp_path, "snapshots", "active", "ctr1"))
    assert os.listdir(tmp_path / "snapshots" / "tmp") == []


def test_container_diff_round_trips_into_a_new_layer(snap, tmp_path):
    """upper dir → OCI tar (whiteouts converted) → new committed layer → same merged view."""
    from dockyard.archive.create import layer_from_dir

    _, c2 = _stack(snap)
    target = tmp_path / "merged"
    target.mkdir()
    mount_all(snap.prepare("ctr", c2), str(target))
    try:
        os.unlink(target / "etc" / "b")
        (target / "etc" / "d").write_text("d")
    finally:
        unmount_all(str(target))
    blob = layer_from_dir(snap.upper_dir("ctr"), overlay_upper=True, tmp_dir=str(tmp_path))
    c3 = _chain(c2, blob.diff_id)
    snap.unpack_layer(c3, c2, blob.path, diff_id=blob.diff_id)
    os.unlink(blob.path)
    mount_all(snap.prepare("view", c3, readonly=True), str(target))
    try:
        assert sorted(os.listdir(target / "etc")) == ["c", "d"]
        with pytest.raises(OSError):
            (target / "etc" / "e").write_text("read-only")
    finally:
        unmount_all(str(target))
    snap.remove("view")
    snap.remove("ctr")


def test_scratch_and_readonly_single_layer(snap, tmp_path):
    c1, _ = _stack(snap)
    target = tmp_path / "t"
    target.mkdir()

    mounts = snap.prepare("scratch", None)
    assert "lowerdir=" + os.path.join(snap.root, "empty") in mounts[0].options
    mount_all(mounts, str(target))
    try:
        assert os.listdir(target) == []
        (target / "f").write_text("x")
    finally:
        unmount_all(str(target))

    ro = snap.prepare("ro1", c1, readonly=True)
    assert ro[0].type == "bind" and "ro" in ro[0].options
    mount_all(ro, str(target))
    try:
        assert sorted(os.listdir(target)) == ["dir", "etc"]
        with pytest.raises(OSError):
            (target / "f").write_text("x")
    finally:
        unmount_all(str(target))
    for key in ("scratch", "ro1"):
        snap.remove(key)


def test_prepare_errors(snap):
    c1, _ = _stack(snap)
    snap.prepare("k", c1)
    with pytest.raises(errors.AlreadyExists):
        snap.prepare("k", c1)
    with pytest.raises(errors.InvalidArgument):
        snap.prepare("../escape", c1)
    with pytest.raises(errors.NotFound):
        snap.prepare("k2", _chain(None, _diff_id(b"missing")))
    with pytest.raises(errors.InvalidArgument):
        snap.has_layer("sha256:../../etc")
    with pytest.raises(errors.NotFound):
        snap.remove("nope")
    snap.remove("nope", missing_ok=True)
    snap.remove("k")


def test_remove_layer_refuses_while_referenced(snap):
    c1, c2 = _stack(snap)
    with pytest.raises(errors.Conflict):
        snap.remove_layer(c1)  # c2 stacks on it
    snap.prepare("user", c2)
    with pytest.raises(errors.Conflict):
        snap.remove_layer(c2)  # an active snapshot stacks on it
    snap.remove("user")
    snap.remove_layer(c2)
    snap.remove_layer(c1)
    assert snap.list_layers() == []
    with pytest.raises(errors.NotFound):
        snap.remove_layer(c1)


def test_remove_copes_with_overlay_work_dirs(snap, tmp_path):
    c1, _ = _stack(snap)
    target = tmp_path / "m"
    target.mkdir()
    mount_all(snap.prepare("w", c1), str(target))
    (target / "etc" / "a").write_text("copied up")
    unmount_all(str(target))
    work_work = os.path.join(snap.work_dir("w"), "work")
    assert os.path.isdir(work_work)
    os.chmod(work_work, 0)  # what overlayfs leaves behind; make sure regardless of kernel
    snap.remove("w")
    assert not os.path.exists(os.path.join(snap.root, "active", "w"))


def test_too_many_layers_is_a_clear_error(snap):
    parent = None
    for i in range(60):
        blob = _tar(_entry(f"f{i}", data=str(i).encode()))
        chain = _chain(parent, _diff_id(blob))
        snap.unpack_layer(chain, parent, io.BytesIO(blob))
        parent = chain
    with pytest.raises(errors.InvalidArgument) as exc:
        snap.prepare("deep", parent)
    assert "too many layers" in str(exc.value) and exc.value.hint
    assert not os.path.exists(os.path.join(snap.root, "active", "deep"))


def test_diff_id_mismatch_never_becomes_visible(snap):
    chain = _chain(None, _diff_id(LOWER))
    with pytest.raises(errors.DigestMismatch):
        snap.unpack_layer(chain, None, io.BytesIO(LOWER), diff_id=_diff_id(b"something else"))
    assert not snap.has_layer(chain)
    assert os.listdir(os.path.join(snap.root, "tmp")) == []


def test_failed_unpack_leaves_nothing(snap):
    chain = _chain(None, _diff_id(b"x"))
    hostile = _tar(_entry("ok", data=b"fine"), _entry("../escape", data=b"bad"))
    with pytest.raises(errors.UnsafeArchive):
        snap.unpack_layer(chain, None, io.BytesIO(hostile))
    assert not snap.has_layer(chain)
    assert os.listdir(os.path.join(snap.root, "tmp")) == []


def _unpack_worker(root: str, chain: str, blob: bytes, barrier, results) -> None:
    barrier.wait()
    r = OverlaySnapshotter(root).unpack_layer(chain, None, io.BytesIO(blob))
    results.put(r.diff_id)


def test_concurrent_unpack_of_the_same_chain(snap):
    blob = _tar(*(_entry(f"d/f{i}", data=os.urandom(2048)) for i in range(300)))
    chain = _chain(None, _diff_id(blob))
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_unpack_worker, args=(snap.root, chain, blob, barrier, results)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert sorted(results.get(timeout=5) for _ in procs) == [_diff_id(blob)] * 4
    assert snap.has_layer(chain) and len(os.listdir(os.path.join(snap.layer_path(chain), "d"))) == 300
    assert os.listdir(os.path.join(snap.root, "tmp")) == []
    assert snap.list_layers() == [chain]


class _SlowSource:
    """A layer stream that stalls halfway, so the unpacking process can be killed mid-way."""

    def __init__(self, data: bytes, ready) -> None:
        self._b = io.BytesIO(data)
        self._ready = ready
        self._half = len(data) // 2

    def read(self, n=-1):
        if self._b.tell() >= self._half:
            self._ready.set()
            time.sleep(3600)
        return self._b.read(min(n, 4096) if n and n > 0 else 4096)


def _killed_worker(root: str, chain: str, blob: bytes, ready) -> None:
    OverlaySnapshotter(root).unpack_layer(chain, None, _SlowSource(blob, ready))


def test_killed_unpack_leaves_nothing_visible(snap, monkeypatch):
    blob = _tar(*(_entry(f"f{i}", data=b"x" * 4096) for i in range(50)))
    chain = _chain(None, _diff_id(blob))
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    p = ctx.Process(target=_killed_worker, args=(snap.root, chain, blob, ready))
    p.start()
    try:
        assert ready.wait(30)
        tmp = os.path.join(snap.root, "tmp")
        assert len(os.listdir(tmp)) == 1  # the partial unpack, out of sight
        assert not snap.has_layer(chain)
        snap.cleanup()  # a live unpack holds its lock: cleanup must leave it alone
        assert len(os.listdir(tmp)) == 1
    finally:
        os.kill(p.pid, signal.SIGKILL)
        p.join()
    assert not snap.has_layer(chain)
    import dockyard.snapshots.overlay as ov

    monkeypatch.setattr(ov, "STALE_TMP_SECONDS", 0)
    snap.cleanup()
    assert os.listdir(os.path.join(snap.root, "tmp")) == []
    # and the layer can still be unpacked afterwards
    snap.unpack_layer(chain, None, io.BytesIO(blob))
    assert snap.has_layer(chain)


def test_mount_all_is_all_or_nothing(snap, tmp_path):
    from dockyard.linux.mount import Mount

    c1, _ = _stack(snap)
    target = tmp_path / "t"
    target.mkdir()
    good = snap.prepare("a", c1)
    bad = [Mount(type="overlay", source="overlay", target="", options=("lowerdir=/nonexistent/dir",))]
    with pytest.raises(errors.SyscallError):
        mount_all([*good, *bad], str(target))
    assert _mounted_under(str(target)) == []
    assert unmount_all(str(target)) == 0
    snap.remove("a")


def test_mounts_of_an_existing_snapshot(snap):
    _, c2 = _stack(snap)
    first = snap.prepare("again", c2)
    assert snap.mounts("again") == first
    assert snap.usage("again") >= 0
    snap.remove("again")
