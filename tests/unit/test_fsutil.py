"""fsutil.rmtree: by directory descriptors, at any depth, never through a symlink."""

from __future__ import annotations

import os

import pytest

from dockyard.fsutil import rmtree, rmtree_at


def _deep(base, depth: int) -> None:
    fd = os.open(base, os.O_RDONLY)
    for i in range(depth):
        os.mkdir("dd", dir_fd=fd)
        nfd = os.open("dd", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = nfd
    os.close(os.open("leaf", os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd))
    os.close(fd)


def test_removes_a_tree_deeper_than_path_max_and_the_recursion_limit(tmp_path):
    base = tmp_path / "t"
    base.mkdir()
    _deep(str(base), 3000)  # 9000 bytes of path, 3000 levels
    rmtree(str(base))
    assert not base.exists()


def test_never_follows_symlinks(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("k")
    tree = tmp_path / "t"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "link").symlink_to(outside)
    (tree / "dirlink").symlink_to(outside)
    rmtree(str(tree))
    assert not tree.exists() and (outside / "keep").read_text() == "k"


def test_symlink_and_missing_paths(tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    (target / "f").write_text("x")
    link = tmp_path / "link"
    link.symlink_to(target)
    rmtree(str(link))  # the link goes, not what it points to
    assert not os.path.lexists(link) and (target / "f").exists()
    rmtree(str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError):
        rmtree(str(tmp_path / "missing"), missing_ok=False)


def test_unreadable_directories(tmp_path):
    tree = tmp_path / "t"
    (tree / "work" / "work").mkdir(parents=True)
    (tree / "work" / "work" / "f").write_text("x")
    os.chmod(tree / "work" / "work", 0)
    rmtree(str(tree))
    assert not tree.exists()


def test_wide_directory(tmp_path):
    tree = tmp_path / "t"
    tree.mkdir()
    for i in range(3000):
        (tree / str(i)).write_text("")
    for i in range(50):
        (tree / f"d{i}").mkdir()
    rmtree(str(tree))
    assert not tree.exists()


def test_rmtree_at_a_descriptor(tmp_path):
    (tmp_path / "t" / "a").mkdir(parents=True)
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        rmtree_at(fd, "t")
        rmtree_at(fd, "t")  # already gone: nothing to do
    finally:
        os.close(fd)
    assert not (tmp_path / "t").exists()
