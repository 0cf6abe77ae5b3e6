"""`image prune` and `builder prune`: what docker's remove, and only that (the engine's prunes)."""

from __future__ import annotations

import json
import os
import time


def _cache_entries(dy) -> list[str]:
    d = os.path.join(dy.root, "cache", "build")
    return sorted(n for n in os.listdir(d) if n.endswith(".json")) if os.path.isdir(d) else []


def test_image_prune_dangling_then_all(dy, busybox, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox:latest\nRUN echo one > /one\n")
    dy("build", "-q", "-t", "app:1", str(ctx))
    (ctx / "Dockerfile").write_text("FROM busybox:latest\nRUN echo two > /one\n")
    dy("build", "-q", "-t", "app:1", str(ctx))  # the first app:1 is now dangling
    dangling = dy("images", "-q", "--filter", "dangling=true").out.split()
    assert len(dangling) == 1
    p = dy("image", "prune", input="n\n")  # the prompt, answered no: nothing goes
    assert "WARNING! This will remove all dangling images." in p.out
    assert dy("images", "-q", "--filter", "dangling=true").out.split() == dangling
    out = dy("image", "prune", "-f").out
    assert out.startswith("Deleted Images:\ndeleted: sha256:") and "Total reclaimed space:" in out
    assert dy("images", "-q", "--filter", "dangling=true").out == ""
    assert "app" in dy("images", "--format", "{{.Repository}}").out.split()
    dy("create", "--name", "uses-busybox", "busybox", "true")
    out = dy("image", "prune", "-a", "-f").out
    assert "untagged: app:1" in out
    names = dy("images", "--format", "{{.Repository}}").out.split()
    assert "app" not in names and "busybox" in names  # a container uses busybox: it stays
    assert dy("image", "prune", "-f", "--filter", "until=1h").out == "Total reclaimed space: 0B\n"  # all newer
    p = dy("image", "prune", "-f", "--filter", "nope=1", check=False)
    assert p.returncode == 1 and "Invalid filter 'nope'" in p.err and "Traceback" not in p.err


def test_builder_prune_dangling_then_all(dy, busybox, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox:latest\nRUN echo a > /a\nRUN echo b > /b\n")
    dy("build", "-q", "-t", "cached:1", str(ctx))
    entries = _cache_entries(dy)
    assert len(entries) >= 2
    out = dy("builder", "prune", "-f").out  # every cached layer is held by cached:1: nothing dangles
    assert out.strip().endswith("Total:\t0B") and _cache_entries(dy) == entries
    dy("rmi", "cached:1")
    # --filter until: only steps last used before then; --keep-storage: least recently used first
    assert dy("builder", "prune", "-f", "--filter", "until=1h").out.strip() == "Total:\t0B"
    assert _cache_entries(dy) == entries
    old = os.path.join(dy.root, "cache", "build", entries[0])
    now = time.time()
    os.utime(old, (now - 7200, now - 7200))  # last used 2 h ago (the builder touches an entry it uses)
    assert dy("builder", "prune", "-f", "--keep-storage", "1GB").out.strip() == "Total:\t0B"
    out = dy("builder", "prune", "-f", "--filter", "until=1h").out
    assert _cache_entries(dy) == entries[1:] and entries[0][:25] in out, out
    for args, words in ((("--filter", "id=x"), "only until="), (("--filter", "until=soon"), "failed to parse value as time or duration"),
                        (("--keep-storage", "lots"), '"--keep-storage" flag')):
        p = dy("builder", "prune", "-f", *args, check=False)
        code = 125 if args[0] == "--keep-storage" else 1  # a flag's bad value: docker's 125
        assert p.returncode == code and words in p.err and "Traceback" not in p.err, p.err
    out = dy("builder", "prune", "-f", "--keep-storage", "0").out
    assert _cache_entries(dy) == [] and "Total:" in out
    dy("build", "-q", "-t", "cached:1", str(ctx))
    assert "Using cache" not in dy("build", "-t", "cached:2", "--no-cache", str(ctx)).out
    (ctx / "Dockerfile").write_text("FROM busybox:latest\nRUN --mount=type=cache,target=/c,id=keep echo x > /c/x\n")
    dy("build", "-q", "-t", "mounted:1", str(ctx))
    mounts = os.path.join(dy.root, "cache", "mounts")
    assert [n for n in os.listdir(mounts) if not n.endswith(".lock")]
    dy("builder", "prune", "-a", "-f")
    assert _cache_entries(dy) == [] and os.listdir(mounts) == []
    (ctx / "Dockerfile").write_text("FROM busybox:latest\nRUN echo a > /a\nRUN echo b > /b\n")
    assert "Using cache" not in dy("build", "-t", "cached:3", str(ctx)).out  # the cache is gone
    assert json.loads(dy("image", "inspect", "cached:1").out)[0]["Id"]  # images are not the cache's
