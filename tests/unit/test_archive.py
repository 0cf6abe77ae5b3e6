"""The layer tar reader and writer: hostile tars, whiteouts, determinism, round trips.

Hostile tars are built in memory; each case asserts that nothing outside the extraction root
changed and that the error names the offending entry.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import stat
import subprocess
import tarfile

import pytest

from dockyard import errors
from dockyard.fsutil import content_bytes
from dockyard.archive.apply import apply_layer, content_size
from dockyard.archive.create import compress_gzip, layer_from_dir, write_layer_tar, write_rootfs_tar

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="needs root (chown, mknod, trusted.* xattrs)")


# -- helpers ----------------------------------------------------------------------------------


def entry(name: str, kind: str = "file", data: bytes = b"", **kw) -> tuple[tarfile.TarInfo, bytes]:
    ti = tarfile.TarInfo(name)
    ti.type = {
        "file": tarfile.REGTYPE,
        "dir": tarfile.DIRTYPE,
        "symlink": tarfile.SYMTYPE,
        "hardlink": tarfile.LNKTYPE,
        "chr": tarfile.CHRTYPE,
        "blk": tarfile.BLKTYPE,
        "fifo": tarfile.FIFOTYPE,
    }.get(kind, kind)
    ti.mode = kw.pop("mode", 0o755 if kind == "dir" else 0o644)
    ti.mtime = kw.pop("mtime", 1_600_000_000)
    if kind == "file":
        ti.size = len(data)
    for k, v in kw.items():
        setattr(ti, k, v)
    return ti, data


def make_tar(*entries: tuple[tarfile.TarInfo, bytes], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for ti, data in entries:
            tf.addfile(ti, io.BytesIO(data) if ti.isreg() else None)
    return buf.getvalue()


def snapshot(path: str) -> dict[str, tuple]:
    """Everything observable about a tree, to prove it did not change."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(path):
        for name in [*dirnames, *filenames]:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            content = b""
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    content = f.read()
            out[os.path.relpath(p, path)] = (st.st_mode, st.st_uid, st.st_mtime_ns, st.st_ino, content)
    return out


@pytest.fixture
def dirs(tmp_path):
    """root/ to extract into, outside/ with a victim file next to it."""
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "victim").write_text("precious")
    return root, outside


def fingerprint(path: str) -> tuple:
    st = os.lstat(path)
    with open(path, "rb") as f:
        return (st.st_ino, st.st_mtime_ns, st.st_mode, hashlib.sha256(f.read()).hexdigest())


# -- hostile tars -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "entries, bad",
    [
        ([entry("../victim", data=b"pwned")], "../victim"),
        ([entry("a/../../victim", data=b"pwned")], "a/../../victim"),
        ([entry("./../outside/victim", data=b"pwned")], "./../outside/victim"),
        ([entry("h", "hardlink", linkname="../outside/victim")], "h"),
        ([entry("h", "hardlink", linkname="../../etc/passwd")], "h"),
        ([entry("a", "dir"), entry("a/h", "hardlink", linkname="a/../../outside/victim")], "a/h"),
        ([entry("null", "chr", devmajor=1, devminor=3)], "null"),
        ([entry("sda", "blk", devmajor=8, devminor=0)], "sda"),
        ([entry("weird", b"V")], "weird"),
        ([entry("d", "dir"), entry("d/.wh..", data=b"")], "d/.wh.."),
        ([entry("x", "symlink", linkname="y"), entry("y", "symlink", linkname="x"), entry("x/f", data=b"!")], "x/f"),
    ],
    ids=[
        "dotdot",
        "nested-dotdot",
        "dot-dotdot",
        "hardlink-dotdot",
        "hardlink-etc-passwd",
        "hardlink-nested-dotdot",
        "char-device",
        "block-device",
        "unknown-type",
        "whiteout-dot",
        "symlink-loop",
    ],
)
def test_hostile_entries_are_refused(dirs, entries, bad):
    root, outside = dirs
    before = snapshot(str(outside.parent))
    etc_before = fingerprint("/etc/passwd")
    with pytest.raises(errors.InvalidArgument) as exc:
        apply_layer(io.BytesIO(make_tar(*entries)), str(root), mode="flatten", allow_devices=False)
    assert repr(bad) in str(exc.value) or bad in str(exc.value)
    after = snapshot(str(outside.parent))
    assert {k: v for k, v in after.items() if k.startswith("outside")} == {
        k: v for k, v in before.items() if k.startswith("outside")
    }
    assert fingerprint("/etc/passwd") == etc_before


