"""Issue 15's proof for login, logout and manifest: dockyard and the docker CLI 28 against one
`dockyard registry serve` on 127.0.0.1 (with htpasswd for the logins), each with a DOCKER_CONFIG
of its own; the same exit codes, output and stored credentials. docker's login goes through
dockerd (`private_dockerd`); its manifest commands need no daemon."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from dockyard_interop import compares, private_dockerd
from flagcmp import docker_cli, unprefixed
from test_registry_server_interop import serve  # noqa: F401 - the fixture

CLI28 = "/usr/local/bin/docker"


def _run(cmd: list[str], config: str, env: dict, input: str | None = None) -> tuple[int, str, str]:
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, input=input,
                       stdin=None if input is not None else subprocess.DEVNULL,
                       env=dict(env, DOCKER_CONFIG=config))
    return p.returncode, p.stdout, p.stderr


@pytest.fixture
def clis(dy, tmp_path):
    """(ours, theirs): each runs its CLI with its own DOCKER_CONFIG and returns (rc, out, err)."""
    with private_dockerd() as docker:
        cli = docker_cli(docker)
        ours_cfg, theirs_cfg = str(tmp_path / "ours-config"), str(tmp_path / "theirs-config")

        def ours(*args, input=None):
            return _run(dy.cmd(*args), ours_cfg, dy.env, input)

        def theirs(*args, input=None):
            return _run([cli, *args], theirs_cfg, dict(os.environ), input)

        ours.config, theirs.config = ours_cfg, theirs_cfg
        yield ours, theirs


def _stored(config: str) -> dict:
    with open(os.path.join(config, "config.json")) as f:
        return json.load(f).get("auths", {})


@compares("login", "--username", "--password", "--password-stdin")
def test_login_and_logout_as_docker(clis, serve, tmp_path):  # noqa: F811 - serve is the fixture imported above
    ours, theirs = clis
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(subprocess.run(["htpasswd", "-Bbn", "pusher", "s3cr3t"], capture_output=True, text=True,
                                       check=True).stdout)
    host = serve("--htpasswd", str(htpasswd)).host

    def same(*args, input=None, first_err_line=True):
        a, b = ours(*args, input=input), theirs(*args, input=input)
        assert (a[0], a[1]) == (b[0], b[1]), (args, a, b)
        if first_err_line:
            first = [unprefixed(x[2]).strip().splitlines()[:1] for x in (a, b)]
            assert first[0] == first[1], (args, a, b)
        return a

    # a wrong password: dockerd's words, nothing stored
    same("login", "-u", "pusher", "-p", "wrong", host, first_err_line=False)
    a, b = ours("login", "-u", "pusher", "--password-stdin", host, input="wrong\n"), \
        theirs("login", "-u", "pusher", "--password-stdin", host, input="wrong\n")
    assert a[0] == b[0] == 1 and unprefixed(a[2]).strip().splitlines()[-2:][0] == \
        unprefixed(b[2]).strip().splitlines()[-1], (a, b)
    assert not os.path.exists(os.path.join(ours.config, "config.json"))
    # the right one from stdin: the same lines, the same stored entry; docker warns about the
    # unencrypted store and points at credential helpers, which dockyard has not
    a, b = ours("login", "--username", "pusher", "--password-stdin", host, input="s3cr3t\n"), \
        theirs("login", "--username", "pusher", "--password-stdin", host, input="s3cr3t\n")
    assert (a[0], a[1]) == (b[0], b[1]) == (0, "Login Succeeded\n"), (a, b)
    assert a[2].replace("ours-config", "theirs-config").splitlines()[:2] == b[2].splitlines()[:2]
    assert _stored(ours.config) == _stored(theirs.config) == {host: {"auth": "cHVzaGVyOnMzY3IzdA=="}}
    # --password on the command line: docker's warning first
    a, b = ours("login", "-u", "pusher", "--password", "s3cr3t", host), \
        theirs("login", "-u", "pusher", "--password", "s3cr3t", host)
    assert (a[0], a[1]) == (b[0], b[1]) and a[2].splitlines()[0] == b[2].splitlines()[0], (a, b)
    same("login", "-u", "pusher", host)  # no terminal for the password
    same("login", "-p", "x", "--password-stdin", host, input="x\n")  # both ways at once
    same("logout", host)
    assert _stored(ours.config) == _stored(theirs.config) == {}
    same("logout", host)  # not logged in: the same line
    same("logout", "a", "b", first_err_line=False)  # usage lines: each names its own program


def _docker(tmp_path, *args, check=True):
    p = subprocess.run([CLI28, *args], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                       env=dict(os.environ, DOCKER_CONFIG=str(tmp_path / "docker-config")))
    assert not check or p.returncode == 0, (args, p.stderr)
    return p


@pytest.mark.skipif(not os.access(CLI28, os.X_OK), reason="docker CLI 28 is not installed")
@compares("manifest create", "--amend", "--insecure")
@compares("manifest annotate", "--arch", "--os", "--os-features", "--os-version", "--variant")
@compares("manifest inspect", "--insecure", "--verbose")
@compares("manifest push", "--insecure", "--purge")
def test_manifest_flags_as_docker(dy, busybox, serve, tmp_path):  # noqa: F811 - serve is the fixture imported above
    host = serve().host
    entries = (f"{host}/bb:a", f"{host}/bb:b")
    for ref in entries:
        dy("tag", busybox, ref)
        dy("push", ref)
    out = {}
    for tool in ("ours", "theirs"):
        lst = f"{host}/bb:list-{tool}"

        def run(*args, check=True):
            if tool == "ours":
                p = dy(*args, check=check)
                return p.returncode, p.out, p.err
            p = _docker(tmp_path, *args, check=check)
            return p.returncode, p.stdout, p.stderr

        got = [run("manifest", "create", "--insecure", lst, entries[0])]
        got.append(run("manifest", "create", lst, entries[0], check=False))  # exists: needs --amend
        got.append(run("manifest", "create", "--amend", "--insecure", lst, entries[1]))
        got.append(run("manifest", "annotate", "--os", "linux", "--arch", "arm", "--variant", "v7", "--os-features",
                       "f1,f2", "--os-version", "1.2", lst, entries[1]))
        got.append(run("manifest", "annotate", "--os", "nope", "--arch", "nope", lst, entries[1], check=False))
        doc = json.loads(run("manifest", "inspect", lst)[1])
        verbose = json.loads(run("manifest", "inspect", "--verbose", lst)[1])
        got.append(run("manifest", "push", "--insecure", "--purge", lst))
        got.append(run("manifest", "rm", lst, check=False))  # purged from the local store: no such list
        remote = json.loads(run("manifest", "inspect", "--insecure", lst)[1])
        run("manifest", "create", "--insecure", lst + "x", entries[0])
        got.append(run("manifest", "rm", lst + "x"))
        got.append(run("manifest", "inspect", lst + "x", check=False))
        out[tool] = (got, doc, verbose, remote)
    norm = lambda text: unprefixed(text).replace("list-ours", "list-theirs").strip().splitlines()[:1]  # noqa: E731
    for a, b in zip(out["ours"][0], out["theirs"][0]):
        assert (a[0], norm(a[1]), norm(a[2])) == (b[0], norm(b[1]), norm(b[2])), (a, b)
    assert out["ours"][1] == out["theirs"][1]  # the list, with its annotations
    assert json.dumps(out["ours"][2]).replace("list-ours", "list-theirs") == json.dumps(out["theirs"][2])
    assert out["ours"][3] == out["theirs"][3]  # what the registry holds
