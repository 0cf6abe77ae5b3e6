"""Network-scoped links (EndpointSettings.Links; `run --network NET --link C:ALIAS`, `network connect
--link`) and endpoint driver options (EndpointSettings.DriverOpts; `--driver-opt`), as dockerd 20.10
does them on this machine (compared by hand: tests/interop/test_network_beside_docker.py too):

- on a user network a link is a DNS alias that only the linking container's embedded DNS answers,
  with the target's address on that network; no /etc/hosts line, no variable; the target need not
  exist at create or start; inspect: Networks[NET].Links as given, HostConfig.Links null;
- driver options are kept and shown as given; com.docker.network.endpoint.sysctls (moby 27) and
  com.docker.network.endpoint.ifname (moby 28) take effect in the container's namespace only.
"""

from __future__ import annotations

import json

from apiclient import api  # noqa: F401 - a fixture
from support import assert_nothing_left, no_traceback


def _ip(dy, name: str, net: str) -> str:
    return dy("inspect", "-f", f'{{{{(index .NetworkSettings.Networks "{net}").IPAddress}}}}', name).out.strip()


def _resolves(dy, name: str, host: str) -> str:
    """The address `name`'s embedded DNS gives for `host` ("" when it gives none)."""
    p = dy("exec", name, "nslookup", host, check=False)
    lines = p.out.split("Name:", 1)
    if p.returncode != 0 or len(lines) < 2:
        return ""
    return lines[1].split("Address:", 1)[1].split()[0].strip() if "Address:" in lines[1] else ""


def test_a_scoped_link_is_a_name_only_the_linker_resolves(dy, busybox, tmp_path):
    dy("network", "create", "scoped")
    # the target need not exist at create nor at start (dockerd checks neither)
    dy("run", "-d", "--name", "app", "--network", "scoped", "--link", "db:database", "--link", "later:gone",
       "busybox", "sleep", "300")
    doc = json.loads(dy("inspect", "app").out)[0]
    assert doc["HostConfig"]["Links"] is None  # not a legacy link on a user network
    assert doc["NetworkSettings"]["Networks"]["scoped"]["Links"] == ["db:database", "later:gone"]
    dy("run", "-d", "--name", "db", "--network", "scoped", "busybox", "sleep", "300")
    dy("run", "-d", "--name", "other", "--network", "scoped", "busybox", "sleep", "300")
    db_ip = _ip(dy, "db", "scoped")
    assert _resolves(dy, "app", "database") == db_ip
    assert _resolves(dy, "app", "DataBase") == db_ip  # DNS names are case-insensitive
    assert _resolves(dy, "app", "gone") == ""  # a target that is not on the network: no answer
    # hostile: nobody else resolves the alias, and it is in no /etc/hosts, no environment
    assert _resolves(dy, "other", "database") == ""
    assert _resolves(dy, "db", "database") == ""
    for c in ("app", "db", "other"):
        hosts = dy("exec", c, "cat", "/etc/hosts").out
        assert "database" not in hosts and "gone" not in hosts, (c, hosts)
    assert "DATABASE" not in dy("exec", "app", "env").out
    # the alias hides a peer of that name on the link's network, for the linker only (moby's alias pass)
    dy("run", "-d", "--name", "database", "--network", "scoped", "busybox", "sleep", "300")
    assert _resolves(dy, "app", "database") == db_ip
    assert _resolves(dy, "other", "database") == _ip(dy, "database", "scoped")
    # the link survives a restart; a stopped target gives no answer, and does not stop the start
    dy("stop", "-t", "0", "db")
    dy("restart", "-t", "0", "app")
    assert _resolves(dy, "app", "database") == ""
    dy("start", "db")
    assert _resolves(dy, "app", "database") == _ip(dy, "db", "scoped")
    dy("rm", "-f", "app", "db", "other", "database")
    assert_nothing_left(dy, tmp_path)


