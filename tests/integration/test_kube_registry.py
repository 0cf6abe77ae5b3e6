"""kube generate pins an image that came from a registry by its digest (the one push printed),
and kube play in a fresh store pulls that pinned reference from the registry (docker-registry
on loopback) and runs it."""

from __future__ import annotations

import os
import re

import pytest
from support import wait_for
from test_kube_roundtrip import fetched, free_port
from test_registry_client import REGISTRY, Registry

pytestmark = pytest.mark.skipif(not os.path.exists(REGISTRY), reason="docker-registry is not installed")


def test_registry_image_is_pinned_and_pulled_by_play(dy, busybox, tmp_path):
    base = tmp_path / "registry"
    base.mkdir()
    reg = Registry(base)
    try:
        dy.env["DOCKER_CONFIG"] = str(tmp_path / "docker-config")
        ref = f"{reg.addr}/kube/busybox:1"
        dy("tag", busybox, ref)
        digest = re.search(r"digest: (sha256:[0-9a-f]{64})", dy("push", ref).out).group(1)
        port = free_port()
        dy("create", "--name", "pinned", "-p", f"127.0.0.1:{port}:80", ref, "sh", "-c",
           "mkdir -p /www && echo pinned > /www/index.html && exec httpd -f -p 80 -h /www")
        gen = dy("kube", "generate", "pinned")
        assert f"image: {reg.addr}/kube/busybox@{digest}\n" in gen.out
        assert "Image" not in gen.err  # pinned: nothing to say
        out = tmp_path / "pinned.yaml"
        out.write_text(gen.out)
        fresh = type(dy)(str(tmp_path / "root2"), str(tmp_path / "run2"))
        fresh.env["DOCKER_CONFIG"] = str(tmp_path / "docker-config")
        assert fresh("kube", "play", str(out), timeout=120).out.split() == ["pinned-pod-0"]
        assert wait_for(fetched(port), what="the pod of the pulled image") == "pinned\n"
        assert f"{reg.addr}/kube/busybox@{digest}" in fresh("inspect", "-f", "{{.Config.Image}}", "pinned-pod-0-pinned").out
        fresh("kube", "down", str(out))
    finally:
        reg.stop()
