"""`rmi`'s garbage collection against concurrent writers (issue 15): pulls from `dockyard
registry serve` on 127.0.0.1, loads and builds run while a loop removes other images, each removal
collecting what no image refers to. Every writer reuses a layer that only a removed image still
referenced when it began (so only its lease keeps that layer), and writes a big new one
meanwhile. Afterwards every image pulled, loaded or built is complete (inspect, run, save), and a
final collection leaves no blob or layer snapshot that no image uses, and no lease."""

from __future__ import annotations

import os
import subprocess
import tarfile
import threading

import pytest
from test_registry_server import Registry

N = 2
BIG = 24 << 20


@pytest.fixture
def reg(tmp_path):
    r = Registry(tmp_path)
    yield r
    r.stop()


def _context(tmp_path, name: str, dockerfile: str) -> str:
    ctx = tmp_path / name
    ctx.mkdir()
    (ctx / "shared").write_bytes(os.urandom(1 << 20))
    (ctx / "big").write_bytes(os.urandom(BIG))
    (ctx / "Dockerfile").write_text(dockerfile)
    return str(ctx)


def _victim(dy, ctx: str, tag: str, prefix: str) -> None:
    """An image made of the first steps of `ctx`'s Dockerfile (the same layers, from the build
    cache) and a label: once the image `ctx` made is removed, it alone holds those layers."""
    with open(os.path.join(ctx, "Dockerfile.victim"), "w") as f:
        f.write(prefix + f"LABEL victim={tag}\n")
    dy("build", "-q", "-f", os.path.join(ctx, "Dockerfile.victim"), "-t", tag, ctx, timeout=120)


def _orphans(dy) -> tuple[list[str], list[str]]:
    from dockyard.engine.engine import Engine

    e = Engine(dy.root, dy.runroot)
    keep, chains = e.images.referenced()
    blobs = [d for d in e.content.walk() if d not in keep]
    layers = [c for c in e.snapshots.list_layers() if c not in chains]
    return blobs, layers


def test_pull_load_build_survive_concurrent_rmi(dy, busybox, tmp_path, reg):
    host = f"127.0.0.1:{reg.port}"
    pulls, loads, builds, victims = [], [], [], []
    for i in range(N):
        # pull: busybox + a layer only the victim keeps + a big layer the pull downloads
        ctx = _context(tmp_path, f"p{i}", "FROM busybox\nCOPY shared /shared\nCOPY big /big\n")
        dy("build", "-q", "-t", f"{host}/p{i}:1", ctx, timeout=120)
        dy("push", f"{host}/p{i}:1", timeout=120)
        _victim(dy, ctx, f"victim-p{i}", "FROM busybox\nCOPY shared /shared\n")
        dy("rmi", f"{host}/p{i}:1")
        pulls.append((f"{host}/p{i}:1", ["pull", f"{host}/p{i}:1"]))
        victims.append(f"victim-p{i}")
        # load: the same shape, from a `save`d archive
        ctx = _context(tmp_path, f"l{i}", "FROM busybox\nCOPY shared /shared\nCOPY big /big\n")
        dy("build", "-q", "-t", f"load{i}:1", ctx, timeout=120)
        dy("save", "-o", str(tmp_path / f"load{i}.tar"), f"load{i}:1", timeout=120)
        _victim(dy, ctx, f"victim-l{i}", "FROM busybox\nCOPY shared /shared\n")
        dy("rmi", f"load{i}:1")
        loads.append((f"load{i}:1", ["load", "-i", str(tmp_path / f"load{i}.tar")]))
        victims.append(f"victim-l{i}")
        # build: its COPY and RUN steps come from the cache (layers only the victim holds), then
        # a big COPY and a RUN stacked on the reused layers' snapshots
        steps = f"FROM busybox\nCOPY shared /shared\nRUN echo {i} > /step\n"
        ctx = _context(tmp_path, f"b{i}", steps + "COPY big /big\nRUN wc -c < /big > /size\n")
        _victim(dy, ctx, f"victim-b{i}", steps)
        builds.append((f"build{i}:1", ["build", "-q", "-t", f"build{i}:1", ctx]))
        victims.append(f"victim-b{i}")
    junk = tmp_path / "junk.tar"
    with tarfile.open(junk, "w") as tf:
        info = tarfile.TarInfo("junk")
        info.size = 0
        tf.addfile(info)

    procs = [(ref, subprocess.Popen(dy.cmd(*argv), env=dy.env, cwd=str(tmp_path), stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE))
             for ref, argv in pulls + loads + builds]
    removals = 0
    errors: list[str] = []

    def remover():
        nonlocal removals
        for v in victims:  # each removal collects: the victim's layers are unreferenced now
            p = dy("rmi", v, check=False)
            removals += p.returncode == 0
            errors.extend([p.err] if p.returncode else [])
        n = 0
        while any(p.poll() is None for _, p in procs):  # keep collecting until every writer is done
            n += 1
            dy("import", str(junk), f"junk:{n}", timeout=60)
            p = dy("rmi", f"junk:{n}", check=False)
            removals += p.returncode == 0
            errors.extend([p.err] if p.returncode else [])

    t = threading.Thread(target=remover)
    t.start()
    failed = []
    for ref, p in procs:
        out, err = p.communicate(timeout=300)
        if p.returncode != 0:
            failed.append(f"{ref}: exit {p.returncode}: {err.decode(errors='replace')}")
    t.join(timeout=300)
    assert not failed, failed
    assert not errors, errors
    assert removals >= len(victims)

    for ref, _ in pulls + loads + builds:
        dy("image", "inspect", ref)
        out = dy("run", "--rm", ref, "sh", "-c", "wc -c < /big; wc -c < /shared", timeout=120).out.split()
        assert out == [str(BIG), str(1 << 20)], (ref, out)
        dy("save", "-o", str(tmp_path / "check.tar"), ref, timeout=120)  # every blob is there
    for i in range(N):
        assert dy("run", "--rm", f"build{i}:1", "cat", "/step", "/size").out.split() == [str(i), str(BIG)]

    dy("import", str(junk), "junk:last")
    dy("rmi", "junk:last")  # the final collection: no writer holds a lease now
    assert _orphans(dy) == ([], [])
    assert os.listdir(os.path.join(dy.root, "leases")) == []