def test_unsafe_archive_category(dirs):
    root, _ = dirs
    with pytest.raises(errors.UnsafeArchive):
        apply_layer(io.BytesIO(make_tar(entry("../x"))), str(root))
    with pytest.raises(errors.UnsafeArchive):
        apply_layer(io.BytesIO(make_tar(entry("c", "chr", devmajor=1, devminor=3))), str(root), allow_devices=False)


def test_absolute_names_are_stripped_into_the_root(dirs, tmp_path):
    root, outside = dirs
    name = f"/etc/dockyard-test-{os.getpid()}-{tmp_path.name}"
    apply_layer(io.BytesIO(make_tar(entry(name, data=b"inside"))), str(root), mode="flatten")
    assert (root / name.lstrip("/")).read_bytes() == b"inside"
    assert not os.path.exists(name)
    # and an absolute path to the victim lands inside too
    apply_layer(io.BytesIO(make_tar(entry(str(outside / "victim"), data=b"pwned"))), str(root), mode="flatten")
    assert (outside / "victim").read_text() == "precious"
    assert (root / str(outside / "victim").lstrip("/")).read_bytes() == b"pwned"


@pytest.mark.parametrize("mode", ["overlay", "flatten"])
def test_symlink_to_slash_in_parent_resolves_inside_root(dirs, mode):
    root, _ = dirs
    before = fingerprint("/etc/passwd")
    tar = make_tar(entry("a", "symlink", linkname="/"), entry("a/etc/passwd", data=b"root::0:0::/:/bin/sh\n"))
    apply_layer(io.BytesIO(tar), str(root), mode=mode)
    assert fingerprint("/etc/passwd") == before
    assert (root / "etc" / "passwd").read_bytes().startswith(b"root::")
    assert os.readlink(root / "a") == "/"


def test_symlink_climbing_dotdot_is_clamped_at_root(dirs):
    root, outside = dirs
    tar = make_tar(entry("d", "dir"), entry("d/a", "symlink", linkname="../../.."), entry("d/a/victim", data=b"x"))
    apply_layer(io.BytesIO(tar), str(root), mode="flatten")
    assert (outside / "victim").read_text() == "precious"
    assert (root / "victim").read_bytes() == b"x"


def test_symlink_already_on_disk_is_resolved_inside_root(dirs):
    """flatten onto a tree whose lower layer holds a symlink pointing out of the root."""
    root, outside = dirs
    os.symlink(str(outside), root / "lib")
    apply_layer(io.BytesIO(make_tar(entry("lib/victim", data=b"pwned"))), str(root), mode="flatten")
    assert (outside / "victim").read_text() == "precious"
    assert (root / str(outside).lstrip("/") / "victim").read_bytes() == b"pwned"
    assert os.path.islink(root / "lib")


def test_relative_symlink_in_parent_is_followed_like_docker(dirs):
    root, _ = dirs
    tar = make_tar(entry("usr/lib", "dir"), entry("lib", "symlink", linkname="usr/lib"), entry("lib/libc.so", data=b"elf"))
    apply_layer(io.BytesIO(tar), str(root), mode="flatten")
    assert (root / "usr" / "lib" / "libc.so").read_bytes() == b"elf"


def test_hardlink_through_symlink_cannot_reach_outside(dirs):
    root, outside = dirs
    tar = make_tar(entry("s", "symlink", linkname=str(outside)), entry("h", "hardlink", linkname="s/victim"))
    with pytest.raises(errors.UnsafeArchive) as exc:
        apply_layer(io.BytesIO(tar), str(root), mode="flatten")
    assert "'h'" in str(exc.value)
    assert os.stat(outside / "victim").st_nlink == 1
    assert not (root / "h").exists()


