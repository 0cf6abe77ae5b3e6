"""Hostile build contexts and stages (issue 10, items 2, 3, 5 and `--chmod`): a build never
writes, changes or reads anything on the host outside its context and its own store.

Every test plants canaries on the HOST (``tmp_path/host``: a secret file, a directory with a
file, outside the context) and checks afterwards that none changed (content, mode, owner), that
nothing new appeared there, and that no blob or file of the store holds the host's secret. What
Docker does on the same contexts (its classic builder, checked by hand on docker 20.10, and
BuildKit's ``FollowSymlinks`` copy): a source symlink is followed *inside* the context, so one
that leaves it names nothing ("file does not exist"); symlinks below a copied directory are
copied as symlinks; a stage's absolute symlinks resolve inside that stage.
"""

import gzip
import io
import os
import stat
import tarfile
import uuid

import pytest
from support import no_traceback

SECRET = f"HOST-SECRET-{uuid.uuid4().hex}"


@pytest.fixture
def host(tmp_path):
    """The host's canaries: ``secret`` (0640, 1234:1234), ``dir/keep`` and ``evil.tar``."""
    h = tmp_path / "host"
    (h / "dir").mkdir(parents=True)
    (h / "secret").write_text(SECRET + "\n")
    os.chown(h / "secret", 1234, 1234)
    os.chmod(h / "secret", 0o640)
    (h / "dir" / "keep").write_text("keep\n")
    with tarfile.open(h / "evil.tar", "w") as tf:
        data = (SECRET + " in a tar\n").encode()
        ti = tarfile.TarInfo("from-host-tar")
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))
    before = snapshot(h)
    yield h
    assert snapshot(h) == before, "the build changed the host's canary directory"


def snapshot(root) -> dict:
    """Every entry below ``root``: type, mode, owner and content (or link target)."""
    out = {}
    for base, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(base, name)
            st = os.lstat(p)
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    body = f.read()
            elif stat.S_ISLNK(st.st_mode):
                body = os.readlink(p).encode()
            else:
                body = b""
            out[os.path.relpath(p, root)] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid,
                                             st.st_gid, body)
    return out


def store_holds(root: str, needle: str) -> list[str]:
    """Files of the store (blobs decompressed) whose bytes contain ``needle``."""
    hits = []
    for base, _dirs, files in os.walk(root):
        for name in files:
            p = os.path.join(base, name)
            if os.path.islink(p) or not os.path.isfile(p) or os.path.getsize(p) > 64 << 20:
                continue
            with open(p, "rb") as f:
                data = f.read()
            if data[:2] == b"\x1f\x8b":
                try:
                    data = gzip.decompress(data)
                except (OSError, EOFError):
                    pass
            if needle.encode() in data:
                hits.append(p)
    return hits


@pytest.fixture
def ctx(tmp_path):
    d = tmp_path / "ctx"
    d.mkdir()
    return d


