from __future__ import annotations

import multiprocessing
import sqlite3
import threading

import pytest

from dockyard import errors
from dockyard.state import db as dbmod
from dockyard.state.db import ContainerRecord, Database, ImageRecord

IMG_A = "sha256:" + "a" * 64
IMG_B = "sha256:" + "ab" + "b" * 62
CID_1 = "1" * 64
CID_2 = "12" + "2" * 62


def image(image_id=IMG_A, size=100, added=1.0):
    return ImageRecord(
        id=image_id, manifest_digest="sha256:" + "f" * 64,
        manifest_media_type="application/vnd.oci.image.manifest.v1+json",
        config_digest=image_id, size=size, created="2024-01-01T00:00:00Z", added=added,
    )


def container(cid=CID_1, name="web", image_id=IMG_A, created=1.0, state=None):
    return ContainerRecord(
        id=cid, name=name, image_id=image_id, image="busybox", created=created,
        config={"Cmd": ["sh"], "Env": ["A=ü"]}, state=state or {"Status": "created"},
    )


@pytest.fixture
def db(tmp_path):
    d = Database(str(tmp_path / "state" / "dockyard.db"))
    yield d
    d.close()


def test_lazy_open_and_schema(tmp_path):
    path = tmp_path / "sub" / "dockyard.db"
    d = Database(str(path))
    assert not path.exists()  # constructing costs nothing
    assert d.list_images() == []
    raw = sqlite3.connect(str(path))
    assert raw.execute("PRAGMA user_version").fetchone()[0] == dbmod.SCHEMA_VERSION
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()
    d.close()


def test_reopen_skips_migration(tmp_path, monkeypatch):
    path = str(tmp_path / "dockyard.db")
    Database(path).list_images()
    called = []
    monkeypatch.setattr(Database, "_migrate", lambda self, conn, v: called.append(v))
    d = Database(path)
    d.list_images()
    assert called == []
    d.close()


def test_a_store_made_before_image_parents_opens_and_keeps_its_images(tmp_path):
    """A schema-2 store (images without a parent column), written by hand as dockyard 2 left it,
    migrates on first open: its images keep every field and get no parent; new ones can have one."""
    path = str(tmp_path / "dockyard.db")
    raw = sqlite3.connect(path)
    for step in dbmod.MIGRATIONS[:2]:  # shipped steps are never edited: this is the old schema
        for sql in step:
            raw.execute(sql)
    raw.execute("PRAGMA user_version = 2")
    raw.execute("INSERT INTO images VALUES (?, ?, ?, ?, ?, ?, ?)",
                (IMG_A, "sha256:" + "f" * 64, "application/vnd.oci.image.manifest.v1+json", IMG_A, 100,
                 "2024-01-01T00:00:00Z", 1.0))
    raw.execute("INSERT INTO tags VALUES ('docker.io/library/old:1', ?)", (IMG_A,))
    raw.commit()
    raw.close()
    d = Database(path)
    old = d.get_image(IMG_A)
    assert old == image() and old.parent == ""
    assert d.tags_for(IMG_A) == ["docker.io/library/old:1"]
    d.put_image(image(IMG_B).replace(parent=IMG_A))
    assert d.get_image(IMG_B).parent == IMG_A
    d.put_image(image(IMG_B))  # stored again without one (a load of the same image): kept
    assert d.get_image(IMG_B).parent == IMG_A
    assert d.delete_image(IMG_A) and d.get_image(IMG_B).parent == ""  # no parent that is gone
    d.close()
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == dbmod.SCHEMA_VERSION
    raw.close()