def test_hardlink_through_symlink_resolves_inside_root(dirs):
    root, outside = dirs
    inner = str(outside).lstrip("/")
    tar = make_tar(
        entry(f"{inner}/victim", data=b"decoy"),
        entry("s", "symlink", linkname=str(outside)),
        entry("h", "hardlink", linkname="s/victim"),
    )
    apply_layer(io.BytesIO(tar), str(root), mode="flatten")
    assert os.stat(outside / "victim").st_nlink == 1
    assert os.path.samefile(root / "h", root / inner / "victim")
    assert (root / "h").read_bytes() == b"decoy"


def test_hardlink_to_a_symlink_links_the_symlink_itself(dirs):
    root, outside = dirs
    tar = make_tar(entry("s", "symlink", linkname=str(outside / "victim")), entry("h", "hardlink", linkname="s"))
    apply_layer(io.BytesIO(tar), str(root), mode="flatten")
    assert os.path.islink(root / "h") and os.readlink(root / "h") == str(outside / "victim")
    assert os.stat(outside / "victim").st_nlink == 1


def test_dir_replaced_by_symlink_does_not_get_deferred_chmod(dirs):
    """The directory's mode and mtime are set at the end; by then a symlink may stand there."""
    root, outside = dirs
    os.chmod(outside, 0o755)
    tar = make_tar(entry("d", "dir", mode=0o700), entry("d", "symlink", linkname=str(outside)))
    apply_layer(io.BytesIO(tar), str(root), mode="flatten")
    assert stat.S_IMODE(os.stat(outside).st_mode) == 0o755
    assert os.readlink(root / "d") == str(outside)


def test_file_replacing_symlink_does_not_write_through_it(dirs):
    root, outside = dirs
    tar = make_tar(entry("v", "symlink", linkname=str(outside / "victim")), entry("v", data=b"pwned"))
    apply_layer(io.BytesIO(tar), str(root), mode="flatten")
    assert (outside / "victim").read_text() == "precious"
    assert (root / "v").read_bytes() == b"pwned" and not os.path.islink(root / "v")


def test_parent_that_is_a_file_is_an_error_naming_the_entry(dirs):
    root, _ = dirs
    with pytest.raises(errors.InvalidArgument) as exc:
        apply_layer(io.BytesIO(make_tar(entry("f", data=b"x"), entry("f/g", data=b"y"))), str(root))
    assert "'f/g'" in str(exc.value)


def test_truncated_and_garbage_streams(dirs):
    root, _ = dirs
    tar = make_tar(entry("big", data=b"x" * 100_000))
    with pytest.raises(errors.InvalidArgument):
        apply_layer(io.BytesIO(tar[:50_000]), str(root))
    with pytest.raises(errors.InvalidArgument):
        apply_layer(io.BytesIO(b"\x1f\x8b" + b"not gzip at all" * 10), str(root))
    with pytest.raises(errors.InvalidArgument):
        apply_layer(io.BytesIO(b"definitely not a tar" * 100), str(root))


def test_empty_stream_is_an_empty_layer(dirs):
    root, _ = dirs
    r = apply_layer(io.BytesIO(b""), str(root))
    assert r.size == 0 and r.diff_id == "sha256:" + hashlib.sha256(b"").hexdigest()


def test_well_known_empty_layer(dirs):
    """1024 zero bytes: the empty tar Docker uses for config-only steps."""
    root, _ = dirs
    r = apply_layer(io.BytesIO(gzip.compress(b"\0" * 1024)), str(root))
    assert r.diff_id == "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"
    assert os.listdir(root) == []


def test_devices_allowed_by_default(dirs):
    root, _ = dirs
    if not ROOT:
        pytest.skip("mknod of devices needs root")
    apply_layer(io.BytesIO(make_tar(entry("null", "chr", devmajor=1, devminor=3, mode=0o666))), str(root))
    st = os.lstat(root / "null")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3) and stat.S_IMODE(st.st_mode) == 0o666


# -- compression and diff IDs -----------------------------------------------------------------


def _sample_tar() -> bytes:
    return make_tar(entry("a", "dir"), entry("a/b", data=b"hello" * 1000), entry("c", "symlink", linkname="a/b"))