def test_network_connect_link_and_the_advanced_network_flag(dy, busybox, tmp_path):
    dy("network", "create", "connnet")
    dy("network", "create", "firstnet")
    dy("run", "-d", "--name", "db", "--network", "connnet", "busybox", "sleep", "300")
    dy("run", "-d", "--name", "app", "--network", "firstnet", "busybox", "sleep", "300")
    # a running container connected with a link: its DNS (started before) answers the alias at once
    dy("network", "connect", "--link", "db:store", "connnet", "app")
    assert _resolves(dy, "app", "store") == _ip(dy, "db", "connnet")
    assert json.loads(dy("inspect", "app").out)[0]["NetworkSettings"]["Networks"]["connnet"]["Links"] == \
        ["db:store"]
    # disconnected, the link goes with the endpoint
    dy("network", "disconnect", "connnet", "app")
    assert _resolves(dy, "app", "store") == ""
    dy("network", "connect", "connnet", "app")
    assert json.loads(dy("inspect", "app").out)[0]["NetworkSettings"]["Networks"]["connnet"]["Links"] is None
    assert _resolves(dy, "app", "store") == ""
    # docker's advanced --network form: name=…,link=…,alias=…
    p = dy("run", "--rm", "--network", "name=connnet,link=db:viaflag,alias=me", "busybox", "nslookup", "viaflag")
    assert _ip(dy, "db", "connnet") in p.out
    for args, words in ((("--network", "name=connnet,link=db:"), "bad format for links: db:"),
                        (("--network", "name=connnet,gw-priority=1"), "gw-priority= is not supported"),
                        (("--network", "name=connnet,bogus=1"), "invalid field key 'bogus'"),
                        (("--network", "alias=x"), "no name set for network"),
                        (("--network", "name=connnet,link=db:x", "--link", "db:y"), "cannot specify both --link")):
        p = dy("create", *args, "busybox", "true", check=False)
        assert p.returncode != 0 and words in p.err, (args, p.err)
        no_traceback(p)
    p = dy("network", "connect", "--link", "db:", "connnet", "app", check=False)
    assert p.returncode != 0 and "bad format for links: db:" in p.err
    # a container whose first network is the default bridge has no embedded DNS here: refused, not ignored
    dy("run", "-d", "--name", "onbridge", "busybox", "sleep", "300")
    p = dy("network", "connect", "--link", "db:x", "connnet", "onbridge", check=False)
    assert p.returncode != 0 and "would not resolve" in p.err, p.err
    assert "connnet" not in json.loads(dy("inspect", "onbridge").out)[0]["NetworkSettings"]["Networks"]
    dy("rm", "-f", "app", "db", "onbridge")
    assert_nothing_left(dy, tmp_path)


