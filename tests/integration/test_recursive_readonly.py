"""A read-only bind is read-only all the way down, as with dockerd 25+ on Linux ≥ 5.12.

A host directory with a mount below it (here a tmpfs on SRC/sub), bound `:ro` into a container:
MS_RDONLY on the bind's remount reaches its top mount only, so before this the container could
write through SRC/sub to the host (`-v /:/host:ro` left /host/proc, /host/run, ... writable). Now
the bind gets runc's `rro` (mount_setattr(2) with AT_RECURSIVE), with dockyard's runtime and with
runc. `--mount ...,bind-recursive=writable` (BindOptions.ReadOnlyNonRecursive) asks for docker
24's behaviour; `=readonly` forces it; `=disabled` is a non-recursive bind. Each write is checked
on the host, where it would land."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from support import listdir, mounts_under, no_traceback


@pytest.fixture
def src(tmp_path):
    """SRC with a tmpfs mounted on SRC/sub (a submount), unmounted afterwards."""
    path = tmp_path / "src"
    (path / "sub").mkdir(parents=True)
    (path / "top.txt").write_text("top\n")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(path / "sub")], check=True)
    try:
        (path / "sub" / "inner.txt").write_text("inner\n")
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path / "sub")], check=False)


def nothing_left_but(dy, src, tmp_path) -> None:
    """support.assert_nothing_left, but for the fixture's own submount."""
    assert dy("ps", "-aq").out == ""
    assert listdir(os.path.join(dy.root, "snapshots", "active")) == []
    assert mounts_under(str(tmp_path)) == [str(src / "sub")]


WRITE = "touch /data/sub/written 2>&1; echo rc=$?; cat /data/sub/inner.txt"


def _write(dy, *args: str):
    p = dy("run", "--rm", "--network", "none", *args, "busybox", "sh", "-c", WRITE, check=False)
    no_traceback(p)
    return p


@pytest.mark.parametrize("runtime", ["dockyard", "runc"])
def test_a_read_only_bind_is_read_only_below_too(dy, busybox, src, tmp_path, runtime):
    if runtime == "runc" and not shutil.which("runc"):
        pytest.skip("runc is not installed")
    rt = ("--runtime", runtime)
    for how in (("-v", f"{src}:/data:ro"),
                ("--mount", f"type=bind,src={src},dst=/data,readonly"),
                ("--mount", f"type=bind,src={src},dst=/data,readonly,bind-recursive=readonly")):
        p = _write(dy, *rt, *how)
        assert p.returncode == 0 and "rc=1" in p.out and "Read-only file system" in p.out, (how, p.out, p.err)
        assert "inner" in p.out  # the submount is there, readable
        assert not (src / "sub" / "written").exists(), how
    # docker 24's read-only: the top only (asked for by name)
    p = _write(dy, *rt, "--mount", f"type=bind,src={src},dst=/data,readonly,bind-recursive=writable")
    assert "rc=0" in p.out, p.out
    assert (src / "sub" / "written").exists()
    os.unlink(src / "sub" / "written")
    # a non-recursive bind: the submount is not there at all, and what is there is read-only
    p = _write(dy, *rt, "--mount", f"type=bind,src={src},dst=/data,readonly,bind-recursive=disabled")
    assert "rc=1" in p.out and "inner" not in p.out, p.out
    assert not os.listdir(src / "sub") == ["written"]
    nothing_left_but(dy, src, tmp_path)


def test_bind_recursive_values_are_checked(dy, busybox, src, tmp_path):
    for args, words in (((f"type=bind,src={src},dst=/data,bind-recursive=sometimes"),
                         'must be "enabled", "disabled", "writable", or "readonly"'),
                        ((f"type=bind,src={src},dst=/data,bind-recursive=readonly"),
                         "ReadOnlyForceRecursive requires ReadOnly"),
                        ((f"type=bind,src={src},dst=/data,readonly,bind-recursive=readonly,bind-propagation=rshared"),
                         "requires Propagation to be rprivate")):
        p = dy("run", "--rm", "--mount", args, "busybox", "true", check=False)
        assert p.returncode == 125 and words in p.err, (args, p.err)
        no_traceback(p)
    nothing_left_but(dy, src, tmp_path)
