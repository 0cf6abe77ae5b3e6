"""Issue 15's proof for volumes, networks, prunes, events and the system commands: the same
invocation through dockyard and the docker CLI (28, against dockerd: `private_dockerd`), the same
exit code and output, normalised only for what differs by nature (tests/interop/flagcmp.py).

The dockerd is shared with other test runs: every prune here is narrowed by a label only this
test's objects carry, and what it lists is only this test's (named with its unique prefix)."""

from __future__ import annotations

import json
import random
import time

from dockyard_interop import compares
from flagcmp import dockerd, pair  # noqa: F401 - fixtures


@compares("volume create", "--driver", "--label", "--opt")
@compares("volume inspect", "--format")
@compares("volume ls", "--filter", "--format", "--quiet")
@compares("volume rm", "--force")
@compares("volume prune", "--all", "--filter", "--force")
def test_volume_flags_as_docker(pair):
    v1, v2, v3 = pair.name("v1"), pair.name("v2"), pair.name("v3")
    mark = f"{pair.prefix}=1"
    pair.made["volume"] += [v1, v2, v3]
    named = f"{pair.prefix}n=1"  # not `mark`: dockerd 20.10's prune takes named volumes too
    pair.same("volume", "create", "--driver", "local", "--label", named, "--label", "tier=a", v1)
    pair.same("volume", "create", "-d", "local", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m", "-l",
              named, v2)
    pair.same("volume", "create", v3)
    pair.same("volume", "create", "-o", "nope=1", pair.name("bad"))
    pair.same("volume", "create", "-d", "nosuchdriver", pair.name("bad"), stderr=False)  # plugin lookup wording
    fields = "{{.Name}}|{{.Driver}}|{{json .Labels}}|{{json .Options}}|{{.Scope}}|{{.Labels.tier}}"
    pair.same("volume", "inspect", "--format", fields, v1, v2)
    pair.same("volume", "inspect", "-f", "{{.Name}}", v1, pair.name("nope"))
    mine = f"name={pair.prefix}"
    pair.same("volume", "ls", "--filter", mine)
    pair.same("volume", "ls", "-q", "--filter", mine)
    # (one label at a time: docker joins a volume's labels in Go's map order, a random one)
    pair.same("volume", "ls", "--filter", mine, "--filter", "label=tier=a", "--format", '{{.Name}} {{.Label "tier"}}')
    pair.same("volume", "ls", "--filter", mine, "--filter", "driver=local", "--filter", "dangling=true", "-q")
    pair.same("volume", "ls", "--filter", mine, "--format", "table {{.Name}}\t{{.Driver}}\t{{.Scope}}", table=True)
    a, b = pair.ok("volume", "ls", "--filter", mine, "--format", "json")
    docs = [sorted((json.loads(x) for x in out.splitlines()), key=lambda d: d["Name"]) for out in (a, b)]
    for d in docs[0] + docs[1]:
        assert d.pop("Mountpoint").endswith(f"/volumes/{d['Name']}/_data")  # under each one's own root
        d["Labels"] = sorted(d["Labels"].split(","))  # docker joins them in Go's (random) map order
    assert docs[0] == docs[1] and list(json.loads(a.splitlines()[0])) == list(json.loads(b.splitlines()[0]))
    user = pair.name("user")
    pair.container(user, "-v", f"{v1}:/data", pair.image, "true")
    pair.same("volume", "ls", "--filter", mine, "--filter", "dangling=false", "-q")
    pair.same("volume", "rm", v1)  # in use
    pair.same("volume", "rm", "-f", pair.name("nope"))
    pair.same("rm", user)
    # prune: (-a needs API 1.42, this dockerd has 1.41; and dockerd 20.10 prunes named volumes
    # without it, later ones do not) anonymous volumes only, with this test's label: two kept by
    # containers removed without -v, one still in use
    anon = []
    for i, label in enumerate((mark, mark, "other=1")):
        c = pair.name(f"anon{i}")
        pair.container(c, "--mount", f"type=volume,target=/data,volume-label={label}", pair.image, "true")
        anon.append(c)
        vols = [r.out.strip() for r in pair.both("inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", c)]
        pair.same_id(c + "-volume", *vols)
    pair.same("rm", anon[0], anon[2])
    pair.same("volume", "prune", "--force", "--filter", f"label={mark}")  # anon0's; anon1's is in use
    pair.same("volume", "prune", "-f", "--filter", f"label={mark}")  # nothing left to prune
    pair.same("rm", anon[1])
    pair.same("volume", "prune", "-f", "--filter", "label!=other", "--filter", f"label={mark}")
    pair.same("volume", "ls", "-q", "--filter", f"label={mark}")
    pair.same("volume", "rm", v2, v3, v1)


