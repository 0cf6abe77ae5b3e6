"""Parsing and pure helpers of RUN --mount, --secret, COPY --exclude/--parents (no root needed)."""

import os
import stat
from types import SimpleNamespace

import pytest

from dockyard.builder import copystep, sources
from dockyard.builder import runmounts as R
from dockyard.builder.dockerfile import parse
from dockyard.errors import InvalidArgument

AMD64 = {"platform": "linux/amd64", "build_platform": "linux/amd64"}


def _run(line: str):
    return parse(f"FROM a\n{line}\n", **AMD64).stages[0].instructions[0]


def test_mount_defaults_as_buildkit():
    run = _run("RUN --mount=type=cache,target=/c --mount=type=secret,id=tok --mount=target=/src true")
    cache, secret, bind = run.mounts
    assert (cache.type, cache.sharing, cache.readonly) == ("cache", "shared", False)
    assert (secret.target, secret.readonly, secret.required) == ("/run/secrets/tok", True, False)
    assert (bind.type, bind.readonly) == ("bind", True)  # a bind is read-only unless rw


def test_parse_secret_file_env_and_errors(tmp_path, monkeypatch):
    f = tmp_path / "s"
    f.write_bytes(b"v1")
    assert R.parse_secret(f"id=a,src={f}") == ("a", {"data": b"v1"})
    assert R.parse_secret(f"id=a,source={f}") == ("a", {"data": b"v1"})
    monkeypatch.setenv("MYTOKEN", "v2")
    assert R.parse_secret("id=b,env=MYTOKEN") == ("b", {"data": b"v2"})
    assert R.parse_secret("id=MYTOKEN") == ("MYTOKEN", {"data": b"v2"})  # no src: the variable of that name
    for bad in ("id=a,src=/nonexistent/x", "id=a,env=NOPE_NOT_SET_X", "id=a,bogus=1", "novalue",
                f"id=a,src={f},env=MYTOKEN", "id=a,type=ssh"):
        with pytest.raises(InvalidArgument):
            R.parse_secret(bad)


def test_clean_target_is_absolute_and_relative_to_workdir():
    assert R._clean_target("cache", "/app") == "/app/cache"
    assert R._clean_target("/a/../../b", "/") == "/b"


def _match(name, is_dir):
    return SimpleNamespace(name=tuple(name.split("/")), is_dir=is_dir)


def test_exclude_patterns_match_below_the_source():
    skip = sources.excluder(SimpleNamespace(exclude=["*.txt", "sub/skip", "**/*.log"]))
    d = _match("app", True)
    assert skip(d, ("a.txt",)) and skip(d, ("sub", "skip")) and skip(d, ("deep", "x.log"))
    assert not skip(d, ("sub", "a.txt")) and not skip(d, ("keep.py",)) and not skip(d, ())
    assert skip(_match("dir/home.txt", False), ()) and not skip(_match("home.md", False), ())
    assert sources.excluder(SimpleNamespace(exclude=[])) is None


def test_parents_pivot():
    instr = SimpleNamespace(sources=["./base/./deep/f", "x/*.txt", "w*/./q"])
    assert copystep.pivot(instr, _match("base/deep/f", False)) == 1
    assert copystep.pivot(instr, _match("x/a.txt", False)) == 0
    assert copystep.pivot(instr, _match("wide/q", False)) == 1


def test_drop_mountpoints_keeps_what_the_step_wrote(tmp_path):
    up = tmp_path / "upper"
    (up / "var" / "cache" / "app").mkdir(parents=True)   # an empty mountpoint dir the runtime made
    (up / "run" / "secrets").mkdir(parents=True)
    (up / "run" / "secrets" / "tok").write_bytes(b"")      # an empty mountpoint file
    (up / "run" / "kept").write_text("the step's")
    (up / "etc").mkdir()
    os.symlink("/etc", up / "link")
    R.drop_mountpoints(str(up), ["/var/cache/app", "/run/secrets/tok", "/link/passwd"], existed={"/var"})
    assert sorted(os.listdir(up)) == ["etc", "link", "run", "var"]
    assert os.listdir(up / "var") == []            # /var/cache was made for the mount; /var existed
    assert sorted(os.listdir(up / "run")) == ["kept"]
    assert stat.S_ISLNK(os.lstat(up / "link").st_mode)  # never followed
