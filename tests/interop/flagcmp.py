"""Shared by test_flags_{containerops,objects,images,login_manifest}_vs_docker.py (the commands
without a flag of their own, such as top, tag or logout, are compared there too, without an
@compares, which names flags): one invocation run by dockyard and
by the docker CLI (28, against the dockerd `private_dockerd` gives: reused when one answers, so
other test runs share it), compared on exit code and output.

`Pair` holds both sides. Everything it makes in dockerd is named with the pair's unique prefix
and removed at the end by that name (never by a filter or a prune that could reach objects of
other runs). What differs by nature is normalised, each rule saying why:

- object IDs: each side has its own (random container, network and volume IDs; a commit's or an
  import's image ID holds its creation time): `Pair.same_id` registers both, and they print as
  `<name>`;
- the program's error prefix ("dockyard: error: " / "Error response from daemon: ", "Error: ");
- "N seconds ago", "Up N seconds" and their kin: the two sides run a moment apart;
- in tables, runs of spaces: a column is as wide as its widest cell, and a time cell differs.
"""

from __future__ import annotations

import os
import re
import subprocess
import uuid

import pytest
from dockyard_interop import private_dockerd

CLI28 = "/usr/local/bin/docker"  # docker CLI 28, the client issue 15 is measured with

AGO = re.compile(r"(\d+ (second|minute|hour)s?|About an? (minute|hour)|Less than a second) ago")
UP = re.compile(r"\bUp (\d+ (second|minute|hour)s?|About an? (minute|hour)|Less than a second)")
STAMP = re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


def _recent(m: re.Match) -> str:
    """A time of this test's own doing (each side's commit or create: seconds apart) reads as NOW;
    older ones (an image's base layers) are compared as they are."""
    import datetime

    text = m.group(0)
    if m.group(1):  # docker's nanoseconds: Python reads at most microseconds
        text = text.replace(m.group(1), m.group(1)[:7])
    try:
        t = datetime.datetime.fromisoformat(text)
    except ValueError:
        return m.group(0)
    age = datetime.datetime.now(datetime.timezone.utc) - t
    return "NOW" if abs(age.total_seconds()) < 900 else m.group(0)


def docker_cli(fallback: str) -> str:
    return CLI28 if os.access(CLI28, os.X_OK) else fallback


def unprefixed(text: str) -> str:
    """An error text without the program's prefixes (each CLI words its own), and without the
    notice docker's CLI prints first when it has no buildx (its legacy builder's deprecation)."""
    out = []
    lines = text.splitlines()
    if lines and lines[0].startswith("DEPRECATED: The legacy builder"):
        while lines and lines[0].strip():
            lines.pop(0)
    for line in lines:
        line = re.sub(r"^dockyard: error: ", "", line)
        line = re.sub(r"^(Error response from daemon: |Error: |ERROR: )", "", line)
        out.append(line)
    return "\n".join(out)


class Result:
    def __init__(self, rc: int, out: str, err: str) -> None:
        self.rc, self.out, self.err = rc, out, err

    def __repr__(self) -> str:
        return f"rc={self.rc}\nstdout:\n{self.out}\nstderr:\n{self.err}"