def _net(pair, name: str, *args: str) -> None:
    """A bridge network on both sides, each on a subnet of its own (both are host-wide)."""
    a, b = random.sample(range(16, 250), 2)
    nets = []
    for side, octet in (("ours", a), ("theirs", b)):
        subnet = f"10.{octet}.{random.randrange(1, 250)}.0/24"
        r = getattr(pair, side)("network", "create", "--subnet", subnet, *args, name)
        assert r.rc == 0, r
        nets.append((r.out.strip(), subnet))
    pair.made["network"].append(name)
    pair.same_id(name, nets[0][0], nets[1][0])
    pair.same_id(name + "-subnet", nets[0][1].rpartition(".")[0] + ".", nets[1][1].rpartition(".")[0] + ".")


@compares("network connect", "--alias", "--ip")
@compares("network disconnect", "--force")
@compares("network inspect", "--format", "--verbose")
@compares("network ls", "--filter", "--format", "--no-trunc", "--quiet")
@compares("network rm", "--force")
@compares("network prune", "--filter", "--force")
def test_network_flags_as_docker(pair):
    n1, n2, n3 = pair.name("n1"), pair.name("n2"), pair.name("n3")
    mark = f"{pair.prefix}=1"
    _net(pair, n1, "--label", mark, "--label", "tier=a")
    _net(pair, n2, "--internal")
    _net(pair, n3, "--label", mark)
    mine = f"name={pair.prefix}"
    pair.same("network", "ls", "--filter", mine, "--format", "{{.Name}}|{{.Driver}}|{{.Scope}}|{{.Internal}}|"
              "{{.IPv6}}|{{.Label \"tier\"}}|{{.ID}}", sort=True)  # (.Labels: in Go's random map order)
    pair.same("network", "ls", "-q", "--filter", mine, sort=True)
    pair.same("network", "ls", "--no-trunc", "-q", "--filter", mine, sort=True)
    pair.same("network", "ls", "--no-trunc", "--filter", mine, "--filter", "label=tier", "--format", "{{.ID}}")
    pair.same("network", "ls", "--filter", mine, "--filter", "driver=bridge", "--filter", "type=custom",
              "--format", "{{.Name}}", sort=True)
    pair.same("network", "ls", "--filter", mine, "--format", "table {{.Name}}\t{{.Driver}}\t{{.Scope}}", table=True,
              sort=True)
    fields = ("{{.Name}}|{{.Driver}}|{{.Scope}}|{{.Internal}}|{{.Attachable}}|{{.EnableIPv6}}|{{json .Labels}}|"
              "{{(index .IPAM.Config 0).Subnet}}|{{.IPAM.Driver}}|{{.Id}}")
    pair.same("network", "inspect", "--format", fields, n1, n2)
    pair.same("network", "inspect", "-v", "-f", fields, n1)
    pair.same("network", "inspect", "-f", "{{.Name}}", pair.name("nope"))
    c = pair.name("c")
    a, b = pair.ours("run", "-d", "--name", c, "--network", n1, pair.image, "sleep", "300"), \
        pair.theirs("run", "-d", "--name", c, "--network", n1, pair.image, "sleep", "300")
    assert a.rc == b.rc == 0, (a, b)
    pair.made["container"].append(c)
    pair.same_id(c, a.out, b.out)
    ip = {}
    for side in ("ours", "theirs"):
        sub = getattr(pair, side)("network", "inspect", "-f", "{{(index .IPAM.Config 0).Subnet}}", n2).out.strip()
        ip[side] = sub.rpartition(".")[0] + ".77"
    for side in ("ours", "theirs"):
        r = getattr(pair, side)("network", "connect", "--alias", "web", "--alias", "api", "--ip", ip[side], n2, c)
        assert r.rc == 0, r
    fmt = ('{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{$v.IPAddress}} {{json $v.Aliases}} '
           '{{json $v.IPAMConfig}};{{end}}')
    pair.same("inspect", "-f", fmt, c)
    pair.same("network", "connect", n2, c)  # already connected
    pair.same("network", "connect", "--ip", "not-an-ip", n3, c, stderr=False)  # wording of the parse error
    pair.same("network", "disconnect", n2, c)
    pair.same("network", "disconnect", n2, c)  # no longer connected
    pair.same("network", "disconnect", "--force", n2, c)
    pair.same("network", "rm", n1)  # in use
    pair.same("network", "rm", "-f", pair.name("nope"))
    # only what carries this test's label: n3 (n1 is in use)
    pair.same("network", "prune", "--force", "--filter", f"label={mark}")
    pair.same("network", "ls", "-q", "--filter", mine, sort=True)
    pair.same("network", "prune", "-f", "--filter", f"label={mark}", "--filter", "until=1h")
    pair.same("rm", "-f", c)
    pair.same("network", "rm", "--force", n1, n2)