def test_diff_id_and_size_for_every_compression(tmp_path):
    plain = _sample_tar() + b"\0" * 4096  # trailing padding is part of the diff ID
    want = "sha256:" + hashlib.sha256(plain).hexdigest()
    blobs = {"none": plain, "gzip": gzip.compress(plain)}
    import bz2
    import lzma

    blobs["bzip2"] = bz2.compress(plain)
    blobs["xz"] = lzma.compress(plain)
    if shutil.which("zstd"):
        blobs["zstd"] = subprocess.run(["zstd", "-q", "-c"], input=plain, stdout=subprocess.PIPE, check=True).stdout
    for name, blob in blobs.items():
        root = tmp_path / name
        path = tmp_path / f"{name}.blob"
        path.write_bytes(blob)
        r = apply_layer(str(path), str(root))
        # Docker's layer size: file bytes plus symlink targets ("a/b"), no headers or padding
        assert (r.diff_id, r.size) == (want, 5000 + 3), name
        with open(path, "rb") as f:
            assert content_size(f) == 5003, name
        assert (root / "a" / "b").read_bytes() == b"hello" * 1000


def test_zstd_without_binary_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(errors.Unavailable) as exc:
        apply_layer(io.BytesIO(b"\x28\xb5\x2f\xfd" + b"\0" * 32), str(tmp_path / "r"))
    assert "zstd" in str(exc.value) and exc.value.hint


@pytest.mark.skipif(not shutil.which("zstd"), reason="zstd binary not installed")
def test_corrupt_zstd_is_invalid(tmp_path):
    with pytest.raises(errors.InvalidArgument):
        apply_layer(io.BytesIO(b"\x28\xb5\x2f\xfd" + b"garbage" * 100), str(tmp_path / "r"))


def test_non_seekable_source(tmp_path):
    class Pipe:
        def __init__(self, data: bytes) -> None:
            self._b = io.BytesIO(data)

        def read(self, n=-1):
            return self._b.read(min(n, 7) if n and n > 0 else n)  # short reads, like a socket

    plain = _sample_tar()
    r = apply_layer(Pipe(gzip.compress(plain)), str(tmp_path / "r"))
    assert r.diff_id == "sha256:" + hashlib.sha256(plain).hexdigest()


# -- whiteouts ----------------------------------------------------------------------------------


@needs_root
def test_whiteouts_overlay_mode(tmp_path):
    root = tmp_path / "layer"
    tar = make_tar(
        entry("a", "dir"),
        entry("a/.wh.b"),
        entry("c", "dir"),
        entry("c/.wh..wh..opq"),
        entry("c/keep", data=b"k"),
        entry("d/.wh.e"),  # parent not listed: created
    )
    apply_layer(io.BytesIO(tar), str(root), mode="overlay")
    st = os.lstat(root / "a" / "b")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert os.getxattr(root / "c", "trusted.overlay.opaque") == b"y"
    assert sorted(os.listdir(root / "c")) == ["keep"]
    assert stat.S_ISCHR(os.lstat(root / "d" / "e").st_mode)
    assert not any(n.startswith(".wh.") for _, ds, fs in os.walk(root) for n in ds + fs)


def _lower(root):
    (root / "a").mkdir(parents=True)
    (root / "a" / "b").write_text("lower")
    (root / "a" / "stay").write_text("lower")
    (root / "c" / "sub").mkdir(parents=True)
    (root / "c" / "old").write_text("lower")
    (root / "c" / "sub" / "y").write_text("lower")
    (root / "gone").mkdir()
    (root / "gone" / "deep").write_text("lower")


@pytest.mark.parametrize("marker_first", [True, False], ids=["marker-first", "marker-last"])
def test_whiteouts_flatten_mode(tmp_path, marker_first):
    root = tmp_path / "rootfs"
    _lower(root)
    opq = [entry("c/.wh..wh..opq")]
    added = [entry("c", "dir"), entry("c/new", data=b"n"), entry("c/sub/z", data=b"z")]
    body = (opq + added) if marker_first else (added + opq)
    tar = make_tar(entry("a/.wh.b"), entry(".wh.gone"), *body)
    apply_layer(io.BytesIO(tar), str(root), mode="flatten")
    assert sorted(os.listdir(root / "a")) == ["stay"]
    assert not (root / "gone").exists()
    assert sorted(os.listdir(root / "c")) == ["new", "sub"]
    assert sorted(os.listdir(root / "c" / "sub")) == ["z"]


