from __future__ import annotations

import hashlib
import io
import multiprocessing
import os
import signal
import threading

import pytest

from dockyard import errors
from dockyard.content.store import ContentStore
from dockyard.oci.digest import sha256_of


@pytest.fixture
def store(tmp_path):
    return ContentStore(str(tmp_path / "content"))


def _ingest_files(store):
    return os.listdir(store.ingest_dir) if os.path.isdir(store.ingest_dir) else []


def test_write_and_read(store):
    d = store.write_bytes(b"hello")
    assert d == sha256_of(b"hello")
    assert store.has(d)
    assert store.size(d) == 5
    assert store.read_bytes(d) == b"hello"
    assert store.read_bytes(d, verify=True) == b"hello"
    assert store.path(d) == os.path.join(store.root, "blobs", "sha256", d[7:])
    with store.open(d) as f:
        assert f.read() == b"hello"
    assert store.verify(d)
    assert list(store.walk()) == [d]
    assert _ingest_files(store) == []


def test_write_is_idempotent(store):
    d1 = store.write_bytes(b"x", expected=sha256_of(b"x"))
    d2 = store.write_bytes(b"x")
    assert d1 == d2
    assert list(store.walk()) == [d1]
    assert _ingest_files(store) == []


def test_missing_blob(store):
    d = sha256_of(b"nothing")
    assert not store.has(d)
    for call in (store.open, store.size, store.read_bytes, store.verify):
        with pytest.raises(errors.BlobNotFound, match=d):
            call(d)
    assert store.delete(d) is False
    assert list(store.walk()) == []


def test_delete(store):
    d = store.write_bytes(b"bye")
    assert store.delete(d) is True
    assert not store.has(d)


def test_mismatch_leaves_nothing_visible(store):
    claimed = sha256_of(b"what was promised")
    with pytest.raises(errors.DigestMismatch) as e:
        store.write_bytes(b"what arrived", expected=claimed)
    assert claimed in str(e.value) and sha256_of(b"what arrived") in str(e.value)
    assert not store.has(claimed)
    assert not store.has(sha256_of(b"what arrived"))
    assert list(store.walk()) == []
    assert _ingest_files(store) == []


def test_size_mismatch(store):
    with pytest.raises(errors.DigestMismatch, match="size"):
        with store.ingest(expected_size=10) as w:
            w.write(b"short")
    with pytest.raises(errors.DigestMismatch, match="larger"):
        with store.ingest(expected_size=3) as w:
            w.write(b"too long")
    assert list(store.walk()) == [] and _ingest_files(store) == []


def test_error_inside_ingest_removes_temp(store):
    with pytest.raises(RuntimeError):
        with store.ingest() as w:
            w.write(b"partial")
            assert len(_ingest_files(store)) == 1
            raise RuntimeError("network dropped")
    assert list(store.walk()) == [] and _ingest_files(store) == []


def test_blob_invisible_until_commit(store):
    data = b"a" * 100
    d = sha256_of(data)
    with store.ingest(expected=d) as w:
        w.write(data[:50])
        assert not store.has(d)
        w.write(data[50:])
        assert w.digest == d  # running digest
        assert not store.has(d)
    assert store.has(d) and w.digest == d and w.size == 100


def test_streaming_ingest_file(store):
    data = os.urandom(3 * (1 << 20) + 17)
    digest, size = store.ingest_file(io.BytesIO(data), expected=sha256_of(data))
    assert (digest, size) == (sha256_of(data), len(data))
    assert store.read_bytes(digest, verify=True) == data


def test_sha512(store):
    data = b"five-twelve"
    d = "sha512:" + hashlib.sha512(data).hexdigest()
    assert store.write_bytes(data, expected=d) == d
    assert store.path(d).endswith(os.path.join("blobs", "sha512", d[7:]))
    assert store.verify(d)
    assert d in list(store.walk())


@pytest.mark.parametrize(
    "bad", ["sha256:../../etc/passwd", "sha256:" + "a" * 63 + "/", "../x", "sha256:", "md5:abc"]
)
def test_digests_never_become_paths(store, bad):
    for call in (store.path, store.has, store.open, store.delete, store.verify):
        with pytest.raises(errors.InvalidDigest):
            call(bad)
    with pytest.raises(errors.InvalidDigest):
        store.write_bytes(b"x", expected=bad)
    assert not os.path.exists(os.path.join(store.root, "..", "etc"))


def test_corruption_is_detected(store):
    d = store.write_bytes(b"pristine")
    with open(store.path(d), "wb") as f:
        f.write(b"tampered")
    assert store.verify(d) is False
    with pytest.raises(errors.DigestMismatch, match=d):
        store.read_bytes(d, verify=True)


def test_walk_ignores_junk(store):
    d = store.write_bytes(b"real")
    os.makedirs(os.path.join(store.blobs_dir, "sha256"), exist_ok=True)
    open(os.path.join(store.blobs_dir, "sha256", "not-a-digest"), "w").close()
    assert list(store.walk()) == [d]


def test_concurrent_threads_writing_same_and_different_blobs(store):
    same = b"shared" * 1000
    failures = []

    def work(i):
        try:
            for _ in range(20):
                assert store.write_bytes(same) == sha256_of(same)
                store.write_bytes(f"own-{i}".encode())
        except Exception as e:  # pragma: no cover - reported below
            failures.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert len(list(store.walk())) == 9
    assert store.read_bytes(sha256_of(same), verify=True) == same
    assert _ingest_files(store) == []


def _write_then_die(root, ready):
    store = ContentStore(root)
    with store.ingest() as w:
        w.write(b"first half of a layer")
        ready.set()
        os.kill(os.getpid(), signal.SIGKILL)
        w.write(b"second half")  # never reached


def test_killed_writer_leaves_no_blob(store):
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    p = ctx.Process(target=_write_then_die, args=(store.root, ready))
    p.start()
    p.join(30)
    assert ready.is_set() and p.exitcode == -signal.SIGKILL
    assert list(store.walk()) == []
    assert not store.has(sha256_of(b"first half of a layer"))
    leftovers = _ingest_files(store)
    assert len(leftovers) == 1 and leftovers[0].startswith(f"{p.pid}@")
    # The next writer reclaims the dead writer's temp; a live writer's is never touched.
    with store.ingest() as w:
        w.write(b"in progress")
        assert _ingest_files(store) != leftovers and len(_ingest_files(store)) == 1
        assert store.prune_ingest() == 0
        assert len(_ingest_files(store)) == 1
    assert _ingest_files(store) == []
    assert list(store.walk()) == [sha256_of(b"in progress")]


def _proc_writer(root, n):
    store = ContentStore(root)
    for i in range(n):
        store.write_bytes(b"common layer")
        store.write_bytes(f"{os.getpid()}-{i}".encode())


def test_concurrent_processes(store):
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_proc_writer, args=(store.root, 25)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * 4
    digests = list(store.walk())
    assert len(digests) == 1 + 4 * 25
    assert all(store.verify(d) for d in digests)
    assert _ingest_files(store) == []