class Pair:
    """dockyard (the `dy` fixture's store) and dockerd side by side; `image` is the same busybox
    image (same ID) in both."""

    def __init__(self, dy, docker: str, image: str) -> None:
        self.dy, self.docker, self.image = dy, docker, image
        self.prefix = "dyf" + uuid.uuid4().hex[:8]
        self.ids: list[tuple[str, str, str]] = []  # (placeholder, ours, theirs)
        self.made: dict[str, list[str]] = {"container": [], "image": [], "volume": [], "network": []}
        self.env = dict(os.environ)

    def name(self, suffix: str) -> str:
        return f"{self.prefix}-{suffix}"

    # -- running ---------------------------------------------------------------------------------

    def ours(self, *args: str, input: str | None = None, timeout: float = 60) -> Result:
        p = self.dy(*args, check=False, input=input, timeout=timeout)
        return Result(p.returncode, p.out, p.err)

    def theirs(self, *args: str, input: str | None = None, timeout: float = 60) -> Result:
        p = subprocess.run([self.docker, *args], capture_output=True, text=True, timeout=timeout, env=self.env,
                           input=input, stdin=None if input is not None else subprocess.DEVNULL)
        return Result(p.returncode, p.stdout, p.stderr)

    def both(self, *args: str, input: str | None = None, timeout: float = 60) -> tuple[Result, Result]:
        return self.ours(*args, input=input, timeout=timeout), self.theirs(*args, input=input, timeout=timeout)

    def ok(self, *args: str, input: str | None = None) -> tuple[str, str]:
        """Both must succeed; their stdouts."""
        a, b = self.both(*args, input=input)
        assert a.rc == 0 and b.rc == 0, (args, a, b)
        return a.out, b.out

    # -- normalising -----------------------------------------------------------------------------

    def same_id(self, placeholder: str, ours: str, theirs: str) -> None:
        self.ids.append((placeholder, ours.strip().removeprefix("sha256:"), theirs.strip().removeprefix("sha256:")))

    def norm(self, text: str, side: int, table: bool = False) -> str:
        for placeholder, *pair in self.ids:
            full = pair[side]
            for cut in (full, full[:14] + "…", full[:12]):  # whole, docker's Ellipsis(15), short
                text = text.replace(cut, f"<{placeholder}>")
        text = STAMP.sub(_recent, UP.sub("Up TIME", AGO.sub("TIME ago", text)))
        if table:
            text = "\n".join(re.sub(r" {2,}", "  ", line).rstrip() for line in text.splitlines())
        return text

    def same(self, *args: str, table: bool = False, input: str | None = None, stderr: bool = True,
             sort: bool = False) -> str:
        """The same exit code and stdout (and first error line) from both; docker's stdout."""
        a, b = self.both(*args, input=input)
        out_a, out_b = self.norm(a.out, 0, table), self.norm(b.out, 1, table)
        if sort:
            out_a, out_b = "\n".join(sorted(out_a.splitlines())), "\n".join(sorted(out_b.splitlines()))
        assert (a.rc, out_a) == (b.rc, out_b), (args, a, b)
        if stderr:
            err_a = self.norm(unprefixed(a.err), 0).strip().splitlines()[:1]
            err_b = self.norm(unprefixed(b.err), 1).strip().splitlines()[:1]
            assert err_a == err_b, (args, a, b)
        return out_b

    # -- objects ---------------------------------------------------------------------------------

    def create(self, kind: str, name: str, *args: str) -> None:
        """`docker <kind> create|run …` on both, the IDs registered as `name`; removed at the end."""
        self.made[kind].append(name)
        if kind == "container":
            a, b = self.both(*args)
        else:
            a, b = self.both(kind, "create", *args)
        assert a.rc == 0 and b.rc == 0, (args, a, b)
        if kind == "container" and args and args[0] == "run" and "-d" not in args:
            return
        self.same_id(name, a.out.strip().splitlines()[-1], b.out.strip().splitlines()[-1])

    def container(self, name: str, *args: str) -> None:
        """`create --name NAME --network none ARGS` (args: flags, then IMAGE and command) on both."""
        self.create("container", name, "create", "--name", name, "--network", "none", *args)

    def running(self, name: str, *args: str) -> None:
        self.create("container", name, "run", "-d", "--name", name, "--network", "none", *args)

    def cleanup(self) -> None:
        for kind, rm in (("container", ["rm", "-f"]), ("image", ["rmi", "-f"]), ("volume", ["volume", "rm", "-f"]),
                         ("network", ["network", "rm"])):
            if self.made[kind]:
                subprocess.run([self.docker, *rm, *self.made[kind]], capture_output=True, timeout=120,
                               stdin=subprocess.DEVNULL)


def load_image(dy, docker: str, tmp_path, loaded: dict) -> str:
    """The `busybox` image of this test's store under one tag per module, loaded into dockerd once
    (the image ID is the same on both sides: `dockyard bootstrap busybox` is reproducible)."""
    tag = loaded.setdefault("tag", f"dyflags-{uuid.uuid4().hex[:8]}:1")
    dy("tag", "busybox", tag)
    if not loaded.get("done"):
        archive = tmp_path / "bb.tar"
        dy("save", "-o", str(archive), tag)
        p = subprocess.run([docker, "load", "-i", str(archive)], capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        loaded["done"] = True
    return tag


def unload_image(docker: str, loaded: dict) -> None:
    if loaded.get("done"):
        subprocess.run([docker, "rmi", loaded["tag"]], capture_output=True, timeout=60)


# the fixtures of the comparison files (they import them by name)
@pytest.fixture(scope="module")
def dockerd():
    """docker CLI 28 against a dockerd answering, and what was loaded into it (removed at the end)."""
    loaded: dict = {}
    with private_dockerd() as docker:
        cli = docker_cli(docker)
        yield cli, loaded
        unload_image(cli, loaded)


@pytest.fixture
def pair(dy, busybox, dockerd, tmp_path):
    """The test's Pair: both sides, busybox loaded into dockerd under the test's own tag."""
    cli, loaded = dockerd
    p = Pair(dy, cli, load_image(dy, cli, tmp_path, loaded))
    yield p
    p.cleanup()
