"""`dockyard info` / `system info` / `version`: docker CLI 28's layout from the engine's documents
(the same GET /info and GET /version serve), and --format with a template or json."""

from __future__ import annotations

import json


def test_info_counts_this_store_and_takes_formats(dy, busybox):
    dy("create", "--name", "c1", "busybox", "true")
    out = dy("info").out
    lines = out.splitlines()
    assert lines[0] == "Client:" and "Server:" in lines
    assert " Containers: 1" in lines and "  Stopped: 1" in lines and " Images: 1" in lines
    assert f" Docker Root Dir: {dy.root}" in lines and " Default Runtime: dockyard" in lines
    assert any(line.startswith(" Total Memory: ") and line.endswith("GiB") for line in lines)
    assert dy("system", "info", "--format", "{{.Containers}} {{.DefaultRuntime}} {{.ClientInfo.Context}}").out == \
        "1 dockyard default\n"
    doc = json.loads(dy("info", "-f", "json").out)
    assert doc["DockerRootDir"] == dy.root and doc["Swarm"]["LocalNodeState"] == "inactive"
    p = dy("info", "--format", "{{.NoSuchKey}}", check=False)
    assert p.returncode != 0 and 'map has no entry for key "NoSuchKey"' in p.err and "Traceback" not in p.err
    assert dy("info", "extra", check=False).returncode == 1


def test_version_layout_and_format(dy):
    out = dy("version").out
    assert out.startswith("Client:\n Version:") and "\nServer: dockyard " in out
    assert "  API version:      1.44 (minimum version 1.24)" in out
    assert dy("version", "--format", "{{.Server.ApiVersion}} {{.Client.ApiVersion}}").out == "1.44 1.44\n"
    assert json.loads(dy("version", "--format", "json").out)["Server"]["Components"][0]["Name"] == "Engine"


def test_commands_dockyard_does_not_have_are_refused_with_a_reason(dy):
    for cmd, words in (("search", "no registry index"), ("trust", "dockyard sign"), ("plugin", "built in"),
                       ("context", "DOCKER_HOST"), ("swarm", "Swarm mode is not supported"),
                       ("stack", "dockyard compose"), ("secret", "Kubernetes")):
        p = dy(cmd, "ls", check=False)
        assert p.returncode == 1 and words in p.err and "unknown command" not in p.err and "Traceback" not in p.err, p.err