def test_newer_schema_is_refused(tmp_path):
    path = str(tmp_path / "dockyard.db")
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {dbmod.SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(errors.Unavailable, match="newer"):
        Database(path).list_images()


# ------------------------------------------------------------------ images and tags


def test_images(db):
    db.put_image(image(IMG_A, added=1.0))
    db.put_image(image(IMG_B, added=2.0))
    assert db.get_image(IMG_A) == image(IMG_A, added=1.0)
    assert db.get_image("sha256:" + "0" * 64) is None
    assert [i.id for i in db.list_images()] == [IMG_B, IMG_A]
    assert [i.id for i in db.find_images("a")] == [IMG_A, IMG_B]
    assert [i.id for i in db.find_images("ab")] == [IMG_B]
    assert [i.id for i in db.find_images("sha256:ab")] == [IMG_B]
    assert [i.id for i in db.find_images("aaaa")] == [IMG_A]
    assert db.find_images("c") == []
    assert db.find_images("*") == [] and db.find_images("a%") == [] and db.find_images("") == []
    db.put_image(image(IMG_A, size=5, added=1.0))  # upsert
    assert db.get_image(IMG_A).size == 5
    assert db.delete_image(IMG_A) is True
    assert db.delete_image(IMG_A) is False
    assert db.get_image(IMG_A) is None


def test_tags(db):
    db.put_image(image(IMG_A))
    db.put_image(image(IMG_B))
    db.set_tag("docker.io/library/busybox:latest", IMG_A)
    db.set_tag("docker.io/library/busybox:1", IMG_A)
    assert db.resolve_tag("docker.io/library/busybox:latest") == IMG_A
    assert db.tags_for(IMG_A) == ["docker.io/library/busybox:1", "docker.io/library/busybox:latest"]
    db.set_tag("docker.io/library/busybox:latest", IMG_B)  # moves
    assert db.resolve_tag("docker.io/library/busybox:latest") == IMG_B
    assert db.tags_for(IMG_A) == ["docker.io/library/busybox:1"]
    assert db.list_tags() == [
        ("docker.io/library/busybox:1", IMG_A),
        ("docker.io/library/busybox:latest", IMG_B),
    ]
    assert db.remove_tag("docker.io/library/busybox:1") is True
    assert db.remove_tag("docker.io/library/busybox:1") is False
    assert db.resolve_tag("docker.io/library/busybox:1") is None


def test_tag_needs_an_image(db):
    with pytest.raises(errors.ImageNotFound):
        db.set_tag("docker.io/library/x:latest", IMG_A)
    assert db.list_tags() == []


def test_put_image_keeps_tags_and_delete_image_drops_them(db):
    db.put_image(image(IMG_A))
    db.set_tag("docker.io/library/x:latest", IMG_A)
    db.put_image(image(IMG_A, size=7))
    assert db.resolve_tag("docker.io/library/x:latest") == IMG_A
    db.delete_image(IMG_A)
    assert db.list_tags() == []


# ------------------------------------------------------------------ containers


def test_container_crud(db):
    db.insert_container(container())
    got = db.get_container(CID_1)
    assert got == container()
    assert got.config["Env"] == ["A=ü"]
    db.update_state(CID_1, {"Status": "running", "Pid": 42})
    db.update_config(CID_1, {"Cmd": ["true"]})
    got = db.get_container("web")
    assert got.state == {"Status": "running", "Pid": 42} and got.config == {"Cmd": ["true"]}
    assert db.delete_container(CID_1) is True
    assert db.delete_container(CID_1) is False
    with pytest.raises(errors.ContainerNotFound):
        db.update_state(CID_1, {})
    with pytest.raises(errors.ContainerNotFound):
        db.update_config(CID_1, {})


def test_name_in_use_message(db):
    db.insert_container(container(name="/web"))
    with pytest.raises(errors.NameInUse) as e:
        db.insert_container(container(cid=CID_2, name="web"))
    assert str(e.value) == (
        f'Conflict. The container name "/web" is already in use by container "{CID_1}". '
        "You have to remove (or rename) that container to be able to reuse that name."
    )
    assert isinstance(e.value, errors.AlreadyExists)
    with pytest.raises(errors.AlreadyExists):
        db.insert_container(container(name="other"))  # same id
    assert [c.id for c in db.list_containers()] == [CID_1]


def test_get_container_resolution_order(db):
    db.insert_container(container(cid=CID_1, name="web", created=1.0))
    db.insert_container(container(cid=CID_2, name="api", created=2.0))
    # a container whose *name* is another container's id prefix: the name wins, like docker
    db.insert_container(container(cid="3" * 64, name="12", created=3.0))
    assert db.get_container(CID_1).name == "web"
    assert db.get_container("web").id == CID_1
    assert db.get_container("/web").id == CID_1
    assert db.get_container("12").id == "3" * 64
    assert db.get_container("122").id == CID_2
    assert db.get_container("111").id == CID_1
    with pytest.raises(errors.InvalidArgument, match="multiple IDs found with provided prefix: 1"):
        db.get_container("1")
    for ref in ("nope", "4", "", "1*", "_", "%"):
        with pytest.raises(errors.ContainerNotFound, match=f"No such container: {ref}"):
            db.get_container(ref)
    assert [c.id for c in db.list_containers()] == ["3" * 64, CID_2, CID_1]


def test_containers_using_image_and_rename(db):
    db.insert_container(container(cid=CID_1, name="a", image_id=IMG_A))
    db.insert_container(container(cid=CID_2, name="b", image_id=IMG_B))
    assert [c.id for c in db.containers_using_image(IMG_A)] == [CID_1]
    with pytest.raises(errors.NameInUse):
        db.rename_container(CID_1, "b")
    db.rename_container(CID_1, "/c")
    db.rename_container(CID_1, "c")  # renaming to its own name is fine
    assert db.get_container("c").id == CID_1
    with pytest.raises(errors.ContainerNotFound):
        db.rename_container("9" * 64, "z")


# ------------------------------------------------------------------ transactions


def test_transaction_is_atomic(db):
    db.put_image(image(IMG_A))
    with pytest.raises(RuntimeError):
        with db.transaction():
            db.set_tag("docker.io/library/x:1", IMG_A)
            db.insert_container(container())
            raise RuntimeError("boom")
    assert db.list_tags() == [] and db.list_containers() == []


def test_nested_transaction_rolls_back_only_inner(db):
    db.put_image(image(IMG_A))
    with db.transaction():
        db.set_tag("docker.io/library/x:1", IMG_A)
        with pytest.raises(errors.NameInUse):
            with db.transaction():
                db.insert_container(container(name="dup"))
                db.insert_container(container(cid=CID_2, name="dup"))
        db.set_tag("docker.io/library/x:2", IMG_A)
    assert [t for t, _ in db.list_tags()] == ["docker.io/library/x:1", "docker.io/library/x:2"]
    assert db.list_containers() == []


def test_method_failure_inside_outer_transaction_keeps_outer_work(db):
    db.put_image(image(IMG_A))
    with db.transaction():
        db.set_tag("docker.io/library/x:1", IMG_A)
        with pytest.raises(errors.ImageNotFound):
            db.set_tag("docker.io/library/x:2", IMG_B)
    assert db.list_tags() == [("docker.io/library/x:1", IMG_A)]


def test_threads_have_their_own_connections(db):
    db.put_image(image(IMG_A))
    seen = []
    with db.transaction():
        db.set_tag("docker.io/library/x:1", IMG_A)
        t = threading.Thread(target=lambda: seen.append(db.resolve_tag("docker.io/library/x:1")))
        t.start()
        t.join()
    assert seen == [None]  # the other thread does not see uncommitted work
    assert db.resolve_tag("docker.io/library/x:1") == IMG_A


# ------------------------------------------------------------------ several processes at once


def _fresh_open(path, barrier, q):
    barrier.wait()
    try:
        Database(path).list_images()
        q.put("ok")
    except Exception as e:  # pragma: no cover - reported by the parent
        q.put(repr(e))


def test_concurrent_first_open_migrates_once(tmp_path):
    ctx = multiprocessing.get_context("fork")
    path = str(tmp_path / "fresh.db")
    n = 8
    barrier, q = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_fresh_open, args=(path, barrier, q)) for _ in range(n)]
    for p in procs:
        p.start()
    results = [q.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(60)
    assert results == ["ok"] * n


def _increment(db, cid, times, barrier):
    barrier.wait()
    for _ in range(times):
        with db.transaction():
            rec = db.get_container(cid)
            db.update_state(cid, {**rec.state, "n": rec.state.get("n", 0) + 1})


def _insert_many(db, worker, count, barrier):
    barrier.wait()
    for i in range(count):
        cid = f"{worker:02x}{i:062x}"
        db.insert_container(container(cid=cid, name=f"w{worker}-{i}", created=float(i)))
        db.set_tag("docker.io/library/race:latest", IMG_A if i % 2 else IMG_B)
        db.set_tag(f"docker.io/library/w{worker}:{i}", IMG_A)


def _run_workers(target, args_for, n):
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(n)
    procs = [ctx.Process(target=target, args=(*args_for(w), barrier)) for w in range(n)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    return [p.exitcode for p in procs]


def test_concurrent_writers_lose_no_updates(db):
    # The parent opened the database before forking: children must not reuse its connection.
    db.insert_container(container(state={"n": 0}))
    n, times = 8, 40
    assert _run_workers(_increment, lambda w: (db, CID_1, times), n) == [0] * n
    assert db.get_container(CID_1).state["n"] == n * times


def test_concurrent_inserts_and_tag_moves(db):
    db.put_image(image(IMG_A))
    db.put_image(image(IMG_B))
    n, count = 6, 30
    assert _run_workers(_insert_many, lambda w: (Database(db.path), w, count), n) == [0] * n
    assert len(db.list_containers()) == n * count
    assert len(db.list_tags()) == 1 + n * count
    assert db.resolve_tag("docker.io/library/race:latest") in (IMG_A, IMG_B)


def _contend_for_name(path, worker, barrier, q):
    d = Database(path)
    barrier.wait()
    try:
        d.insert_container(container(cid=f"{worker + 1:064x}", name="only-one"))
        q.put("won")
    except errors.NameInUse:
        q.put("lost")
    except Exception as e:  # pragma: no cover
        q.put(repr(e))


def test_one_name_one_winner(db):
    db.list_containers()
    ctx = multiprocessing.get_context("fork")
    n = 8
    barrier, q = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_contend_for_name, args=(db.path, w, barrier, q)) for w in range(n)]
    for p in procs:
        p.start()
    results = sorted(q.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(60)
    assert results == ["lost"] * (n - 1) + ["won"]
    assert len(db.list_containers()) == 1
