"""A build on a user network (`dockyard build --network NET`, the API's networkmode=NET: docker's
classic builder): the RUN steps' containers join NET, so they resolve and reach its containers by
name (here a package mirror: busybox httpd in a container), and leave it when they are removed."""

from __future__ import annotations

import json
import subprocess

from apiclient import api  # noqa: F401 - a fixture
from support import assert_nothing_left, no_traceback, wait_for

DOCKERFILE = "FROM busybox\nRUN wget -q -O /pkg.txt http://mirror/pkg.txt && cat /pkg.txt\n"


def _mirror(run) -> None:
    run("network", "create", "buildnet")
    run("run", "-d", "--name", "mirror", "--network", "buildnet", "busybox", "sh", "-c",
        "mkdir /www && echo mirrored-package > /www/pkg.txt && exec httpd -f -p 80 -h /www")
    wait_for(lambda: run("exec", "mirror", "wget", "-q", "-O-", "http://127.0.0.1/pkg.txt", check=False).returncode == 0,
             what="the mirror's httpd")


def _on_network(inspect) -> list[str]:
    return sorted(c["Name"] for c in json.loads(inspect("network", "inspect", "buildnet").out)[0]["Containers"]
                  .values())


def test_build_run_steps_reach_a_container_on_the_user_network(dy, busybox, tmp_path):
    _mirror(dy)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    p = dy("build", "--network", "buildnet", "-t", "fetched", str(ctx), timeout=120)
    assert "mirrored-package" in p.out + p.err
    assert dy("run", "--rm", "fetched", "cat", "/pkg.txt").out == "mirrored-package\n"
    assert _on_network(dy) == ["mirror"]  # the step's container left the network
    # by the network's id too; without the network, the name does not resolve (a cache miss: the mode is in the key)
    net_id = dy("network", "inspect", "-f", "{{.Id}}", "buildnet").out.strip()
    dy("build", "--network", net_id[:12], "--no-cache", str(ctx), timeout=120)
    p = dy("build", "--network", "none", str(ctx), check=False, timeout=120)
    assert p.returncode != 0 and "returned a non-zero code" in p.err
    p = dy("build", "--network", "nosuchnet", str(ctx), check=False)
    assert p.returncode != 0 and "network nosuchnet not found" in p.err
    no_traceback(p)
    p = dy("build", "--network", "container:mirror", str(ctx), check=False)
    assert p.returncode != 0 and "not supported for builds" in p.err
    assert _on_network(dy) == ["mirror"]
    dy("rm", "-f", "mirror")
    dy("rmi", "fetched")
    assert_nothing_left(dy, tmp_path)


def test_api_build_networkmode_user_network(api, dy, tmp_path):
    _mirror(api.docker)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    env = dict(api.env, DOCKER_BUILDKIT="0")
    p = subprocess.run(["docker", "build", "--network", "buildnet", "-t", "viaapi", str(ctx)], env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr + p.stdout + api.output()
    assert "mirrored-package" in p.stdout
    assert api.docker("run", "--rm", "viaapi", "cat", "/pkg.txt").out == "mirrored-package\n"
    assert _on_network(api.docker) == ["mirror"]
    # an unknown network: refused before the context is read, nothing made
    images = api.docker("images", "-aq").out
    p = subprocess.run(["docker", "build", "--network", "nosuchnet", str(ctx)], env=env, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode != 0 and "network nosuchnet not found" in p.stderr, p.stderr
    assert api.docker("images", "-aq").out == images
    api.docker("rm", "-f", "mirror")
    api.docker("rmi", "viaapi")
    assert_nothing_left(dy, tmp_path)
