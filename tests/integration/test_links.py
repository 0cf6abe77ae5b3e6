"""Legacy container links (`--link NAME[:ALIAS]`, HostConfig.Links) as dockerd does them: a hosts
line and, on the default bridge, the link environment; checked at create and at each start;
shown by inspect; removed by `rm --link` (and the API's DELETE ?link=1). The variables'
shape was compared with dockerd 20.10's on this machine."""

from __future__ import annotations

from apiclient import api  # noqa: F401 - a fixture
from support import assert_nothing_left


def _ip(dy, name: str) -> str:
    return dy("inspect", "-f", "{{.NetworkSettings.Networks.bridge.IPAddress}}", name).out.strip()


def test_link_gives_hosts_line_and_environment(dy, busybox, tmp_path):
    dy("run", "-d", "--name", "db", "--hostname", "dbhost", "-e", "SECRET=x",
       "--expose", "5432", "--expose", "80", "busybox", "sleep", "60")
    ip = _ip(dy, "db")
    assert ip
    p = dy("run", "--rm", "--name", "app", "--link", "db:database", "-e", "DATABASE_NAME=mine", "busybox",
           "sh", "-c", "grep database /etc/hosts; env | grep ^DATABASE_ | sort")
    lines = p.out.splitlines()
    assert lines[0] == f"{ip}\tdatabase dbhost db"
    assert lines[1:] == sorted([
        "DATABASE_ENV_SECRET=x",
        "DATABASE_NAME=mine",  # the container's own value wins
        f"DATABASE_PORT=tcp://{ip}:80",
        f"DATABASE_PORT_80_TCP=tcp://{ip}:80", f"DATABASE_PORT_80_TCP_ADDR={ip}", "DATABASE_PORT_80_TCP_PORT=80",
        "DATABASE_PORT_80_TCP_PROTO=tcp",
        f"DATABASE_PORT_5432_TCP=tcp://{ip}:5432", f"DATABASE_PORT_5432_TCP_ADDR={ip}",
        "DATABASE_PORT_5432_TCP_PORT=5432", "DATABASE_PORT_5432_TCP_PROTO=tcp",
    ])
    # without an alias the name is the alias; the hosts line then names it once
    p = dy("run", "--rm", "--name", "app2", "--link", "db", "busybox", "sh", "-c",
           "grep dbhost /etc/hosts; echo $DB_NAME")
    assert p.out == f"{ip}\tdb dbhost\n/app2/db\n"
    dy("rm", "-f", "db")
    assert_nothing_left(dy, tmp_path)


def test_the_hosts_line_survives_a_rewrite_and_inspect_and_rm_link(dy, busybox, tmp_path):
    dy("run", "-d", "--name", "db", "busybox", "sleep", "60")
    dy("run", "-d", "--name", "app", "--link", "db:store", "busybox", "sleep", "60")
    ip = _ip(dy, "db")
    # another container on the default bridge makes dockyard rewrite every hosts file there
    dy("run", "-d", "--name", "late", "busybox", "sleep", "60")
    assert f"{ip}\tstore " in dy("exec", "app", "cat", "/etc/hosts").out
    assert dy("inspect", "-f", "{{json .HostConfig.Links}}", "app").out.strip() == '["/db:/app/store"]'
    p = dy("rm", "--link", "/app/store")
    assert p.out == "/app/store\n"
    assert dy("inspect", "-f", "{{json .HostConfig.Links}}", "app").out.strip() == "null"
    p = dy("rm", "--link", "/app/store", check=False)
    assert p.returncode == 1 and "No such container: app/store" in p.err
    assert dy("ps", "-q", "--filter", "name=^db$").out.strip()  # rm --link removed no container
    dy("rm", "-f", "db", "app", "late")
    assert_nothing_left(dy, tmp_path)


def test_links_are_checked_at_create_and_at_start(dy, busybox, tmp_path):
    for args, words in ((("--link", "nope"), "could not get container for nope: No such container: nope"),
                        (("--link", "db:"), "bad format for links: db:"),
                        (("--link", ""), "empty string specified for links")):
        p = dy("create", *args, "busybox", "true", check=False)
        assert p.returncode != 0 and words in p.err and "Traceback" not in p.err, (args, p.err)
    dy("create", "--name", "db", "busybox", "sleep", "60")
    p = dy("create", "--network", "host", "--link", "db", "busybox", "true", check=False)
    assert p.returncode != 0 and "host type networking can't be used with links" in p.err
    dy("create", "--name", "app", "--link", "db:d", "busybox", "true")
    p = dy("start", "-a", "app", check=False)  # the target does not run
    assert p.returncode != 0 and "Cannot link to a non running container: /db AS /app/d" in p.err
    assert dy("inspect", "-f", "{{.State.Status}}", "app").out.strip() in ("created", "exited")
    dy("rm", "-f", "db", "app")
    assert dy("ps", "-aq").out == ""
    assert_nothing_left(dy, tmp_path)


def test_links_through_the_api(api, dy, tmp_path):
    api.docker("run", "-d", "--name", "db", "-e", "K=v", "busybox", "sleep", "60")
    created = api.json("POST", "/v1.44/containers/create?name=app",
                       {"Image": "busybox", "Cmd": ["sh", "-c", "echo $DB_ENV_K $DB_NAME"],
                        "HostConfig": {"Links": ["db:db"]}}, expect=201)
    api.json("POST", f"/v1.44/containers/{created['Id']}/start", expect=204)
    api.json("POST", f"/v1.44/containers/{created['Id']}/wait")
    assert api.docker("logs", "app").out == "v /app/db\n"
    assert api.json("GET", "/v1.44/containers/app/json")["HostConfig"]["Links"] == ["/db:/app/db"]
    assert api.docker("rm", "--link", "/app/db").out.strip() == "/app/db"  # DELETE /containers//app/db?link=1
    assert api.json("GET", "/v1.44/containers/app/json")["HostConfig"]["Links"] is None
    status, _, _ = api.request("DELETE", "/v1.44/containers//app/db?link=1")
    assert status == 404
    api.docker("rm", "-f", "db", "app")
    assert_nothing_left(dy, tmp_path)