def test_whiteout_never_hides_the_same_layers_entry(tmp_path):
    root = tmp_path / "rootfs"
    root.mkdir()
    tar = make_tar(entry("x", data=b"mine"), entry(".wh.x"))
    apply_layer(io.BytesIO(tar), str(root), mode="flatten")
    assert (root / "x").read_bytes() == b"mine"


def test_non_dir_replaces_dir_and_dir_merges_dir(tmp_path):
    root = tmp_path / "rootfs"
    (root / "was_dir" / "inner").mkdir(parents=True)
    (root / "keep_dir").mkdir()
    (root / "keep_dir" / "lower").write_text("l")
    (root / "was_file").write_text("f")
    tar = make_tar(entry("was_dir", data=b"now a file"), entry("keep_dir", "dir", mode=0o700), entry("was_file", "dir"))
    apply_layer(io.BytesIO(tar), str(root), mode="flatten")
    assert (root / "was_dir").read_bytes() == b"now a file"
    assert (root / "keep_dir" / "lower").read_text() == "l"
    assert stat.S_IMODE(os.stat(root / "keep_dir").st_mode) == 0o700
    assert (root / "was_file").is_dir()


# -- metadata -----------------------------------------------------------------------------------


@needs_root
def test_metadata_is_preserved(tmp_path):
    root = tmp_path / "r"
    xattr = {"SCHILY.xattr.user.k": "v", "SCHILY.xattr.trusted.overlay.opaque": "y"}
    tar = make_tar(
        entry("d", "dir", mode=0o1777, uid=5, gid=6, mtime=1_000_000_000),
        entry("d/suid", data=b"#!", mode=0o4755, uid=7, gid=8, mtime=1_100_000_000, pax_headers=xattr),
        entry("d/link", "symlink", linkname="suid", uid=9, gid=10, mtime=1_200_000_000),
        entry("fifo", "fifo", mode=0o640, uid=11, gid=12),
        entry("hard", "hardlink", linkname="d/suid", mode=0o4755, uid=7, gid=8, mtime=1_100_000_000),
        entry("frac", data=b"", pax_headers={"mtime": "1500000000.123456789"}),
    )
    apply_layer(io.BytesIO(tar), str(root), mode="flatten")
    d = os.lstat(root / "d")
    assert (stat.S_IMODE(d.st_mode), d.st_uid, d.st_gid, d.st_mtime) == (0o1777, 5, 6, 1_000_000_000)
    s = os.lstat(root / "d" / "suid")
    assert (stat.S_IMODE(s.st_mode), s.st_uid, s.st_gid, s.st_mtime) == (0o4755, 7, 8, 1_100_000_000)
    assert os.getxattr(root / "d" / "suid", "user.k") == b"v"
    assert "trusted.overlay.opaque" not in os.listxattr(root / "d" / "suid")
    ln = os.lstat(root / "d" / "link")
    assert (ln.st_uid, ln.st_gid, ln.st_mtime) == (9, 10, 1_200_000_000)
    f = os.lstat(root / "fifo")
    assert stat.S_ISFIFO(f.st_mode) and (stat.S_IMODE(f.st_mode), f.st_uid) == (0o640, 11)
    assert os.path.samefile(root / "hard", root / "d" / "suid")
    assert os.lstat(root / "frac").st_mtime_ns == 1_500_000_000_123_456_789


def test_same_owner_false_keeps_our_uid(tmp_path):
    root = tmp_path / "r"
    apply_layer(io.BytesIO(make_tar(entry("f", data=b"x", uid=4242, gid=4242))), str(root), same_owner=False)
    assert os.lstat(root / "f").st_uid == os.geteuid()


# -- writing: determinism and round trips --------------------------------------------------------


