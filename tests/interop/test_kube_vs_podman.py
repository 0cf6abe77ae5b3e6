"""`dockyard kube generate` against `podman kube generate` (the reference the brief names) for an
equivalent container: the same image loaded into a private podman store (its own --root, vfs,
nothing started, no network), the same flags, and the manifests compared in meaning: the command
the pod runs, env, ports with host port and address, limits, user, read-only root, privilege
escalation, capabilities kept, and the Service's port. Ours also passes the OpenAPI schemas."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

PODMAN = shutil.which("podman")
pytestmark = pytest.mark.skipif(PODMAN is None, reason="podman is not installed")

FLAGS = ["-p", "127.0.0.1:18383:80", "-e", "FOO=bar", "-m", "64m", "--cpus", "0.5", "--user", "1000:1000",
         "--read-only", "--cap-drop", "ALL", "--cap-add", "NET_BIND_SERVICE", "--security-opt", "no-new-privileges"]
CMD = ["httpd", "-f", "-p", "80"]


def _pod_spec(docs: list[dict]) -> dict:
    for d in docs:
        if d["kind"] == "Pod":
            return d["spec"]
        if d["kind"] in ("Deployment", "StatefulSet"):
            return d["spec"]["template"]["spec"]
    raise AssertionError("no workload")


def _runs(c: dict, image_cmd: list, image_entry: list) -> list:
    """What the container executes, by Kubernetes' rules for command and args."""
    if "command" in c:
        return list(c["command"]) + list(c.get("args") or [])
    return list(image_entry) + list(c.get("args") or image_cmd)


def _caps_kept(sc: dict) -> set:
    from dockyard.runtime.defaults import DEFAULT_CAPS

    add = {x.upper().removeprefix("CAP_") for x in (sc.get("capabilities") or {}).get("add") or []}
    drop = {x.upper().removeprefix("CAP_") for x in (sc.get("capabilities") or {}).get("drop") or []}
    base = set() if "ALL" in drop else {c.removeprefix("CAP_") for c in DEFAULT_CAPS} - drop
    return base | add


def test_generate_means_what_podman_generate_means(dy, busybox, tmp_path):
    import tempfile

    run = tempfile.mkdtemp(prefix="dypm-", dir="/tmp")  # podman wants a runroot under 50 characters
    podman = [PODMAN, "--root", str(tmp_path / "podman"), "--runroot", run, "--storage-driver", "vfs"]

    def pm(*args, check=True):
        p = subprocess.run(podman + list(args), capture_output=True, text=True, timeout=120)
        assert not check or p.returncode == 0, p.stderr
        return p

    try:
        tar = tmp_path / "bb.tar"
        dy("save", "-o", str(tar), busybox)
        pm("load", "-i", str(tar))
        pm("create", "--name", "web", *FLAGS, "localhost/busybox:latest", *CMD)
        theirs = [d for d in yaml.safe_load_all(pm("kube", "generate", "--service", "web").stdout) if d]
    finally:
        pm("rm", "-a", "-f", check=False)
        pm("rmi", "-a", "-f", check=False)
        shutil.rmtree(run, ignore_errors=True)
    dy("create", "--name", "web", *FLAGS, busybox, *CMD)
    ours = [d for d in yaml.safe_load_all(dy("kube", "generate", "--service", "web").out) if d]
    import kubernetes_validate as kv

    for d in ours:
        kv.validate(d, kv.latest_version(), strict=True)
    a, b = _pod_spec(ours)["containers"][0], _pod_spec(theirs)["containers"][0]
    assert _runs(a, ["sh"], []) == _runs(b, ["sh"], []) == CMD
    assert {e["name"]: e["value"] for e in a["env"]}.get("FOO") == {e["name"]: e["value"] for e in b["env"]}["FOO"]
    key = lambda p: (p["containerPort"], p.get("hostPort"), p.get("hostIP"))  # noqa: E731
    assert sorted(map(key, a["ports"])) == sorted(map(key, b["ports"])) == [(80, 18383, "127.0.0.1")]
    assert a["resources"]["limits"] == b["resources"]["limits"] == {"cpu": "500m", "memory": "64Mi"}
    for k in ("runAsUser", "runAsGroup", "readOnlyRootFilesystem", "allowPrivilegeEscalation"):
        assert a["securityContext"][k] == b["securityContext"][k], k
    assert _caps_kept(a["securityContext"]) == {"NET_BIND_SERVICE"}
    assert "NET_BIND_SERVICE" in _caps_kept(b["securityContext"])
    svc_a = next(d for d in ours if d["kind"] == "Service")["spec"]["ports"][0]
    svc_b = next(d for d in theirs if d["kind"] == "Service")["spec"]["ports"][0]
    assert (svc_a["port"], svc_a["targetPort"]) == (svc_b["port"], svc_b["targetPort"]) == (80, 80)
