"""dockyard build: RUN --mount=type=cache|bind|tmpfs|secret, RUN --network/--security, --secret.

Semantics from BuildKit's Dockerfile reference (frontend/dockerfile/docs/reference.md); the hostile
cases check the host afterwards (canary files outside the context and the store stay as they were).
"""

import io
import os
import tarfile

import pytest
from support import no_traceback


def write(ctx, files: dict) -> str:
    for name, content in files.items():
        p = os.path.join(ctx, name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(content)
    return str(ctx)


@pytest.fixture
def ctx(tmp_path):
    d = tmp_path / "ctx"
    d.mkdir()
    return d


def _image_files(dy, tmp_path, image: str) -> dict:
    """Every file of every layer of the saved image: {layer member path: bytes}."""
    out = tmp_path / "img.tar"
    dy("save", "-o", str(out), image, timeout=120)
    found = {}
    with tarfile.open(out) as outer:
        for m in outer.getmembers():
            if not m.isfile():
                continue
            data = outer.extractfile(m).read()
            try:
                inner = tarfile.open(fileobj=io.BytesIO(data))
                members = inner.getmembers()
            except tarfile.TarError:
                found[m.name] = data
                continue
            for im in members:
                found[f"{m.name}!{im.name}"] = inner.extractfile(im).read() if im.isfile() else b""
    return found


def test_cache_mount_persists_across_builds_and_stays_out_of_the_layer(dy, busybox, ctx, tmp_path):
    write(ctx, {"Dockerfile": "FROM busybox\n"
                              "ARG N\n"
                              "RUN --mount=type=cache,target=/var/cache/app,id=c1 "
                              "echo run$N >> /var/cache/app/log && cat /var/cache/app/log > /seen\n"})
    dy("build", "-q", "--build-arg", "N=1", "-t", "a:1", str(ctx), timeout=120)
    dy("build", "-q", "--build-arg", "N=2", "-t", "a:2", str(ctx), timeout=120)
    assert dy("run", "--rm", "a:2", "cat", "/seen").out == "run1\nrun2\n"
    # the cache's content is not in the image, and its mountpoint was not left behind
    assert dy("run", "--rm", "a:2", "sh", "-c", "ls -a /var/cache 2>&1; ls /var 2>&1").out.count("app") == 0
    files = _image_files(dy, tmp_path, "a:2")
    assert not any("var/cache" in k for k in files)
    # `system prune -a` clears the cache mounts with the build cache: the next build starts empty
    mounts = os.path.join(dy.root, "cache", "mounts")
    assert os.listdir(mounts)
    dy("system", "prune", "-a", "-f", timeout=120)
    assert os.listdir(mounts) == []
    dy("bootstrap", "busybox", "busybox:latest")  # prune -a removed the unused base image too
    dy("build", "-q", "--build-arg", "N=3", "-t", "a:3", str(ctx), timeout=120)
    assert dy("run", "--rm", "a:3", "cat", "/seen").out == "run3\n"


def test_cache_mount_id_cannot_reach_outside_the_store(dy, busybox, ctx, tmp_path):
    canary = tmp_path / "canary"
    canary.write_text("untouched")
    write(ctx, {"Dockerfile": "FROM busybox\n"
                              f"RUN --mount=type=cache,target=/c,id=../../../../{tmp_path.name}/canary "
                              "echo evil > /c/x && ln -s /etc /c/link\n"
                              f"RUN --mount=type=cache,target=/c,id=../../../../{tmp_path.name}/canary "
                              "echo evil > /c/link/evil-from-build || true\n"})
    dy("build", "-q", str(ctx), timeout=120)
    assert canary.read_text() == "untouched"
    assert not os.path.exists("/etc/evil-from-build")
    mounts = os.path.join(dy.root, "cache", "mounts")
    assert all(len(n.split(".")[0]) == 64 for n in os.listdir(mounts))


def test_bind_mount_from_context_is_read_only_and_not_in_the_layer(dy, busybox, ctx):
    write(ctx, {"Dockerfile": "FROM busybox\n"
                              "RUN --mount=type=bind,source=src,target=/src cat /src/a > /out && "
                              "(touch /src/new 2>/dev/null && echo writable || echo ro) >> /out\n"
                              "RUN --mount=type=bind,source=src/a,target=/one,rw echo changed > /one && cat /one >> /out\n",
                "src/a": "hello\n"})
    dy("build", "-q", "-t", "b:1", str(ctx), timeout=120)
    assert dy("run", "--rm", "b:1", "cat", "/out").out == "hello\nro\nchanged\n"
    assert (ctx / "src" / "a").read_text() == "hello\n"  # rw changes are thrown away
    assert dy("run", "--rm", "b:1", "sh", "-c", "test -e /src || test -e /one || echo gone").out == "gone\n"


def test_bind_mount_from_a_stage(dy, busybox, ctx):
    write(ctx, {"Dockerfile": "FROM busybox AS gen\n"
                              "RUN mkdir /gen && echo made > /gen/f\n"
                              "FROM busybox\n"
                              "RUN --mount=type=bind,from=gen,source=/gen,target=/g cp /g/f /copied\n"})
    dy("build", "-q", "-t", "s:1", str(ctx), timeout=120)
    assert dy("run", "--rm", "s:1", "cat", "/copied").out == "made\n"


def test_bind_source_escaping_the_context_is_refused_or_confined(dy, busybox, ctx, tmp_path):
    canary = tmp_path / "canary"
    canary.write_text("host secret")
    os.symlink(str(tmp_path), ctx / "out")  # a link to the directory holding the canary
    write(ctx, {"Dockerfile": "FROM busybox\n"
                              "RUN --mount=type=bind,source=../../etc,target=/e cat /e/hostname\n"})
    p = dy("build", str(ctx), check=False, timeout=120)
    assert p.returncode != 0 and "leaves the build context" in p.err
    no_traceback(p)
    write(ctx, {"Dockerfile": "FROM busybox\n"
                              "RUN --mount=type=bind,source=out/canary,target=/c,rw echo x > /c; cat /c\n"})
    p = dy("build", str(ctx), check=False, timeout=120)
    assert p.returncode != 0 and "no such file" in p.err  # the link resolves inside the context
    assert "host secret" not in p.out
    assert canary.read_text() == "host secret"


def test_tmpfs_mount(dy, busybox, ctx):
    write(ctx, {"Dockerfile": "FROM busybox\n"
                              "RUN --mount=type=tmpfs,target=/scratch,size=1m "
                              "grep ' /scratch ' /proc/mounts | cut -d' ' -f3 > /kind && echo x > /scratch/f\n"})
    dy("build", "-q", "-t", "t:1", str(ctx), timeout=120)
    assert dy("run", "--rm", "t:1", "cat", "/kind").out == "tmpfs\n"
    assert dy("run", "--rm", "t:1", "sh", "-c", "test -e /scratch || echo gone").out == "gone\n"


def test_secret_is_readable_in_the_step_and_never_in_the_image(dy, busybox, ctx, tmp_path):
    secret = tmp_path / "token"
    secret.write_text("s3cr3t-VALUE")
    write(ctx, {"Dockerfile": "FROM busybox\n"
                              "RUN --mount=type=secret,id=tok wc -c < /run/secrets/tok > /len && "
                              "stat -c %a /run/secrets/tok > /mode\n"
                              "RUN --mount=type=secret,id=tok,env=TOKEN,required test -n \"$TOKEN\" && echo ok > /env\n"
                              "RUN --mount=type=secret,id=absent test ! -e /run/secrets/absent && echo skipped > /s\n"})
    dy("build", "-q", "--secret", f"id=tok,src={secret}", "-t", "sec:1", str(ctx), timeout=120)
    assert dy("run", "--rm", "sec:1", "cat", "/len", "/mode", "/env", "/s").out.split() == ["12", "400", "ok",
                                                                                          "skipped"]
    files = _image_files(dy, tmp_path, "sec:1")
    assert not any(b"s3cr3t-VALUE" in v for v in files.values())
    assert not any("run/secrets" in k for k in files)
    hist = dy("history", "--no-trunc", "sec:1").out
    assert "s3cr3t" not in hist
    # a changed secret does not change the cache key (as BuildKit), and a required one must be given
    secret.write_text("other")
    assert "Using cache" in dy("build", "--secret", f"id=tok,src={secret}", str(ctx), timeout=120).out
    write(ctx, {"Dockerfile": "FROM busybox\nRUN --mount=type=secret,id=tok,required true\n"})
    p = dy("build", str(ctx), check=False, timeout=120)
    assert p.returncode != 0 and "secret tok not found" in p.err
    no_traceback(p)


def test_refused_mounts_and_modes(dy, busybox, ctx):
    for line, words in (("RUN --mount=type=ssh true", "type=ssh is not supported"),
                        ("RUN --security=insecure true", "security.insecure"),
                        ("RUN --mount=type=cache,target=/c,from=x true", "from= or source=")):
        write(ctx, {"Dockerfile": f"FROM busybox\n{line}\n"})
        p = dy("build", str(ctx), check=False, timeout=120)
        assert p.returncode != 0 and words in p.err, p.err
        no_traceback(p)


def test_run_network_none(dy, busybox, ctx):
    write(ctx, {"Dockerfile": "FROM busybox\nRUN --network=none ls /sys/class/net > /nets\n"})
    dy("build", "-q", "-t", "n:1", str(ctx), timeout=120)
    assert dy("run", "--rm", "n:1", "cat", "/nets").out.split() == ["lo"]


def _tree(dy, image: str, path: str) -> list[str]:
    return sorted(dy("run", "--rm", image, "find", path).out.split())


def test_copy_exclude(dy, busybox, ctx):
    write(ctx, {"Dockerfile": "FROM busybox\n"
                              "COPY --exclude=*.txt --exclude=sub/skip hom* /mydir/\n"
                              "COPY --exclude=*.log app /app\n",
                "home.txt": "x", "home.md": "m", "homedir/a.txt": "t", "homedir/b.md": "b",
                "app/keep.py": "k", "app/x.log": "l", "app/sub/skip": "s", "app/sub/y.log": "l"})
    dy("build", "-q", "-t", "e:1", str(ctx), timeout=120)
    assert _tree(dy, "e:1", "/mydir") == ["/mydir", "/mydir/b.md", "/mydir/home.md"]
    # patterns match the path below the source directory (a leading ** reaches deeper)
    assert _tree(dy, "e:1", "/app") == ["/app", "/app/keep.py", "/app/sub", "/app/sub/skip", "/app/sub/y.log"]
    # an excluded file's change does not invalidate the step
    write(ctx, {"home.txt": "changed", "app/x.log": "changed"})
    out = dy("build", str(ctx), timeout=120).out
    assert out.count("Using cache") == 2


def test_copy_parents(dy, busybox, ctx):
    write(ctx, {"Dockerfile": "FROM busybox\n"
                              "COPY --parents x/a.txt y/*.txt /p/\n"
                              "COPY --parents ./base/./deep/f /q/\n"
                              "COPY x/a.txt y/a.txt /flat/\n",
                "x/a.txt": "xa", "y/a.txt": "ya", "y/b.txt": "yb", "base/deep/f": "f"})
    dy("build", "-q", "-t", "p:1", str(ctx), timeout=120)
    assert _tree(dy, "p:1", "/p") == ["/p", "/p/x", "/p/x/a.txt", "/p/y", "/p/y/a.txt", "/p/y/b.txt"]
    assert _tree(dy, "p:1", "/q") == ["/q", "/q/deep", "/q/deep/f"]
    assert dy("run", "--rm", "p:1", "cat", "/p/y/b.txt", "/flat/a.txt").out == "ybya"


def test_build_flags_reach_the_run_steps(dy, busybox, ctx):
    write(ctx, {"Dockerfile": "FROM busybox\n"
                              "RUN ulimit -n > /nofile && grep -c myhost /etc/hosts > /hosts && "
                              "df -k /dev/shm | tail -1 | awk '{print $2}' > /shm && "
                              "(cat /sys/fs/cgroup/memory.max || cat /sys/fs/cgroup/memory/memory.limit_in_bytes) > /mem\n"})
    dy("build", "-q", "--ulimit", "nofile=1234:1234", "--add-host", "myhost:10.9.8.7", "--shm-size", "8m",
       "-m", "64m", "-t", "f:1", str(ctx), timeout=120)
    assert dy("run", "--rm", "f:1", "cat", "/nofile", "/hosts", "/shm", "/mem").out.split() == [
        "1234", "1", "8192", str(64 << 20)]


def test_rm_false_keeps_the_step_containers(dy, busybox, ctx):
    write(ctx, {"Dockerfile": "FROM busybox\nRUN true\n"})
    dy("build", "-q", "--rm=false", str(ctx), timeout=120)
    assert len(dy("ps", "-aq").out.split()) == 1
    write(ctx, {"Dockerfile": "FROM busybox\nRUN false\n"})
    assert dy("build", "--rm=false", "--force-rm", str(ctx), check=False, timeout=120).returncode == 1
    assert len(dy("ps", "-aq").out.split()) == 1  # --force-rm: the failed step's container went too


def test_no_cache_filter_rebuilds_only_the_named_stages(dy, busybox, ctx):
    write(ctx, {"Dockerfile": "FROM busybox AS deps\nRUN echo d > /d\n"
                              "FROM busybox AS app\nCOPY --from=deps /d /d\nRUN echo a > /a\n"})
    dy("build", "-q", str(ctx), timeout=120)
    out = dy("build", "--no-cache-filter", "app", str(ctx), timeout=120).out
    steps = out.split("Step ")[1:]
    assert ["Using cache" in s for s in steps] == [False, True, False, False, False]
    assert "--no-cache-filter" in steps[3]
    p = dy("build", "--no-cache-filter", "nosuchstage", str(ctx), check=False, timeout=120)
    assert p.returncode == 1 and "no stage named 'nosuchstage'" in p.err  # as an unknown --target


@pytest.mark.parametrize("flags, words", [
    (["--cache-from", "type=registry,ref=img"], "only image names are supported"),
    (["--output", "type=oci,dest=out"], "type=oci is not supported"),
    (["--ssh", "default"], "--ssh is not supported"),
    (["--build-context", "a=docker-image://busybox"], "only local directories"),
    (["--allow", "security.insecure"], "--allow is not supported"),
    (["--compress"], "--compress is not supported"),
    (["--isolation", "hyperv"], "isolation"),
    (["--platform", "linux/s390x"], "platform"),
    (["--ulimit", "bogus=1"], "--ulimit"),
    (["--secret", "id=x,src=/nonexistent/file"], "secret x"),
])
def test_unsupported_or_malformed_build_flags_exit_125(dy, ctx, flags, words):
    write(ctx, {"Dockerfile": "FROM busybox\nRUN true\n"})
    p = dy("build", *flags, str(ctx), check=False)
    assert p.returncode == 125 and words in p.err, p.err
    no_traceback(p)


def test_cache_from_limits_the_cache_to_those_images(dy, busybox, ctx):
    """dockerd's classic builder with --cache-from uses a cached step only where it is part of one
    of the named images (a name it cannot find is skipped)."""
    write(ctx, {"Dockerfile": "FROM busybox\nRUN echo one > /one\n"})
    dy("build", "-q", "-t", "base:1", str(ctx), timeout=120)
    assert "Using cache" in dy("build", "--cache-from", "base:1", str(ctx), timeout=120).out
    assert "Using cache" not in dy("build", "--cache-from", "nosuch:1", str(ctx), timeout=120).out


def test_cache_from_takes_the_named_images_own_layer(dy, busybox, ctx):
    """When the step cache holds a later build of the step, --cache-from still takes the named
    image's layer (matched by its history), as dockerd's classic builder does."""
    write(ctx, {"Dockerfile": "FROM busybox\nRUN cat /proc/sys/kernel/random/uuid > /f\n"})
    for tag in ("one:1", "two:1"):
        dy("build", "-q", "--no-cache", "-t", tag, str(ctx), timeout=120)
    dy("build", "-q", "--cache-from", "one:1", "-t", "three:1", str(ctx), timeout=120)
    f = {t: dy("run", "--rm", "--network", "none", t, "cat", "/f").out for t in ("one:1", "two:1", "three:1")}
    assert f["one:1"] != f["two:1"] and f["three:1"] == f["one:1"], f
    assert dy("inspect", "-f", "{{.RootFS.Layers}}", "three:1").out == dy("inspect", "-f", "{{.RootFS.Layers}}",
                                                                           "one:1").out


def test_output_local_and_tar(dy, busybox, ctx, tmp_path):
    write(ctx, {"Dockerfile": "FROM busybox\nRUN mkdir /out && echo built > /out/f && ln -s f /out/l\n"})
    dest = tmp_path / "dest"
    dy("build", "-q", "--output", f"type=local,dest={dest}", str(ctx), timeout=120)
    assert (dest / "out" / "f").read_text() == "built\n" and os.readlink(dest / "out" / "l") == "f"
    assert (dest / "bin" / "busybox").exists()
    tar = tmp_path / "fs.tar"
    dy("build", "-q", "-o", f"type=tar,dest={tar}", str(ctx), timeout=120)
    with tarfile.open(tar) as t:
        assert t.extractfile("out/f").read() == b"built\n"
    p = dy("build", "-o", "-", str(ctx), timeout=120)  # the tar on stdout, progress on stderr
    with tarfile.open(fileobj=io.BytesIO(p.stdout)) as t:
        assert t.extractfile("out/f").read() == b"built\n"
    assert "Step 2/2" in p.err


def test_bind_content_is_in_the_cache_key_and_build_context_dirs(dy, busybox, ctx, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "o").write_text("named\n")
    write(ctx, {"Dockerfile": "FROM busybox\n"
                              "RUN --mount=type=bind,source=src,target=/s cat /s/a > /a\n"
                              "COPY --from=extra o /o\n"
                              "RUN --mount=type=bind,from=extra,target=/e cat /e/o > /e2\n",
                "src/a": "v1\n"})
    dy("build", "-q", "--build-context", f"extra={other}", "-t", "k:1", str(ctx), timeout=120)
    assert dy("run", "--rm", "k:1", "cat", "/a", "/o", "/e2").out == "v1\nnamed\nnamed\n"
    write(ctx, {"src/a": "v2\n"})
    (other / "o").write_text("named2\n")
    out = dy("build", "--build-context", f"extra={other}", "-t", "k:2", str(ctx), timeout=120).out
    assert "Using cache" not in out  # a changed bound file reruns the step, as BuildKit
    assert dy("run", "--rm", "k:2", "cat", "/a", "/o", "/e2").out == "v2\nnamed2\nnamed2\n"
    write(ctx, {"Dockerfile": "FROM extra\n"})
    p = dy("build", "--build-context", f"extra={other}", str(ctx), check=False, timeout=120)
    assert p.returncode != 0 and "FROM a --build-context directory is not supported" in p.err


def test_pull_fetches_the_base_again(dy, busybox, ctx):
    pytest.importorskip("aiohttp")
    from test_registry_server import Registry

    reg = Registry(ctx.parent)
    try:
        base = f"127.0.0.1:{reg.port}/base:1"
        write(ctx, {"Dockerfile": "FROM busybox\nRUN echo v1 > /v\n"})
        dy("build", "-q", "-t", base, str(ctx), timeout=120)
        dy("push", "-q", base, timeout=120)
        write(ctx, {"Dockerfile": "FROM busybox\nRUN echo v2 > /v\n"})
        dy("build", "-q", "-t", "newer", str(ctx), timeout=120)
        dy("tag", "newer", base)
        dy("push", "-q", base, timeout=120)
        write(ctx, {"Dockerfile": "FROM busybox\nRUN echo v1 > /v\n"})
        dy("build", "-q", "-t", base, str(ctx), timeout=120)  # the local tag is the old one again
        write(ctx, {"Dockerfile": f"FROM {base}\nRUN cat /v > /seen\n"})
        dy("build", "-q", "-t", "nopull", str(ctx), timeout=120)
        dy("build", "-q", "--pull", "-t", "pulled", str(ctx), timeout=120)
        assert dy("run", "--rm", "nopull", "cat", "/seen").out == "v1\n"
        assert dy("run", "--rm", "pulled", "cat", "/seen").out == "v2\n"
        reg.stop()
        p = dy("build", "--pull", str(ctx), check=False, timeout=120)  # the registry is gone: the pull fails
        assert p.returncode == 1 and "--pull" in p.err
        no_traceback(p)
    finally:
        reg.stop()