@compares("container prune", "--filter", "--force")
def test_container_prune_as_docker(pair):
    mark = f"{pair.prefix}=1"
    keep, gone, up = pair.name("keep"), pair.name("gone"), pair.name("up")
    pair.container(keep, pair.image, "true")
    pair.container(gone, "-l", mark, pair.image, "true")
    pair.running(up, "-l", mark, pair.image, "sleep", "300")
    pair.same("container", "prune", "--force", "--filter", f"label={mark}", "--filter", "until=2999-01-01T00:00:00Z")
    pair.same("ps", "-a", "--filter", f"name={pair.prefix}", "--format", "{{.Names}}")
    pair.same("container", "prune", "-f", "--filter", "nope=1")


@compares("events", "--filter", "--format", "--since", "--until")
@compares("system events", "--filter", "--format", "--since", "--until")
def test_events_flags_as_docker(pair, tmp_path):
    """A volume's and a container's events, through every filter kind (the container mounts no
    volume: mount/unmount events are not compared here)."""
    start = str(int(time.time()) - 1)
    c, v = pair.name("ev"), pair.name("data")
    pair.made["volume"].append(v)
    pair.same("volume", "create", "--label", "k=v", v)
    pair.container(c, "-l", "tier=x", pair.image, "sh", "-c", "echo hi > /f")
    pair.same("start", "-a", c)
    pair.same("rename", c, c + "-2")
    pair.same("rename", c + "-2", c)
    (tmp_path / "f").write_text("x")
    pair.same("cp", str(tmp_path / "f"), f"{c}:/f")
    pair.same("cp", f"{c}:/f", str(tmp_path / "back"))
    pair.same("rm", c)
    pair.same("volume", "rm", v)
    time.sleep(1.2)  # --until is a whole second; every event above is before it
    until = str(int(time.time()))
    for command in (("events",), ("system", "events")):
        for flt in (("--filter", f"container={c}"), ("--filter", f"container={c}", "--filter", "event=rename"),
                    ("--filter", f"volume={v}"), ("--filter", "type=volume", "--filter", f"volume={v}"),
                    ("--filter", f"container={c}", "--filter", "label=tier=x"),
                    ("--filter", f"container={pair.prefix}", "--filter", "type=container")):
            pair.same(*command, "--since", start, "--until", until, *flt, "--format",
                      "{{.Type}} {{.Action}} {{.Actor.ID}} {{json .Actor.Attributes}} {{.Scope}} {{.Status}}")
    a, b = pair.both("events", "--since", start, "--until", until, "--filter", f"container={c}", "--format", "json")
    keep = ("Type", "Action", "status", "from", "scope")
    assert [{k: d.get(k) for k in keep} for d in map(json.loads, a.out.splitlines())] == \
        [{k: d.get(k) for k in keep} for d in map(json.loads, b.out.splitlines())]
    assert [list(json.loads(x)) for x in a.out.splitlines()] == [list(json.loads(x)) for x in b.out.splitlines()]
    pair.same("events", "--since", "nonsense", "--until", until)


@compares("system df", "--format", "--verbose")
@compares("version", "--format")
@compares("info", "--format")
@compares("system info", "--format")
def test_system_commands_as_docker(pair):
    """What both daemons store differs (the shared dockerd has other runs' objects), and so do
    their versions: the shape (types, headers, sections) and the host's facts are compared."""
    pair.same("system", "df", "--format", "{{.Type}}")
    a, b = pair.both("system", "df")
    assert a.rc == b.rc == 0 and a.out.splitlines()[0].split() == b.out.splitlines()[0].split()
    assert [ln.split()[0] for ln in a.out.splitlines()] == [ln.split()[0] for ln in b.out.splitlines()]
    a, b = pair.both("system", "df", "-v")
    sections = lambda out: [ln for ln in out.splitlines() if ln.endswith("space usage:")]  # noqa: E731
    assert a.rc == b.rc == 0 and sections(a.out) == sections(b.out)
    headers = lambda out: [ln.split() for i, ln in enumerate(out.splitlines()[1:], 1)  # noqa: E731
                           if out.splitlines()[i - 1] == ""]
    assert headers(a.out) == headers(b.out)
    pair.same("system", "df", "--format", "{{.Nope}}", stderr=False)  # docker names its Go type
    pair.same("version", "--format", "{{.Client.Os}} {{.Client.Arch}} {{.Server.Os}} {{.Server.Arch}}")
    pair.same("version", "-f", "{{.Nope}}", stderr=False)  # docker names its Go type (system.versionInfo)
    facts = ("{{.OSType}}|{{.Architecture}}|{{.KernelVersion}}|{{.OperatingSystem}}|{{.NCPU}}|{{.MemTotal}}|"
             "{{.CgroupVersion}}|{{.IndexServerAddress}}|{{.Name}}")
    pair.same("info", "--format", facts)
    pair.same("system", "info", "-f", facts)
    pair.same("info", "--format", "{{.Nope}}", stderr=False)  # docker names its Go type