def write(ctx, files: dict) -> None:
    for name, content in files.items():
        p = os.path.join(ctx, name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(content)


def build(dy, ctx, dockerfile: str, *args: str, check: bool = False):
    write(ctx, {"Dockerfile": dockerfile})
    p = dy("build", *args, str(ctx), check=check, timeout=120)
    no_traceback(p)
    assert SECRET not in p.out and SECRET not in p.err
    return p


def clean(dy) -> None:
    assert store_holds(dy.root, SECRET) == [], "the host's secret got into the store"


def missing(p, source: str) -> None:
    assert p.returncode == 1 and "does not exist" in p.err and source in p.err, p.err


# ------------------------------------------------------------------ item 2: writes through links


@pytest.mark.parametrize("dockerfile", [
    "FROM scratch\nCOPY link sub /app/\n",              # the case: two sources
    "FROM scratch\nCOPY * /app/\n",                     # the same by wildcard
    "FROM scratch\nCOPY link/ /app/\n",
    "FROM scratch\nADD link sub /app/\n",
    "FROM scratch\nCOPY --chown=7:7 --chmod=777 link sub /app/\n",
])
@pytest.mark.parametrize("how", ["absolute", "relative"])
def test_a_context_link_to_a_host_dir_is_followed_inside_the_context_only(dy, host, ctx, dockerfile, how):
    os.symlink(str(host / "dir") if how == "absolute" else "../host/dir", ctx / "link")
    # sub/link/… would be written through a copied `link` onto the host dir
    write(ctx, {"sub/link/keep": "PWNED\n", "sub/link/new": "PWNED\n", "sub/new": "PWNED\n"})
    p = build(dy, ctx, dockerfile)
    missing(p, "link")  # Docker: the link names nothing inside the context
    assert not os.path.exists(host / "dir" / "new")
    clean(dy)


@pytest.mark.parametrize("sources", ["d1 d2", "d*"])
@pytest.mark.parametrize("flags", ["", "--chown=65534:65534 --chmod=0777 "])
def test_a_link_copied_into_the_layer_is_never_written_through(dy, busybox, host, ctx, sources, flags):
    """d1/x is a link to a host directory (copied as a link, as Docker does); d2/x/ then holds
    files: they must land in the image, never in the host directory behind the link."""
    os.makedirs(ctx / "d1")
    os.symlink(str(host / "dir"), ctx / "d1" / "x")
    os.symlink(str(host / "secret"), ctx / "d1" / "s")
    write(ctx, {"d2/x/keep": "PWNED\n", "d2/x/new": "PWNED\n", "d2/s": "PWNED\n"})
    build(dy, ctx, f"FROM busybox\nCOPY {flags}{sources} /app/\n", "-t", "hostile:1", check=True)
    out = dy("run", "--rm", "hostile:1", "sh", "-c", "cat /app/x/keep /app/x/new /app/s; ls -l /app").out
    assert out.startswith("PWNED\nPWNED\nPWNED\n"), out
    clean(dy)


@pytest.mark.parametrize("flags", ["", "--chown=65534:65534 --chmod=0777 "])
def test_links_inside_a_copied_directory_are_copied_not_followed(dy, busybox, host, ctx, flags):
    os.makedirs(ctx / "d")
    os.symlink(str(host / "secret"), ctx / "d" / "abs")
    os.symlink("../../host/secret", ctx / "d" / "rel")
    os.symlink(str(host / "dir"), ctx / "d" / "dirlink")
    build(dy, ctx, f"FROM busybox\nCOPY {flags}d /app/\n", "-t", "links:1", check=True)
    out = dy("run", "--rm", "links:1", "sh", "-c", "for f in abs rel dirlink; do readlink /app/$f; done; "
                                                    "stat -c '%u %F' /app/abs").out.split("\n")
    assert out[:3] == [str(host / "secret"), "../../host/secret", str(host / "dir")]
    want_uid = "65534" if flags else "0"
    assert out[3] == f"{want_uid} symbolic link"
    clean(dy)  # the host's /…/secret (0640, 1234:1234) unchanged is checked by the fixture


def test_a_later_destination_below_a_copied_link_stays_in_the_image(dy, busybox, host, ctx):
    """A destination below a link that an earlier step copied: the file lands in the image."""
    os.makedirs(ctx / "d")
    os.symlink(str(host / "dir"), ctx / "d" / "x")
    write(ctx, {"new": "PWNED\n"})
    build(dy, ctx, "FROM busybox\nCOPY d /app/\nCOPY new /app/x/\n", "-t", "dest:1", check=True)
    # the second step starts a fresh layer: /app/x is a directory there, the link is replaced
    assert dy("run", "--rm", "dest:1", "cat", "/app/x/new").out == "PWNED\n"
    clean(dy)


@pytest.mark.parametrize("dest, inside", [("../../../../..{host}/dir/", "{host}/dir/new"),
                                         ("/../..{host}/dir/new", "{host}/dir/new"),
                                         ("{host}/dir/keep", "{host}/dir/keep")])
def test_destinations_that_climb_or_name_host_paths_stay_in_the_image(dy, busybox, host, ctx, dest, inside):
    write(ctx, {"new": "PWNED\n"})
    build(dy, ctx, f"FROM busybox\nWORKDIR /w\nCOPY new {dest.format(host=host)}\n", "-t", "dest:2", check=True)
    assert dy("run", "--rm", "dest:2", "cat", inside.format(host=host)).out == "PWNED\n"


# ------------------------------------------------------------------ item 3: reads outside a root


@pytest.mark.parametrize("dockerfile, source", [
    ("FROM scratch\nCOPY slink /x\n", "slink"),
    ("FROM scratch\nCOPY hostdir/secret /x\n", "hostdir/secret"),
    ("FROM scratch\nCOPY */secret /x/\n", "*/secret"),
    ("FROM scratch\nCOPY s* /x/\n", "slink"),
    ("FROM scratch\nADD slink /x\n", "slink"),
    ("FROM scratch\nADD tarlink /x/\n", "tarlink"),
    ("FROM scratch\nCOPY --chown=1:1 --chmod=644 slink /x\n", "slink"),
])
def test_context_links_out_of_the_context_read_nothing(dy, host, ctx, dockerfile, source):
    os.symlink(str(host / "secret"), ctx / "slink")
    os.symlink(str(host), ctx / "hostdir")
    os.symlink(str(host / "evil.tar"), ctx / "tarlink")
    p = build(dy, ctx, dockerfile)
    assert p.returncode == 1, p.err
    assert "does not exist" in p.err or "no source files" in p.err, p.err
    clean(dy)
    assert store_holds(dy.root, "in a tar") == []


def test_copy_dot_with_links_out_of_the_context(dy, busybox, host, ctx):
    """`COPY . /app/` copies the top-level links as links (they are below the source)."""
    os.symlink(str(host / "secret"), ctx / "slink")
    os.symlink(str(host / "evil.tar"), ctx / "tarlink")
    write(ctx, {"ok": "fine\n"})
    build(dy, ctx, "FROM busybox\nADD . /app/\n", "-t", "dot:1", check=True)
    assert dy("run", "--rm", "dot:1", "sh", "-c", "readlink /app/slink; readlink /app/tarlink").out.split() == \
        [str(host / "secret"), str(host / "evil.tar")]
    clean(dy)
    assert store_holds(dy.root, "in a tar") == []


def _stage_with_host_path(host) -> str:
    """A stage that has the host's canary path itself (with its own content) and links to it."""
    return (f"FROM busybox AS stage\n"
            f"RUN mkdir -p {host} && echo stage-content > {host}/secret && ln -s {host} /lnk "
            f"&& ln -s {host}/secret /flink && mkdir -p /data && echo in-stage > /data/f && "
            f"rm -rf /var/run && ln -s /data /var/run\n")


@pytest.mark.parametrize("from_", ["stage", "image"])
def test_copy_from_resolves_absolute_links_inside_the_stage(dy, busybox, host, ctx, from_):
    df = _stage_with_host_path(host)
    ref = "stage"
    if from_ == "image":
        build(dy, ctx, df, "-t", "stageimg:1", check=True)
        df, ref = "", "stageimg:1"
    df += (f"FROM busybox\nCOPY --from={ref} /lnk/secret /a\nCOPY --from={ref} /flink /b\n"
           f"COPY --from={ref} /var/run/f /c\nCOPY --from={ref} /lnk /d/\n"
           f"COPY --from={ref} ../../../../..{host}/secret /e\n")
    build(dy, ctx, df, "-t", "from:1", check=True)
    out = dy("run", "--rm", "from:1", "cat", "/a", "/b", "/c", "/d/secret", "/e").out
    assert out == "stage-content\n" * 2 + "in-stage\n" + "stage-content\n" * 2
    clean(dy)


@pytest.mark.parametrize("source", ["/lnk/secret", "/flink", "../../../../..{host}/secret", "/lnk/dir/keep"])
def test_copy_from_a_stage_never_reads_the_host(dy, busybox, host, ctx, source):
    """The stage links to the host's canaries but does not have them: nothing is found."""
    source = source.format(host=host)
    df = (f"FROM busybox AS stage\nRUN ln -s {host} /lnk && ln -s {host}/secret /flink\n"
          f"FROM busybox\nCOPY --from=stage {source} /x\n")
    p = build(dy, ctx, df)
    missing(p, source)
    clean(dy)


def test_copy_from_never_opens_a_device_node(dy, busybox, ctx, tmp_path):
    """A stage's /dev/null-like node (or a disk's) is not read into the image."""
    df = ("FROM busybox AS stage\nRUN mknod /zero c 1 5 && mkdir /d && mknod /d/zero c 1 5 && echo f > /d/f\n"
          "FROM busybox\nCOPY --from=stage /zero /d /x/\n")
    p = build(dy, ctx, df, "-t", "dev:1")
    if p.returncode != 0:  # mknod refused by the container's device policy: nothing to copy
        assert "mknod" in p.err or "non-zero code" in p.err, p.err
        return
    assert dy("run", "--rm", "dev:1", "ls", "-A", "/x").out.split() == ["f"]


def test_chown_by_name_reads_passwd_inside_the_stage(dy, busybox, host, ctx):
    """An image whose /etc/passwd links to a host path: the name is looked up in the image."""
    fake = host.parent / "passwd"
    fake.write_text("evil:x:4242:4242::/:/bin/sh\n")
    write(ctx, {"f": "x\n"})
    df = f"FROM busybox\nRUN ln -sf {fake} /etc/passwd\nCOPY --chown=evil f /f\n"
    p = build(dy, ctx, df)
    assert p.returncode == 1 and "evil" in p.err, p.err


# ------------------------------------------------------------------ ADD of archives


def test_add_tar_entries_cannot_escape(dy, busybox, host, ctx):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, kind, target in [("l", tarfile.SYMTYPE, str(host / "dir")), ("l/new", tarfile.REGTYPE, ""),
                                   ("l/keep", tarfile.REGTYPE, ""), ("../../host/dir/new2", tarfile.REGTYPE, "")]:
            ti = tarfile.TarInfo(name)
            ti.type = kind
            if kind == tarfile.SYMTYPE:
                ti.linkname = target
                tf.addfile(ti)
            else:
                ti.size = 6
                tf.addfile(ti, io.BytesIO(b"PWNED\n"))
    (ctx / "a.tar").write_bytes(buf.getvalue())
    p = build(dy, ctx, "FROM busybox\nADD a.tar /app/\n", "-t", "tar:1")
    if p.returncode == 0:
        out = dy("run", "--rm", "tar:1", "find", "/app").out
        assert "new" in out
    else:
        assert "outside" in p.err, p.err
    clean(dy)


def test_add_tar_is_unpacked_into_the_destination_as_docker_does(dy, busybox, ctx):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        ti = tarfile.TarInfo("f")
        ti.size = 3
        tf.addfile(ti, io.BytesIO(b"in\n"))
    (ctx / "a.tgz").write_bytes(buf.getvalue())
    os.symlink("a.tgz", ctx / "inner-link.tgz")  # a link inside the context is followed
    build(dy, ctx, "FROM busybox\nADD a.tgz /x\nADD inner-link.tgz /y/\n", "-t", "tgz:1", check=True)
    assert dy("run", "--rm", "tgz:1", "cat", "/x/f", "/y/f").out == "in\nin\n"


# ------------------------------------------------------------------ legitimate links still work


def test_legitimate_links_inside_the_context(dy, busybox, ctx):
    write(ctx, {"a": "A\n", "dir/inner/f": "I\n"})
    os.symlink("a", ctx / "link")
    os.symlink("/a", ctx / "abslink")  # absolute: resolved inside the context, as Docker does
    os.symlink("dir", ctx / "dirlink")
    os.symlink("../a", ctx / "dir" / "rel")
    os.symlink("/a", ctx / "dir" / "abs")
    build(dy, ctx, "FROM busybox\nCOPY link /x\nCOPY abslink /y\nCOPY dirlink /d/\nCOPY dir/inner/../../a /z\n",
          "-t", "legit:1", check=True)
    out = dy("run", "--rm", "legit:1", "sh", "-c",
             "cat /x /y /z /d/inner/f; readlink /d/rel; readlink /d/abs; test -L /x || echo x-is-a-file").out
    assert out == "A\nA\nA\nI\n../a\n/a\nx-is-a-file\n"


def test_wildcards_match_dot_files_and_follow_links_inside(dy, busybox, ctx):
    write(ctx, {".hidden": "h\n", "dir/secret": "inside\n", ".dockerignore": "ignored\n", "ignored": "no\n"})
    os.symlink("dir", ctx / "dlink")
    build(dy, ctx, "FROM busybox\nCOPY */secret /s/\nCOPY .h* /h/\n", "-t", "wild:1", check=True)
    assert dy("run", "--rm", "wild:1", "cat", "/s/secret", "/h/.hidden").out == "inside\nh\n"
    p = build(dy, ctx, "FROM busybox\nCOPY ignored /x\n")
    missing(p, "ignored")


def test_dockerignore_reincludes_below_an_excluded_directory(dy, busybox, ctx):
    write(ctx, {"d/keep": "k\n", "d/other": "o\n", "e/x": "x\n", ".dockerignore": "d\n!d/keep\n"})
    build(dy, ctx, "FROM busybox\nCOPY . /app/\n", "-t", "reinc:1", check=True)
    assert dy("run", "--rm", "reinc:1", "find", "/app/d", "/app/e").out.split() == \
        ["/app/d", "/app/d/keep", "/app/e", "/app/e/x"]


def test_cache_follows_the_content_behind_a_source_link(dy, busybox, ctx):
    write(ctx, {"a": "1\n"})
    os.symlink("a", ctx / "link")
    build(dy, ctx, "FROM busybox\nCOPY link /x\n", "-t", "c:1", check=True)
    write(ctx, {"a": "2\n"})
    p = build(dy, ctx, "FROM busybox\nCOPY link /x\n", "-t", "c:2", check=True)
    assert "Using cache" not in p.out.split("Step 2/2")[1]
    assert dy("run", "--rm", "c:2", "cat", "/x").out == "2\n"


# ------------------------------------------------------------------ item 5: the Dockerfile itself


def test_a_dockerfile_linking_out_of_the_context_is_refused_unread(dy, host, ctx):
    os.symlink(str(host / "secret"), ctx / "Dockerfile")
    p = dy("build", str(ctx), check=False, timeout=60)
    no_traceback(p)
    assert p.returncode == 1 and "unable to open Dockerfile" in p.err, p.err
    assert SECRET not in p.err and SECRET not in p.out


def test_a_dockerfile_linking_out_of_a_stdin_context_is_refused(dy, host):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        ti = tarfile.TarInfo("Dockerfile")
        ti.type = tarfile.SYMTYPE
        ti.linkname = str(host / "secret")
        tf.addfile(ti)
    p = dy("build", "-", input=buf.getvalue(), check=False, timeout=60)
    no_traceback(p)
    assert p.returncode == 1 and "unable to open Dockerfile" in p.err and SECRET not in p.err, p.err


def test_dockerfile_links_inside_the_context_and_explicit_f_work_as_docker(dy, busybox, host, ctx, tmp_path):
    write(ctx, {"real.df": "FROM busybox\nCOPY f /f\n", "f": "ok\n"})
    os.symlink("real.df", ctx / "Dockerfile")
    dy("build", "-t", "df:1", str(ctx), timeout=120)
    assert dy("run", "--rm", "df:1", "cat", "/f").out == "ok\n"
    # -f names a file explicitly: Docker reads it wherever it is, through links too
    outside = tmp_path / "outside.df"
    outside.write_text("FROM busybox\nCOPY f /g\n")
    os.symlink(str(outside), tmp_path / "outside-link.df")
    dy("build", "-f", str(tmp_path / "outside-link.df"), "-t", "df:2", str(ctx), timeout=120)
    assert dy("run", "--rm", "df:2", "cat", "/g").out == "ok\n"


def test_a_dockerignore_linking_out_of_the_context_is_not_read(dy, busybox, host, ctx):
    (host.parent / "ignore").write_text("f\n")
    os.symlink(str(host.parent / "ignore"), ctx / ".dockerignore")
    write(ctx, {"f": "kept\n"})
    build(dy, ctx, "FROM busybox\nCOPY f /f\n", "-t", "ign:1", check=True)
    assert dy("run", "--rm", "ign:1", "cat", "/f").out == "kept\n"


# ------------------------------------------------------------------ item 10: --chmod


@pytest.mark.parametrize("value", ["99999", "8", "-1", "u+x", "07778", "17777"])
def test_bad_chmod_is_a_clear_error_with_the_line(dy, ctx, value):
    write(ctx, {"f": "x\n"})
    p = build(dy, ctx, f"FROM scratch\nENV A=1\nCOPY --chmod={value} f /f\n")
    assert p.returncode == 1 and "Dockerfile:3" in p.err and "chmod" in p.err, p.err


def test_good_chmod_applies_to_files_and_dirs(dy, busybox, ctx):
    write(ctx, {"d/f": "x\n"})
    build(dy, ctx, "FROM busybox\nCOPY --chmod=0751 d /d/\nCOPY --chmod=4755 d/f /s\n", "-t", "mode:1", check=True)
    assert dy("run", "--rm", "mode:1", "stat", "-c", "%a", "/d/f", "/s").out.split() == ["751", "4755"]


def test_run_mount_bind_of_root_is_the_context_not_the_host(dy, busybox, host, ctx):
    os.symlink(str(host), ctx / "hostlink")  # a link out of the context resolves inside it
    for source in ("/", "hostlink", "./hostlink/.."):
        p = build(dy, ctx, f"FROM busybox\nRUN --mount=type=bind,source={source},target=/h "
                           f"cat /h{host}/secret /h/secret /h/hostlink/secret\n")
        assert p.returncode == 1 and SECRET not in p.out + p.err, p.err
    clean(dy)