def _tree(src):
    (src / "dir" / "sub").mkdir(parents=True)
    (src / "dir" / "file").write_bytes(b"content\n" * 100)
    (src / "dir" / "empty").write_bytes(b"")
    os.link(src / "dir" / "file", src / "hardlink")
    os.symlink("dir/file", src / "symlink")
    os.symlink("/nonexistent/abs", src / "dangling")
    os.mkfifo(src / "fifo")
    (src / "ünïcode name").write_text("u")
    (src / ("long" * 40)).write_text("long name")
    os.chmod(src / "dir" / "file", 0o4755)
    os.chmod(src / "dir" / "sub", 0o750)
    os.setxattr(src / "dir" / "file", "user.comment", b"hello\xff")
    if ROOT:
        os.chown(src / "dir" / "sub", 1234, 5678)
        os.lchown(src / "symlink", 42, 43)
        os.mknod(src / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))


def _set_mtimes(src, t):
    for dirpath, dirnames, filenames in os.walk(src):
        for n in dirnames + filenames:
            os.utime(os.path.join(dirpath, n), (t, t), follow_symlinks=False)


def test_deterministic_output(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    _tree(src)
    _set_mtimes(src, 1_700_000_000)
    one = io.BytesIO()
    write_layer_tar(str(src), one, overlay_upper=False, mtime_clamp=1_000_000_000)
    blob1 = layer_from_dir(str(src), overlay_upper=False, mtime_clamp=1_000_000_000, tmp_dir=str(tmp_path))
    _set_mtimes(src, 1_800_000_000)
    os.utime(src / "dir" / "file", (1_800_000_000.5, 1_800_000_000.5))
    two = io.BytesIO()
    size = write_layer_tar(str(src), two, overlay_upper=False, mtime_clamp=1_000_000_000)
    blob2 = layer_from_dir(str(src), overlay_upper=False, mtime_clamp=1_000_000_000, tmp_dir=str(tmp_path))
    assert one.getvalue() == two.getvalue() and size == len(two.getvalue())
    assert (blob1.digest, blob1.diff_id, blob1.size) == (blob2.digest, blob2.diff_id, blob2.size)
    assert blob1.diff_id == "sha256:" + hashlib.sha256(one.getvalue()).hexdigest()
    with open(blob1.path, "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == blob1.digest.split(":")[1]
    path, diff_id, size3 = blob1  # unpacks as the three things most callers need
    assert (path, diff_id, size3) == (blob1.path, blob1.diff_id, blob1.size)

    with tarfile.open(fileobj=io.BytesIO(one.getvalue())) as tf:
        members = tf.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names, key=lambda n: [os.fsencode(c) for c in n.split("/")])
    assert all(m.uname == "" and m.gname == "" and m.mtime <= 1_000_000_000 for m in members)
    assert all("atime" not in m.pax_headers and "ctime" not in m.pax_headers for m in members)
    hard = [m for m in members if m.islnk()]
    assert [(m.name, m.linkname) for m in hard] == [("hardlink", "dir/file")]
    for p in (blob1.path, blob2.path):
        os.unlink(p)


def test_gzip_is_deterministic(tmp_path):
    data = os.urandom(1000) * 50
    a, b = io.BytesIO(), io.BytesIO()
    compress_gzip(io.BytesIO(data), a)
    compress_gzip(io.BytesIO(data), b)
    assert a.getvalue() == b.getvalue()
    assert a.getvalue()[4:8] == b"\0\0\0\0"  # header mtime
    assert not a.getvalue()[3] & 0x08  # no FNAME
    assert gzip.decompress(a.getvalue()) == data


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_round_trip(tmp_path, compression):
    if compression == "zstd" and not shutil.which("zstd"):
        pytest.skip("zstd binary not installed")
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    _tree(src)
    blob = layer_from_dir(str(src), overlay_upper=False, compression=compression, tmp_dir=str(tmp_path))
    r = apply_layer(blob.path, str(dst), mode="flatten")
    assert (r.diff_id, r.size) == (blob.diff_id, content_bytes(str(src)))  # Docker's size of the tree
    assert _describe(src) == _describe(dst)
    assert os.path.samefile(dst / "hardlink", dst / "dir" / "file")
    os.unlink(blob.path)


def _describe(root) -> dict:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            rec = [stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid]
            if not stat.S_ISDIR(st.st_mode):
                rec.append(st.st_mtime_ns // 1_000_000_000)
            if stat.S_ISLNK(st.st_mode):
                rec.append(os.readlink(p))
            elif stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    rec.append(f.read())
                rec.append(st.st_nlink)
            elif stat.S_ISCHR(st.st_mode):
                rec.append(st.st_rdev)
            if not stat.S_ISLNK(st.st_mode):
                rec.append(sorted((k, os.getxattr(p, k)) for k in os.listxattr(p) if k.startswith("user.")))
            out[os.path.relpath(p, root)] = rec
    return out


def test_dir_mtimes_survive_round_trip(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "a" / "b").mkdir(parents=True)
    (src / "a" / "b" / "f").write_text("x")
    _set_mtimes(src, 1_234_567_890)
    buf = io.BytesIO()
    write_layer_tar(str(src), buf, overlay_upper=False)
    buf.seek(0)
    apply_layer(buf, str(dst), mode="flatten")
    assert os.lstat(dst / "a").st_mtime == 1_234_567_890
    assert os.lstat(dst / "a" / "b").st_mtime == 1_234_567_890


@needs_root
def test_overlay_upper_conversion_round_trip(tmp_path):
    upper, back = tmp_path / "upper", tmp_path / "back"
    (upper / "etc").mkdir(parents=True)
    os.mknod(upper / "etc" / "deleted", stat.S_IFCHR, os.makedev(0, 0))
    os.mknod(upper / "etc" / "also-deleted", stat.S_IFCHR, os.makedev(0, 0))
    (upper / "opaque").mkdir()
    os.setxattr(upper / "opaque", "trusted.overlay.opaque", b"y")
    os.setxattr(upper / "opaque", "user.x", b"1")
    (upper / "opaque" / "f").write_text("new")
    buf = io.BytesIO()
    write_layer_tar(str(upper), buf, overlay_upper=True)
    with tarfile.open(fileobj=io.BytesIO(buf.getvalue())) as tf:
        members = {m.name: m for m in tf.getmembers()}
    assert list(members) == ["etc", "etc/.wh.also-deleted", "etc/.wh.deleted", "opaque", "opaque/.wh..wh..opq", "opaque/f"]
    assert members["etc/.wh.deleted"].isreg() and members["etc/.wh.deleted"].size == 0
    assert all(not k.startswith("SCHILY.xattr.trusted.overlay") for m in members.values() for k in m.pax_headers)
    assert members["opaque"].pax_headers["SCHILY.xattr.user.x"] == "1"
    buf.seek(0)
    apply_layer(buf, str(back), mode="overlay")
    assert os.lstat(back / "etc" / "deleted").st_rdev == 0 and stat.S_ISCHR(os.lstat(back / "etc" / "deleted").st_mode)
    assert os.getxattr(back / "opaque", "trusted.overlay.opaque") == b"y"
    assert os.listdir(back / "opaque") == ["f"]
    assert os.getxattr(back / "opaque", "user.x") == b"1"
    # a plain export leaves the device as a device and writes no whiteouts
    plain = io.BytesIO()
    write_rootfs_tar(str(upper), plain)
    with tarfile.open(fileobj=io.BytesIO(plain.getvalue())) as tf:
        assert tf.getmember("etc/deleted").ischr()
        assert not any(".wh." in n for n in tf.getnames())


def test_sockets_are_skipped(tmp_path):
    import socket

    src = tmp_path / "s"
    src.mkdir()
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(str(src / "sock"))
        (src / "f").write_text("x")
        buf = io.BytesIO()
        write_layer_tar(str(src), buf, overlay_upper=False)
    finally:
        s.close()
    with tarfile.open(fileobj=io.BytesIO(buf.getvalue())) as tf:
        assert tf.getnames() == ["f"]


def test_apply_does_not_import_tarfile_at_module_level():
    code = "import sys, dockyard.archive.apply, dockyard.archive.create, dockyard.snapshots.overlay; print('tarfile' in sys.modules)"
    out = subprocess.run([os.sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert out.stdout.strip() == "False"