def test_scoped_links_through_the_api_as_docker_py_makes_them(api, dy, tmp_path):
    """docker-py 7.1.0's test_create_with_links and test_connect_with_links, in raw requests."""
    api.json("POST", "/v1.44/networks/create", {"Name": "pynet"}, expect=201)
    created = api.json("POST", "/v1.44/containers/create?name=linker", {
        "Image": "busybox", "Cmd": ["sleep", "300"], "HostConfig": {"NetworkMode": "pynet"},
        "NetworkingConfig": {"EndpointsConfig": {"pynet": {"Links": ["pyupstream:bar"]}}}}, expect=201)
    api.json("POST", f"/v1.44/containers/{created['Id']}/start", expect=204)
    doc = api.json("GET", "/v1.44/containers/linker/json")
    assert doc["NetworkSettings"]["Networks"]["pynet"]["Links"] == ["pyupstream:bar"]
    assert doc["HostConfig"]["Links"] is None
    api.docker("run", "-d", "--name", "pyupstream", "--network", "pynet", "busybox", "sleep", "300")
    assert api.docker("exec", "linker", "nslookup", "bar").returncode == 0
    # connect: taken off its network, connected again with a link
    api.json("POST", "/v1.44/networks/pynet/disconnect", {"Container": "linker"})
    api.json("POST", "/v1.44/networks/pynet/connect",
             {"Container": "linker", "EndpointConfig": {"Links": ["pyupstream:baz"]}})
    assert api.json("GET", "/v1.44/containers/linker/json")["NetworkSettings"]["Networks"]["pynet"]["Links"] == \
        ["pyupstream:baz"]
    assert api.docker("exec", "linker", "nslookup", "baz").returncode == 0
    assert api.docker("exec", "pyupstream", "nslookup", "baz", check=False).returncode != 0
    # the docker CLI's own forms
    p = api.docker("network", "connect", "--link", "pyupstream:qux", "bridge", "pyupstream", check=False)
    assert p.returncode != 0 and "links are only supported for user-defined networks" in p.err, p.err
    api.docker("run", "-d", "--name", "cli", "--network", "pynet", "--link", "pyupstream:up", "busybox", "sleep",
               "300")
    assert api.docker("exec", "cli", "nslookup", "up").returncode == 0
    cli = api.json("GET", "/v1.44/containers/cli/json")
    assert cli["NetworkSettings"]["Networks"]["pynet"]["Links"] == ["pyupstream:up"]
    assert cli["HostConfig"]["Links"] is None
    # bad input: a clear 400, nothing made
    for ep, words in (({"Links": "x:y"}, "Links: expected an array"), ({"Links": ["x:"]}, "bad format for links"),
                      ({"DriverOpts": {"k": 1}}, "expected an object of strings")):
        status, _, body = api.request("POST", "/v1.44/containers/create?name=bad", {
            "Image": "busybox", "HostConfig": {"NetworkMode": "pynet"},
            "NetworkingConfig": {"EndpointsConfig": {"pynet": ep}}})
        assert status == 400 and words in body.decode(), (ep, status, body)
    status, _, body = api.request("POST", "/v1.44/containers/create?name=bad", {
        "Image": "busybox", "NetworkingConfig": {"EndpointsConfig": {"bridge": {"Links": ["pyupstream:x"]}}}})
    assert status == 400 and "links are only supported for user-defined networks" in body.decode(), body
    status, _, body = api.request("POST", "/v1.44/networks/pynet/connect",
                                  {"Container": "pyupstream", "EndpointConfig": {"Links": "x"}})
    assert status == 400 and b"Links must be a list of strings" in body
    assert "bad" not in api.docker("ps", "-a", "--format", "{{.Names}}").out.split()
    api.docker("rm", "-f", "linker", "pyupstream", "cli")
    assert_nothing_left(dy, tmp_path)


def test_legacy_links_stay_on_the_default_bridge_through_the_api(api, dy, tmp_path):
    """docker's CLI before 28 repeated --link in the default network's endpoint: accepted as the
    legacy links they are; shown in the endpoint as given."""
    api.docker("run", "-d", "--name", "db", "busybox", "sleep", "300")
    created = api.json("POST", "/v1.44/containers/create?name=app", {
        "Image": "busybox", "Cmd": ["sh", "-c", "grep -c db /etc/hosts; echo $DB_NAME"],
        "HostConfig": {"Links": ["db:db"]},
        "NetworkingConfig": {"EndpointsConfig": {"default": {"Links": ["db:db"]}}}}, expect=201)
    api.json("POST", f"/v1.44/containers/{created['Id']}/start", expect=204)
    api.json("POST", f"/v1.44/containers/{created['Id']}/wait")
    assert api.docker("logs", "app").out == "1\n/app/db\n"
    doc = api.json("GET", "/v1.44/containers/app/json")
    assert doc["HostConfig"]["Links"] == ["/db:/app/db"]
    assert doc["NetworkSettings"]["Networks"]["bridge"]["Links"] == ["db:db"]
    api.docker("rm", "-f", "db", "app")
    assert_nothing_left(dy, tmp_path)
