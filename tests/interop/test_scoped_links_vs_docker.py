"""Network-scoped links and endpoint driver options, dockyard beside dockerd (its private daemon:
--bridge=none still makes user networks, with its embedded DNS). Both engines get the same
commands; what a container sees (its /etc/hosts, environment, DNS answers) and what inspect shows
must agree."""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest
from dockyard_interop import compares, private_dockerd


@pytest.fixture(scope="module")
def dockerd_image(busybox_tar):
    with private_dockerd() as docker:
        image = f"dytest-scoped-{uuid.uuid4().hex[:8]}:latest"
        subprocess.run([docker, "import", "-c", "ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin", busybox_tar, image],
                       check=True, capture_output=True, timeout=120)
        try:
            yield docker, image
        finally:
            subprocess.run([docker, "rmi", "-f", image], capture_output=True, timeout=60)


def _observe(cli, image: str, tag: str) -> dict:
    """What a linker, its target and a bystander see, named with `tag` (unique per engine)."""
    net, net2 = f"scn-{tag}", f"scn2-{tag}"
    linker, target, other = f"l-{tag}", f"t-{tag}", f"o-{tag}"
    made = [linker, target, other]
    try:
        cli("network", "create", net)
        cli("network", "create", net2)
        cli("run", "-d", "--name", linker, "--network", net, "--link", f"{target}:alias", "--link", f"gone-{tag}:g",
            image, "sleep", "120")
        cli("run", "-d", "--name", target, "--network", net, image, "sleep", "120")
        cli("run", "-d", "--name", other, "--network", net, image, "sleep", "120")
        cli("network", "connect", "--link", f"{target}:viaconnect", "--driver-opt", "x.y=z", net2, other)
        ip = json.loads(cli("inspect", target).stdout)[0]["NetworkSettings"]["Networks"][net]["IPAddress"]

        def answer(who: str, name: str) -> str:
            p = cli("exec", who, "timeout", "4", "nslookup", name, check=False)
            return "target" if p.returncode == 0 and ip in p.stdout.split("Name:", 1)[-1] else "none"

        doc = json.loads(cli("inspect", linker).stdout)[0]
        odoc = json.loads(cli("inspect", other).stdout)[0]
        return {
            "HostConfig.Links": doc["HostConfig"]["Links"],
            "Networks.Links": [v.replace(tag, "TAG") for v in doc["NetworkSettings"]["Networks"][net]["Links"]],
            "connect Links": [v.replace(tag, "TAG") for v in odoc["NetworkSettings"]["Networks"][net2]["Links"]],
            "connect DriverOpts": odoc["NetworkSettings"]["Networks"][net2]["DriverOpts"],
            "alias in linker hosts": "alias" in cli("exec", linker, "cat", "/etc/hosts").stdout,
            "alias in target hosts": "alias" in cli("exec", target, "cat", "/etc/hosts").stdout,
            "link variables": [v for v in cli("exec", linker, "env").stdout.split() if v.startswith("ALIAS_")],
            "linker resolves alias": answer(linker, "alias"),
            "bystander resolves alias": answer(other, "alias"),
            "target resolves alias": answer(target, "alias"),
            "target on another network": answer(other, "viaconnect"),  # the target is not on net2
        }
    finally:
        cli("rm", "-f", *made, check=False)
        cli("network", "rm", net, net2, check=False)


@compares("run", "--link", "--network")
@compares("network connect", "--link", "--driver-opt")
def test_scoped_links_and_driver_opts_as_dockerd_makes_them(dy, busybox, dockerd_image):
    docker, image = dockerd_image

    def dcli(*args, check=True):
        p = subprocess.run([docker, *args], capture_output=True, text=True, timeout=60)
        assert not check or p.returncode == 0, (args, p.stderr)
        return p

    def ycli(*args, check=True):
        p = dy(*args, check=check)
        p.stdout = p.out
        return p

    tag = uuid.uuid4().hex[:6]
    theirs = _observe(dcli, image, "d" + tag)
    ours = _observe(ycli, busybox, "y" + tag)
    assert ours == theirs
    assert theirs["linker resolves alias"] == "target" and theirs["bystander resolves alias"] == "none"
