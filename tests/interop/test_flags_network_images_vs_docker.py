"""Issue 15's proof for network create and images: every implemented flag run through dockyard
and through docker CLI 28 against dockerd (docker.io 20.10) with the same exit code and output.
Normalised, each with its reason: a network's id, creation time and name (each side's own), its
bridge's name (each engine names its own interface); error wordings where dockerd's differ by
nature (Swarm, plugins). The images are the same image (loaded from one archive), so their ids,
sizes and dates agree without normalising; a filter by reference keeps other tests' images out."""

from __future__ import annotations

import random
import subprocess
import uuid

import pytest
from dockyard_interop import compares

@pytest.fixture(scope="module")
def docker(docker28):
    return docker28


def run_both(dy, docker, *argv):
    ours = dy(*argv, check=False)
    theirs = subprocess.run([docker, *argv], capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    return (ours.returncode, ours.out, ours.err), (theirs.returncode, theirs.stdout.decode(), theirs.stderr.decode())


NET_FORMAT = ("{{.Driver}} {{.Scope}} internal={{.Internal}} attachable={{.Attachable}} ipv6={{.EnableIPv6}} "
              "{{json .IPAM}} {{json .Labels}} {{index .Options \"foo\"}}")


@compares("network create", "--attachable", "--aux-address", "--driver", "--gateway", "--internal", "--ip-range",
          "--ipam-driver", "--ipv4", "--label", "--opt", "--scope", "--subnet")
def test_network_create_flags_match_docker(dy, docker, name):
    net = f"10.{random.randint(200, 250)}.{random.randint(0, 255)}"
    argv = ["network", "create", "--attachable", "--aux-address", f"host1={net}.5", "-d", "bridge", "--gateway",
            f"{net}.1", "--internal", "--ip-range", f"{net}.128/25", "--ipam-driver", "default", "--ipv4",
            "--label", "a=b", "--label", "c", "-o", "foo=bar", "--scope", "local", "--subnet", f"{net}.0/24", name]
    # one network at a time: the same subnet on two bridges of the host would overlap
    views = []
    for cli in (dy.cmd(), [docker]):
        try:
            p = subprocess.run([*cli, *argv], env=dy.env, capture_output=True, text=True, timeout=60)
            assert p.returncode == 0 and len(p.stdout.strip()) == 64 and not p.stderr, p  # the new id
            views.append(subprocess.run([*cli, "network", "inspect", "-f", NET_FORMAT, name], env=dy.env,
                                        capture_output=True, text=True, timeout=60).stdout)
        finally:
            subprocess.run([*cli, "network", "rm", name], env=dy.env, capture_output=True, timeout=60)
    assert views[1].startswith("bridge local internal=true attachable=true ipv6=false "), views
    assert views[0] == views[1]
    # a scope neither takes: both exit 1 (dockerd's wording is Swarm's); an unknown driver is not
    # tried: dockerd's plugin loader retries for seconds
    for bad in (["--scope", "global"],):
        ours, theirs = run_both(dy, docker, "network", "create", *bad, name + "-bad")
        subprocess.run([docker, "network", "rm", name + "-bad"], capture_output=True, timeout=60)
        assert ours[0] == theirs[0] == 1 and not ours[1] and not theirs[1], (bad, ours, theirs)


@pytest.fixture
def images(dy, busybox, docker, tmp_path):
    """The same image under two tags of one repository and one of another, on both sides."""
    repo = f"dyflags-{uuid.uuid4().hex[:8]}"
    tags = [f"{repo}:1", f"{repo}:2", f"{repo}-other:x"]
    for t in tags:
        dy("tag", "busybox", t)
    dy("save", "-o", str(tmp_path / "bb.tar"), *tags)
    assert subprocess.run([docker, "load", "-i", str(tmp_path / "bb.tar")], capture_output=True,
                          timeout=120).returncode == 0
    yield repo
    subprocess.run([docker, "rmi", "-f", *tags], capture_output=True, timeout=60)


def _repos_reordered(ours, theirs) -> bool:
    """The same lines, only the repositories of one image in another order: docker's CLI groups
    an image's RepoTags by repository in a Go map, so its repositories come in a random order."""
    return ours[0] == theirs[0] and ours[2] == theirs[2] and sorted(ours[1].splitlines()) == sorted(theirs[1].splitlines())


@compares("images", "--all", "--filter", "--format", "--no-trunc", "--quiet")
def test_images_flags_match_docker(dy, docker, images):
    repo = images
    for argv in (["-q", repo], ["-a", "-q", "--no-trunc", repo], ["--no-trunc", repo],
                 ["--filter", f"reference={repo}*", "--format", "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}} {{.Digest}}"],
                 ["-f", f"reference={repo}:*", "-f", "dangling=false", "--format", "table {{.Repository}}\t{{.Tag}}"],
                 ["--filter", f"reference={repo}*", "--filter", "label=nope"],
                 ["--format", "json", f"{repo}:1"], [f"{repo}:2"], ["-a", repo],
                 ["--filter", f"reference={repo}*", "--format", "{{.ID}} {{.CreatedAt}} {{.VirtualSize}} {{.Containers}}"]):
        ours, theirs = run_both(dy, docker, "images", *argv)
        assert theirs[0] == 0 and theirs[1], (argv, theirs)  # (label=nope: the header alone)
        assert ours == theirs or _repos_reordered(ours, theirs), argv
    ours, theirs = run_both(dy, docker, "images", "-q", repo)
    assert len(theirs[1].split()) == 2  # a line per tag, the same id twice


@compares("images", "--filter")
def test_images_time_and_label_filters_match_docker(dy, docker, images, tmp_path):
    """An image each side builds now (its own id and time: only names are printed) is since= the
    loaded one, which is before= it; label= finds it by its label."""
    repo = images
    (tmp_path / "Dockerfile").write_text(f"FROM {repo}:1\nLABEL {repo}.later=yes\n")
    for cli in (dy.cmd(), [docker]):
        p = subprocess.run([*cli, "build", "-q", "-t", f"{repo}-later:1", str(tmp_path)], env=dict(dy.env,
                           DOCKER_BUILDKIT="0"), capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
    try:
        fmt = ["--format", "{{.Repository}}:{{.Tag}}"]
        for argv in (["--filter", f"since={repo}:1", "--filter", f"reference={repo}*", *fmt],
                     ["--filter", f"before={repo}-later:1", "--filter", f"reference={repo}*", *fmt],
                     ["--filter", f"label={repo}.later", *fmt], ["--filter", f"label={repo}.later=yes", *fmt],
                     ["--filter", f"label={repo}.later=no", *fmt], ["--filter", "before=nosuch:1"]):
            ours, theirs = run_both(dy, docker, "images", *argv)
            if "before=nosuch:1" in argv:  # the same refusal, in dockerd's words
                assert ours[0] == theirs[0] == 1 and "No such image: nosuch:1" in ours[2] and \
                    "No such image: nosuch:1" in theirs[2], (ours, theirs)
                continue
            assert ours == theirs, argv
            assert theirs[1] or "=no" in argv[1], argv
    finally:
        subprocess.run([docker, "rmi", "-f", f"{repo}-later:1"], capture_output=True, timeout=60)
