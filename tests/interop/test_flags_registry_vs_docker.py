"""Issue 15's proof for pull and push (and images --digests): every implemented flag run through
dockyard and through docker CLI 28 against dockerd (docker.io 20.10), against one `dockyard
registry serve` on 127.0.0.1 (dockerd takes 127.0.0.0/8 registries as insecure by default).
Normalised, each with its reason: layer progress lines (`<12 hex>: ...`: they depend on what each
store already holds, e.g. dockerd, which has the image loaded, prints none when pulling it, and on
each engine's own steps) and, for pushes, digests and sizes (docker recompresses the layers it
pushes, so its layer and manifest digests and sizes are its own); nothing else."""

from __future__ import annotations

import re
import subprocess
import uuid

import pytest
from dockyard_interop import compares

@pytest.fixture(scope="module")
def docker(docker28):
    return docker28


@pytest.fixture
def registry(dockyard_registry):
    return dockyard_registry


def _norm(text: str, *, push: bool = False) -> str:
    lines = [ln for ln in text.splitlines() if not re.match(r"^[0-9a-f]{12}: ", ln)]  # layer progress
    out = "\n".join(lines)
    if push:
        out = re.sub(r"sha256:[0-9a-f]{64}", "sha256:D", re.sub(r"size: [0-9]+", "size: N", out))
    return out


def _run(cmd, env):
    p = subprocess.run(cmd, env=env, capture_output=True, timeout=180, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


@compares("push", "--all-tags", "--quiet", "--disable-content-trust")
@compares("pull", "--all-tags", "--quiet", "--platform", "--disable-content-trust")
@compares("images", "--digests")
def test_push_pull_flags_match_docker(dy, busybox, docker, registry, tmp_path):
    dy.env["DOCKER_CONFIG"] = str(tmp_path / "docker-config")
    tag = f"dyflags-{uuid.uuid4().hex[:8]}"
    dy("tag", "busybox", f"{tag}:1")
    dy("save", "-o", str(tmp_path / "bb.tar"), f"{tag}:1")
    assert _run([docker, "load", "-i", str(tmp_path / "bb.tar")], None)[0] == 0
    pushed = {}
    try:
        # each pushes to a repository of its own: the same two tags, then one again quietly
        for side, cli in (("ours", dy.cmd()), ("theirs", [docker])):
            repo = f"{registry}/{side}/{tag}"
            pushed[side] = repo
            for t in ("1", "2"):
                assert _run([*cli, "tag", f"{tag}:1", f"{repo}:{t}"], dy.env)[0] == 0
        ours = _run([*dy.cmd(), "push", "-a", "--disable-content-trust", pushed["ours"]], dy.env)
        theirs = _run([docker, "push", "--all-tags", "--disable-content-trust", pushed["theirs"]], dy.env)
        assert theirs[0] == 0 and "2: digest: sha256:" in theirs[1], theirs
        assert (ours[0], _norm(ours[1], push=True).replace("/ours/", "/X/")) == \
            (theirs[0], _norm(theirs[1], push=True).replace("/theirs/", "/X/"))
        ours = _run([*dy.cmd(), "push", "-q", pushed["ours"] + ":1"], dy.env)
        theirs = _run([docker, "push", "--quiet", pushed["theirs"] + ":1"], dy.env)
        assert (ours[0], ours[1].replace("/ours/", "/X/"), ours[2]) == \
            (theirs[0], theirs[1].replace("/theirs/", "/X/"), theirs[2]) == (0, f"{registry}/X/{tag}:1\n", "")
        # both pull what dockyard pushed (the same manifests, so the same digests), dockyard into a
        # store of its own that does not have the image yet
        repo = pushed["ours"]
        subprocess.run([docker, "rmi", f"{pushed['ours']}:1", f"{pushed['ours']}:2"], capture_output=True, timeout=60)
        other = type(dy)(str(tmp_path / "root2"), str(tmp_path / "run2"))
        other.env["DOCKER_CONFIG"] = dy.env["DOCKER_CONFIG"]
        steps = [["pull", "-q", f"{repo}:1"],
                 ["pull", "--platform", "linux/amd64", "--disable-content-trust", f"{repo}:2"],
                 ["images", "--digests", repo], ["images", "--digests", "--format", "{{.Tag}} {{.Digest}}", repo],
                 ["rmi", f"{repo}:1", f"{repo}:2"],
                 ["pull", "-a", repo], ["images", "--digests", repo], ["pull", "--all-tags", "-q", repo]]
        for argv in steps:
            ours = _run(other.cmd(*argv), other.env)
            theirs = _run([docker, *argv], None)
            assert theirs[0] == 0, (argv, theirs)
            if argv[0] == "rmi":  # each deletes its own layers: the Deleted: lines are each store's
                assert ours[0] == 0 and ours[1].startswith(f"Untagged: {repo}:1\n"), ours
                continue
            assert (ours[0], _norm(ours[1]), ours[2]) == (theirs[0], _norm(theirs[1]), theirs[2]), argv
        assert "sha256:" in _run([docker, "images", "--digests", "--format", "{{.Digest}}", repo], None)[1]
    finally:
        refs = [f"{tag}:1"] + [f"{r}:{t}" for r in pushed.values() for t in ("1", "2")]
        subprocess.run([docker, "rmi", "-f", *refs], capture_output=True, timeout=60)
