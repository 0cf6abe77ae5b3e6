"""Leases (`dockyard/leases.py`): `rmi`'s collection keeps unreferenced content a live lease
protects (written or retained since the oldest live lease began) and nothing else; a lease whose
owner is dead protects nothing and is removed."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from dockyard import leases
from dockyard.engine.engine import Engine
from dockyard.ownership import start_time


@pytest.fixture
def engine(tmp_path):
    return Engine(str(tmp_path / "root"), str(tmp_path / "run"))


@pytest.fixture
def other():
    """A live process of our own (not this one) to own a lease."""
    p = subprocess.Popen(["sleep", "300"])
    yield p
    p.kill()
    p.wait()


def _lease_of(engine, proc, *, age: float) -> str:
    """A lease file as `leases.hold` in `proc` would make it, begun `age` seconds ago."""
    d = os.path.join(engine.root, "leases")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, f"{proc.pid}@{start_time(proc.pid)}.1.0a0b0c")
    with open(path, "w"):
        pass
    os.utime(path, (time.time() - age, time.time() - age))
    return path


def _blob(engine, data: bytes, *, age: float = 0.0) -> str:
    d = engine.content.write_bytes(data)
    if age:
        os.utime(engine.content.path(d), (time.time() - age, time.time() - age))
    return d


def test_a_live_lease_protects_a_fresh_blob_a_dead_one_does_not(engine, other):
    lease = _lease_of(engine, other, age=60)
    stale = _blob(engine, b"unreferenced for an hour", age=3600)
    before = _blob(engine, b"written before the lease began", age=120)
    fresh = _blob(engine, b"written under the lease")
    engine.images.gc()
    assert not engine.content.has(stale) and not engine.content.has(before)
    assert engine.content.has(fresh)  # the lease's owner may record an image using it any moment
    assert os.path.exists(lease)

    other.kill()
    other.wait()
    engine.images.gc()
    assert not engine.content.has(fresh)  # a killed writer protects nothing
    assert os.listdir(os.path.dirname(lease)) == []  # and its lease is gone


def test_retain_touches_a_reused_blob_so_the_lease_keeps_it(engine):
    old = _blob(engine, b"an image's layer, about to be reused", age=3600)
    again = _blob(engine, b"written again by a loader", age=3600)
    with engine.lease():
        assert engine.content.retain(old) is True
        assert engine.content.write_bytes(b"written again by a loader") == again  # already there: touched
        engine.images.gc()
        assert engine.content.has(old) and engine.content.has(again)
        assert engine.content.retain("sha256:" + "0" * 64) is False  # missing: the caller writes it
    engine.images.gc()  # no lease, no image: both go
    assert not engine.content.has(old) and not engine.content.has(again)
    assert os.listdir(os.path.join(engine.root, "leases")) == []


def test_ingest_of_a_blob_already_there_touches_it(engine):
    old = _blob(engine, b"same bytes", age=3600)
    with engine.content.ingest(old) as w:
        w.write(b"same bytes")
    assert time.time() - os.stat(engine.content.path(old)).st_mtime < 60
    assert os.listdir(engine.content.ingest_dir) == []


def _layer(engine, chain: str, *, age: float, parent: str = "") -> None:
    d = os.path.join(engine.snapshots.root, "layers", chain.split(":")[1])
    os.makedirs(os.path.join(d, "fs"))
    for name, text in (("parent", parent), ("size", "0"), ("diff_id", chain)):
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    os.utime(d, (time.time() - age, time.time() - age))


def test_layer_snapshots_follow_the_same_rule(engine, other):
    stale, fresh, child = "sha256:" + "1" * 64, "sha256:" + "2" * 64, "sha256:" + "3" * 64
    _layer(engine, stale, age=3600)
    _layer(engine, fresh, age=3600)
    _layer(engine, child, age=3600, parent=fresh)
    _lease_of(engine, other, age=60)
    assert engine.snapshots.retain_layer(child) is True  # a build about to stack on it
    engine.images.gc()
    assert engine.snapshots.list_layers() == [fresh, child]  # the parent stays under its child
    other.kill()
    other.wait()
    engine.images.gc()
    assert engine.snapshots.list_layers() == []
    assert engine.snapshots.retain_layer(child) is False


def test_a_failed_writer_drops_only_what_no_other_lease_protects(engine, other):
    with engine.lease() as mine:
        d = _blob(engine, b"added by a pull that then failed")
        _lease_of(engine, other, age=60)  # a concurrent pull that may have found it and reused it
        engine.images.drop_unreferenced([d], mine)
        assert engine.content.has(d)
        other.kill()
        other.wait()
        engine.images.drop_unreferenced([d], mine)  # its own lease does not protect it from itself
        assert not engine.content.has(d)


def test_cutoff_is_the_oldest_live_lease_or_now(engine, other):
    d = os.path.join(engine.root, "leases")
    t0 = time.time()
    assert abs(leases.cutoff(d) - t0) < 5
    _lease_of(engine, other, age=600)
    with open(os.path.join(d, "not-a-lease"), "w"):
        pass  # no owner in its name: left alone, protects nothing
    assert abs(leases.cutoff(d) - (t0 - 600)) < 5
    assert sorted(os.listdir(d)) == sorted([f"{other.pid}@{start_time(other.pid)}.1.0a0b0c", "not-a-lease"])