@compares("system prune", "--filter", "--force", "--volumes")
@compares("builder prune", "--filter", "--force", "--keep-storage")
def test_system_and_builder_prune_refusals_as_docker(pair):
    """Only what both refuse before removing anything: a real prune here would reach the build
    cache and the objects of the other runs sharing this dockerd (see the known differences)."""
    pair.same("system", "prune", "-f", "--filter", "nope=1")
    pair.same("system", "prune", "--force", "--volumes", "--filter", "until=1h")
    pair.same("builder", "prune", "-f", "--keep-storage", "abc")
    pair.same("builder", "prune", "--force", "--filter", "nope=1")


def test_port_of_published_ports_as_docker(pair):
    """Host ports are each side's free ones: they print as PORT."""
    import re

    n = pair.name("pn")
    _net(pair, n)
    c = pair.name("pub")
    pair.made["container"].append(c)
    a, b = [getattr(pair, side)("run", "-d", "--name", c, "--network", n, "-p", "127.0.0.1::80", "-p",
                                "127.0.0.1::53/udp", "--expose", "90", pair.image, "sleep", "300")
            for side in ("ours", "theirs")]
    assert a.rc == b.rc == 0, (a, b)
    pair.same_id(c, a.out, b.out)
    port = re.compile(r"127\.0\.0\.1:\d+")
    for args in ((), ("80",), ("80/tcp",), ("53/udp",), ("90",), ("81",), ("80/sctp",)):
        a, b = pair.both("port", c, *args)
        assert (a.rc, sorted(port.sub("127.0.0.1:PORT", a.out).splitlines())) == \
            (b.rc, sorted(port.sub("127.0.0.1:PORT", b.out).splitlines())), (args, a, b)
        assert unprefixed_first(a.err) == unprefixed_first(b.err), (args, a, b)
    pair.same("rm", "-f", c)


def unprefixed_first(err: str) -> str:
    from flagcmp import unprefixed

    lines = unprefixed(err).strip().splitlines()
    return lines[0] if lines else ""


@compares("network connect", "--ip6", "--link-local-ip")
def test_network_connect_ipv6_and_link_local_as_docker(pair):
    """A dual-stack network on both sides (each its own subnets, host-wide): the asked addresses
    are the endpoint's, as dockerd records them."""
    n0, n6, c = pair.name("n0"), pair.name("n6"), pair.name("c6")
    _net(pair, n0)
    octets = random.sample(range(16, 250), 2)
    for side, octet in zip(("ours", "theirs"), octets):
        r = getattr(pair, side)("network", "create", "--ipv6", "--subnet", f"10.{octet}.9.0/24", "--subnet",
                                f"fd00:{octet}::/64", n6)
        assert r.rc == 0, r
    pair.made["network"].append(n6)
    pair.same_id("v6-prefix", f"fd00:{octets[0]}::", f"fd00:{octets[1]}::")
    pair.made["container"].append(c)
    a, b = [getattr(pair, side)("run", "-d", "--name", c, "--network", n0, pair.image, "sleep", "300")
            for side in ("ours", "theirs")]
    assert a.rc == b.rc == 0, (a, b)
    pair.same_id(c, a.out, b.out)
    for side, octet in zip(("ours", "theirs"), octets):
        r = getattr(pair, side)("network", "connect", "--ip6", f"fd00:{octet}::77", "--link-local-ip",
                                "169.254.7.7", n6, c)
        assert r.rc == 0, r
    pair.same("inspect", "-f", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{$v.GlobalIPv6Address}} "
              "{{json $v.IPAMConfig}};{{end}}", c)
    pair.same("network", "disconnect", n6, c)
    pair.same("network", "connect", "--ip6", "not-an-ip", n6, c, stderr=False)  # the parse error's wording
    pair.same("rm", "-f", c)
