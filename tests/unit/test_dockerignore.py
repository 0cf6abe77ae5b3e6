""".dockerignore: moby/patternmatcher's pattern table, the CLI's file reading rules, and the
context walk (excluded directories pruned unless an exception may re-include inside)."""

from __future__ import annotations

import os

import pytest

from dockyard import errors
from dockyard.builder.context import ContextFilter, DockerignoreError, Pattern, clean_path, read_dockerignore


# moby/patternmatcher TestMatches (MatchesOrParentMatches on one pattern)
@pytest.mark.parametrize("pattern, path, excluded", [
    ("**", "file", True),
    ("**", "file/", True),
    ("**/", "file", True),
    ("**/", "file/", True),
    ("**", "dir/file", True),
    ("**/", "dir/file", True),
    ("**", "dir/file/", True),
    ("**/**", "dir/file", True),
    ("**/**", "dir/file/", True),
    ("dir/**", "dir/file", True),
    ("dir/**", "dir/file/", True),
    ("dir/**", "dir/dir2/file", True),
    ("dir/**", "dir/dir2/file/", True),
    ("**/dir", "dir", True),
    ("**/dir", "dir/file", True),
    ("**/dir2/*", "dir/dir2/file", True),
    ("**/dir2/*", "dir/dir2/file/", True),
    ("**/dir2/**", "dir/dir2/dir3/file", True),
    ("**/dir2/**", "dir/dir2/dir3/file/", True),
    ("**file", "file", True),
    ("**file", "dir/file", True),
    ("**/file", "dir/file", True),
    ("**file", "dir/dir/file", True),
    ("**/file", "dir/dir/file", True),
    ("**/file*", "dir/dir/file", True),
    ("**/file*", "dir/dir/file.txt", True),
    ("**/file*txt", "dir/dir/file.txt", True),
    ("**/file*.txt", "dir/dir/file.txt", True),
    ("**/file*.txt*", "dir/dir/file.txt", True),
    ("**/**/*.txt", "dir/dir/file.txt", True),
    ("**/**/*.txt2", "dir/dir/file.txt", False),
    ("**/*.txt", "file.txt", True),
    ("**/**/*.txt", "file.txt", True),
    ("a**/*.txt", "a/file.txt", True),
    ("a**/*.txt", "a/dir/file.txt", True),
    ("a**/*.txt", "a/dir/dir/file.txt", True),
    ("a/*.txt", "a/dir/file.txt", False),
    ("a/*.txt", "a/file.txt", True),
    ("a/*.txt**", "a/file.txt", True),
    ("a[b-d]e", "ae", False),
    ("a[b-d]e", "ace", True),
    ("a[b-d]e", "aae", False),
    ("a[^b-d]e", "aze", True),
    (".*", ".foo", True),
    (".*", "foo", False),
    ("abc.def", "abcdef", False),
    ("abc.def", "abc.def", True),
    ("abc.def", "abcZdef", False),
    ("abc?def", "abcZdef", True),
    ("abc?def", "abcdef", False),
    ("a\\\\", "a\\", True),
    ("**/foo/bar", "foo/bar", True),
    ("**/foo/bar", "dir/foo/bar", True),
    ("**/foo/bar", "dir/dir2/foo/bar", True),
    ("abc/**", "abc", False),
    ("abc/**", "abc/def", True),
    ("abc/**", "abc/def/ghi", True),
    ("**/.foo", ".foo", True),
    ("**/.foo", "bar.foo", False),
    ("a(b)c/def", "a(b)c/def", True),
    ("a(b)c/def", "a(b)c/xyz", False),
    ("a.|)$(}+{bc", "a.|)$(}+{bc", True),
    ("dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
     "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
    ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
    # parents: a path is excluded when a parent directory matches
    ("docs", "docs/a/b.md", True),
    ("*", "dir/file", True),
    ("*/b", "a/b/c", True),
    ("a", "ab", False),
    # single-level wildcards do not cross directories
    ("*.md", "sub/x.md", False),
    ("?", "ab", False),
    ("[ab]x", "cx", False),
])
def test_moby_pattern_table(pattern, path, excluded):
    f = ContextFilter([pattern], dockerfile=None)
    assert f.excluded(path) is excluded


@pytest.mark.parametrize("patterns, path, excluded", [
    (["**", "!util/docker/web"], "util/docker/web/foo", False),
    (["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", True),
    (["**", "!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl"],
     "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", False),
    (["**", "!dist/*.whl"], "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", False),
    (["*.md", "!README.md"], "README.md", False),
    (["*.md", "!README.md"], "CHANGES.md", True),
    (["!README.md", "*.md"], "README.md", True),          # order matters: last match wins
    (["*.md", "!*.md", "x.md"], "x.md", True),
    (["docs", "!docs/keep.md"], "docs/keep.md", False),
    (["docs", "!docs/keep.md"], "docs/other.md", True),
])
def test_moby_multi_patterns(patterns, path, excluded):
    assert ContextFilter(patterns, dockerfile=None).excluded(path) is excluded


def test_read_dockerignore_rules():
    text = ("\ufeff# comment\n"
            "  # not a comment: '#' only counts at the very start of the line\n"
            "\n"
            "   node_modules   \n"
            "/abs/path\n"
            "./a/../b//c/\n"
            "! keep.txt\n"
            "!/also/keep\n"
            "/\n")
    assert read_dockerignore(text) == ["# not a comment: '#' only counts at the very start of the line",
                                       "node_modules", "abs/path", "b/c", "!keep.txt", "!also/keep", "/"]


@pytest.mark.parametrize("p, out", [("", "."), (".", "."), ("a/./b", "a/b"), ("a/../..", ".."),
                                    ("/../a", "/a"), ("a//b/", "a/b"), ("./x", "x")])
def test_clean_path(p, out):
    assert clean_path(p) == out


def test_leading_slash_and_cleaning():
    f = ContextFilter(["/tmp", "./build/../dist"])
    assert f.excluded("tmp/x") and f.excluded("dist") and not f.excluded("build")
    assert f.excluded("./tmp") and f.excluded("/tmp/y")


def test_dockerfile_and_dockerignore_always_sent():
    f = ContextFilter(["*", "**"], dockerfile="docker/app.Dockerfile")
    assert not f.excluded(".dockerignore")
    assert not f.excluded("docker/app.Dockerfile")
    assert f.excluded("docker/other")
    assert not ContextFilter(["Dockerfile"]).excluded("Dockerfile")


def test_no_patterns_excludes_nothing():
    f = ContextFilter([])
    assert not f.excluded("anything/at/all")


def test_illegal_exclusion():
    with pytest.raises(DockerignoreError) as ei:
        ContextFilter(["!"])
    assert isinstance(ei.value, errors.InvalidArgument)


def test_pattern_repr_and_exclusion():
    p = Pattern("!a/*")
    assert p.exclusion and p.cleaned == "a/*" and p.match("a/b") and not p.match("a/b/c")


def _tree(root, paths):
    for p in paths:
        full = os.path.join(root, p)
        if p.endswith("/"):
            os.makedirs(full, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w") as fh:
                fh.write("x")


def test_from_file_and_walk(tmp_path):
    _tree(tmp_path, ["Dockerfile", "app.py", "README.md", "notes.md", "node_modules/x/index.js",
                     "logs/a.log", "logs/keep/important.log", "build/out.o", "src/main.py", "src/test.md",
                     "empty/"])
    (tmp_path / ".dockerignore").write_text("# deps\nnode_modules\n*.md\n!README.md\nlogs\n!logs/keep\n/build\n")
    os.symlink("app.py", tmp_path / "link")
    f = ContextFilter.from_file(str(tmp_path / ".dockerignore"))
    got = list(f.walk(str(tmp_path)))
    assert got == [".dockerignore", "Dockerfile", "README.md", "app.py", "empty", "link",
                   "logs/keep", "logs/keep/important.log", "src", "src/main.py", "src/test.md"]
    # src/test.md is sent: "*.md" only matches at the top level


def test_walk_prunes_without_exceptions(tmp_path, monkeypatch):
    _tree(tmp_path, ["a/b/c.txt", "d.txt"])
    seen = []
    real = os.scandir

    def spy(path):
        seen.append(os.path.relpath(path, tmp_path))
        return real(path)

    monkeypatch.setattr(os, "scandir", spy)
    assert list(ContextFilter(["a"]).walk(str(tmp_path))) == ["d.txt"]
    assert seen == ["."]                                   # "a" was never entered


def test_walk_enters_excluded_dir_only_for_matching_exception(tmp_path):
    _tree(tmp_path, ["a/keep/x", "a/other/y", "b/z", "b/keep/k"])
    f = ContextFilter(["a", "b", "!a/keep"], dockerfile=None)
    assert list(f.walk(str(tmp_path))) == ["a/keep", "a/keep/x"]
    # an exception whose text starts with the directory makes the walk go in ...
    assert list(ContextFilter(["b", "!b/*"], dockerfile=None).walk(str(tmp_path)))[-3:] == \
        ["b/keep", "b/keep/k", "b/z"]
    # ... but moby's prefix rule does not see through a leading "**": b is pruned, although
    # excluded() alone would re-include b/keep
    f = ContextFilter(["b", "!**/keep"], dockerfile=None)
    assert not f.excluded("b/keep")
    assert [p for p in f.walk(str(tmp_path)) if p.startswith("b")] == []


def test_from_file_missing(tmp_path):
    f = ContextFilter.from_file(str(tmp_path / "nope"))
    assert not f.excluded("x")
