"""docker-py (the official Python SDK, `pip install docker`) against `dockyard system service`:
containers.run detached and with remove, logs, images, networks and volumes, on the test's own
store; what it made is what the dockyard CLI sees."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

docker = pytest.importorskip("docker")


@pytest.fixture
def client(dy, tmp_path):
    dy("bootstrap", "busybox", "busybox:latest", timeout=120)
    sock = str(tmp_path / "docker.sock")
    log = open(tmp_path / "service.log", "wb")
    proc = subprocess.Popen(dy.cmd("system", "service", "--host", f"unix://{sock}"), env=dy.env, stdout=log,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 15
    while not os.path.exists(sock):
        assert proc.poll() is None and time.monotonic() < deadline, "the service did not start"
        time.sleep(0.05)
    c = docker.DockerClient(base_url=f"unix://{sock}", version="auto", timeout=60)
    yield c
    c.close()
    proc.terminate()
    proc.wait(20)
    log.close()
    text = (tmp_path / "service.log").read_text(errors="replace")
    assert "Traceback" not in text, text


def test_docker_py_containers_images_networks_volumes(client, dy):
    assert client.ping() is True
    assert client.version()["ApiVersion"] == "1.44"
    # run and remove: the output comes back, nothing is left
    out = client.containers.run("busybox", ["sh", "-c", "echo from docker-py"], remove=True, network_mode="none")
    assert out == b"from docker-py\n"
    assert dy("ps", "-aq").out == ""
    # a failing command: ContainerError with its exit status and stderr
    with pytest.raises(docker.errors.ContainerError) as e:
        client.containers.run("busybox", ["sh", "-c", "echo bad >&2; exit 3"], network_mode="none", remove=True)
    assert e.value.exit_status == 3 and b"bad" in e.value.stderr
    # detached: logs, list, reload, stop, wait, remove
    c = client.containers.run("busybox", ["sh", "-c", "echo one; echo two; sleep 60"], detach=True, name="pyweb",
                              labels={"via": "docker-py"}, network_mode="none")
    assert c.id in dy("ps", "-q", "--no-trunc").out.split()
    deadline = time.monotonic() + 10
    while c.logs() != b"one\ntwo\n":
        assert time.monotonic() < deadline, c.logs()
        time.sleep(0.05)
    assert c.logs(tail=1) == b"two\n"
    assert [x.name for x in client.containers.list(filters={"label": "via=docker-py"})] == ["pyweb"]
    c.reload()
    assert c.status == "running" and c.attrs["Config"]["Labels"] == {"via": "docker-py"}
    c.stop(timeout=1)
    assert c.wait()["StatusCode"] == 137
    assert dy("inspect", "-f", "{{.State.Status}}", "pyweb").out.strip() == "exited"
    c.start()
    code, output = c.exec_run(["sh", "-c", "echo exec-out"])
    assert (code, output) == (0, b"exec-out\n")
    c.remove(force=True)
    with pytest.raises(docker.errors.NotFound):
        client.containers.get("pyweb")
    # images
    tags = [t for i in client.images.list() for t in i.tags]
    assert tags == ["busybox:latest"]
    img = client.images.get("busybox")
    assert img.tag("pyrepo/bb", "x") is True
    assert "pyrepo/bb:x" in dy("images", "--format", "{{.Repository}}:{{.Tag}}").out.split()
    client.images.remove("pyrepo/bb:x")
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get("nosuch:1")
    # networks and volumes
    net = client.networks.create("pynet", labels={"a": "b"})
    assert "pynet" in [n.name for n in client.networks.list()]
    assert net.attrs["Labels"] == {"a": "b"}
    vol = client.volumes.create("pyvol", labels={"c": "d"})
    assert [v.name for v in client.volumes.list()] == ["pyvol"]
    assert dy("volume", "ls", "-q").out.split() == ["pyvol"]
    assert vol.attrs["Mountpoint"] == os.path.join(dy.root, "volumes", "pyvol", "_data")
    out = client.containers.run("busybox", ["sh", "-c", "echo kept > /v/f; cat /v/f"], remove=True,
                                network="pynet", volumes={"pyvol": {"bind": "/v", "mode": "rw"}})
    assert out == b"kept\n"
    vol.remove()
    net.remove()
    assert "pynet" not in dy("network", "ls").out
    assert dy("ps", "-aq").out == ""


def test_docker_py_images_builds_and_networks(client, dy, tmp_path):
    """What docker-py's own integration suite (scripts/docker-py-suite) found, kept as our tests."""
    import io

    # build: docker-py sends rm=False by default, which keeps the RUN steps' containers (as dockerd)
    script = io.BytesIO(b"FROM busybox\nRUN echo built > /b\nRUN echo two > /c\nLABEL made=by-docker-py\n")
    img, logs = client.images.build(fileobj=script, tag="pybuilt:1", rm=False)
    assert img.labels == {"made": "by-docker-py"} and "pybuilt:1" in img.tags
    assert any("Step 2/4" in (x.get("stream") or "") for x in logs)
    kept = client.containers.list(all=True)
    assert len(kept) == 2 and {k.status for k in kept} == {"exited"}
    for k in kept:
        k.remove()
    img2, _ = client.images.build(fileobj=io.BytesIO(b"FROM busybox\nRUN echo x > /x\n"), tag="pybuilt:2", rm=True)
    assert client.containers.list(all=True) == []
    with pytest.raises(docker.errors.BuildError) as e:
        client.images.build(fileobj=io.BytesIO(b"FROM busybox\nRUN exit 4\n"), rm=True, forcerm=True)
    assert "returned a non-zero code: 4" in str(e.value)
    assert client.containers.list(all=True) == []
    # history, save and load, prune
    assert client.images.get("pybuilt:1").history()[0]["Tags"] == ["pybuilt:1"]
    data = b"".join(client.images.get("pybuilt:2").save(named=True))
    client.images.remove("pybuilt:2")
    (loaded,) = client.images.load(data)
    assert "pybuilt:2" in loaded.tags
    before = {i.id for i in client.images.list(all=True)}
    pruned = client.images.prune()  # dangling only: the kept step's intermediate image, not pybuilt
    gone = {x["Deleted"] for x in pruned["ImagesDeleted"] or [] if "Deleted" in x}
    assert gone and gone <= before and pruned["SpaceReclaimed"] >= 0
    assert sorted(t for i in client.images.list(name="pybuilt") for t in i.tags) == ["pybuilt:1", "pybuilt:2"]
    # a restart-always container: wait returns at its first exit (it was restarted since)
    c = client.containers.run("busybox", ["sh", "-c", "sleep 1; exit 5"], detach=True, network_mode="none",
                              restart_policy={"Name": "always"})
    assert c.wait(timeout=30)["StatusCode"] == 5
    with pytest.raises(docker.errors.APIError) as e:
        c.remove()
    assert "stop the container before" in e.value.explanation.lower()
    c.remove(force=True)
    # kill (SIGKILL) answers once the exit is recorded, as dockerd's
    c = client.containers.run("busybox", ["sleep", "60"], detach=True, network_mode="none")
    c.kill()
    c.reload()
    assert (c.status, c.attrs["State"]["ExitCode"], c.attrs["State"]["Running"]) == ("exited", 137, False)
    c.remove()
    # network connect/disconnect of a running container; swarm answered as a node in no swarm
    net = client.networks.create("pyconn")
    c = client.containers.run("busybox", ["sleep", "60"], detach=True, name="pyconnected")
    net.connect(c, aliases=["other-name"])
    c.reload()
    assert set(c.attrs["NetworkSettings"]["Networks"]) == {"bridge", "pyconn"}
    out = client.containers.run("busybox", ["ping", "-c", "1", "-W", "5", "other-name"], network="pyconn", remove=True)
    assert b"1 packets received" in out
    net.disconnect(c)
    c.reload()
    assert set(c.attrs["NetworkSettings"]["Networks"]) == {"bridge"}
    with pytest.raises(docker.errors.NotFound):
        net.connect("no-such-container")
    c.remove(force=True)
    net.remove()
    assert client.swarm.leave(force=True) is True
    with pytest.raises(docker.errors.APIError) as e:
        client.api.inspect_swarm()
    assert e.value.response.status_code == 503
    assert dy("ps", "-aq").out == ""


def test_docker_py_commit_of_a_container_that_exits_meanwhile(client, dy):
    """docker-py's CommitTest: commit (pause=True) right after starting a container that exits at
    once; the exit may land while it is frozen: the commit still succeeds and the record says exited."""
    for _ in range(5):
        c = client.api.create_container("busybox", ["touch", "/test"], host_config=client.api.create_host_config(
            network_mode="none"))
        client.api.start(c)
        res = client.api.commit(c["Id"])
        assert res["Id"].startswith("sha256:")
        client.api.wait(c)
        assert client.api.inspect_container(c)["State"]["Status"] == "exited"
        client.api.remove_container(c)
        client.api.remove_image(res["Id"])
    assert dy("ps", "-aq").out == ""


def test_docker_py_inspect_reports_isolation_and_volumes_from(client):
    """docker-py's suite: HostConfig.Isolation and VolumesFrom come back as asked; an isolation
    Linux has not is refused (400), as dockerd on Linux refuses it."""
    api = client.api
    src = api.create_container("busybox", ["true"], volumes=["/data"],
                               host_config=api.create_host_config(network_mode="none"), name="pysrc")
    c = api.create_container("busybox", ["true"], stop_timeout=25, host_config=api.create_host_config(
        isolation="default", volumes_from=["pysrc:ro"], network_mode="none"))
    doc = api.inspect_container(c)
    assert doc["HostConfig"]["Isolation"] == "default"
    assert doc["HostConfig"]["VolumesFrom"] == ["pysrc:ro"]
    assert doc["Config"]["StopTimeout"] == 25
    assert [m["Destination"] for m in doc["Mounts"]] == ["/data"]
    with pytest.raises(docker.errors.APIError) as e:
        api.create_container("busybox", ["true"], host_config=api.create_host_config(isolation="hyperv"))
    assert e.value.status_code == 400 and "isolation" in str(e.value)
    assert api.inspect_container(src)["HostConfig"]["Isolation"] == ""
    # VolumeDriver: kept and reported; a volume it would have to make is refused (only "local" here)
    v = api.create_container("busybox", ["true"], host_config=api.create_host_config(volume_driver="foo"))
    assert api.inspect_container(v)["HostConfig"]["VolumeDriver"] == "foo"
    with pytest.raises(docker.errors.APIError) as e:
        api.create_container("busybox", ["true"], volumes=["/data"],
                             host_config=api.create_host_config(volume_driver="foo"))
    assert e.value.status_code == 404 and 'plugin "foo" not found' in str(e.value)  # dockerd's NotFound
    # a paused container is still running (State.Running and State.Paused both true, as dockerd's)
    p = api.create_container("busybox", ["sleep", "30"], host_config=api.create_host_config(network_mode="none"))
    try:
        api.start(p)
        api.pause(p)
        st = api.inspect_container(p)["State"]
        assert (st["Status"], st["Running"], st["Paused"]) == ("paused", True, True)
        api.unpause(p)
        st = api.inspect_container(p)["State"]
        assert (st["Status"], st["Running"], st["Paused"]) == ("running", True, False)
    finally:
        api.remove_container(p, force=True)


def test_docker_py_exec_tty_framing_and_detach_keys(client):
    """The start request's Tty decides the output's shape (a TTY exec started without it comes as
    stdcopy stdout frames, as dockerd's); a TTY exec's detach keys (DetachKeys, or docker-py's
    `detachKeys` config) end the connection and leave the process running."""
    import socket
    import struct

    api = client.api
    c = api.create_container("busybox", "cat", stdin_open=True, host_config=api.create_host_config(network_mode="none"))
    api.start(c)
    try:
        ex = api.exec_create(c, ["sh", "-c", "echo out; echo err >&2"], tty=True)
        assert api.exec_start(ex, demux=True) == (b"out\r\nerr\r\n", None)
        ex = api.exec_create(c, ["sh", "-c", "echo out; echo err >&2"], tty=True)
        assert api.exec_start(ex, tty=True) == b"out\r\nerr\r\n"  # raw
        ex = api.exec_create(c, ["sh", "-c", "echo out; sleep 0.3; echo err >&2"])
        assert api.exec_start(ex, demux=True) == (b"out\n", b"err\n")
        ex = api.exec_create(c, ["printf", "abc"], tty=True)
        sock = api.exec_start(ex, socket=True)._sock
        head = sock.recv(8)
        assert struct.unpack(">BxxxL", head) == (1, 3) and sock.recv(3) == b"abc"
        sock.close()
        for keys, seq in ((None, b"\x10\x11"), ("ctrl-x", b"\x18")):
            api._general_configs.pop("detachKeys", None)
            if keys:
                api._general_configs["detachKeys"] = keys
            ex = api.exec_create(c, ["sh", "-c", "cat; echo ended > /ended"], stdin=True, tty=True)
            assert api.exec_inspect(ex)["DetachKeys"] == (keys or "")
            sock = api.exec_start(ex, tty=True, socket=True)._sock
            sock.sendall(b"hi\n")
            got = b""
            deadline = time.monotonic() + 10
            while b"hi\r\n" not in got.replace(b"hi\r\nhi", b"hi"):
                assert time.monotonic() < deadline, got
                got += sock.recv(100)
            sock.sendall(seq)
            sock.settimeout(10)
            while sock.recv(100):  # the server ends the connection
                pass
            sock.close()
            assert api.exec_inspect(ex)["Running"] is True  # detached, not ended
        with pytest.raises(docker.errors.APIError) as e:
            api.exec_create(c, ["true"], detach_keys="ctrl-+")
        assert e.value.status_code == 400
    finally:
        api.remove_container(c, force=True)


def test_docker_py_env_image_config_and_endpoint_settings(client, dy):
    """A bare env NAME stays in Config.Env and unsets NAME in the process (dockerd's way); image
    inspect has dockerd's Config keys (OnBuild: null); a fixed address shows in IPAMConfig; a MAC
    asked in the endpoint (API 1.44's place) or on connect is the interface's; disconnecting what
    is not connected fails, force or not; endpoint settings dockyard cannot do are refused, links and
    driver options are kept."""
    api = client.api
    net = api.create_network("pyepnet", ipam=docker.types.IPAMConfig(
        pool_configs=[docker.types.IPAMPool(subnet="10.213.7.0/24")]))["Id"]
    other = api.create_network("pyepnet2")["Id"]
    c = api.create_container("busybox", ["sh", "-c", "env; cat /sys/class/net/eth*/address; sleep 30"],
                             environment={"Foo": None, "Blank": "", "Other": "one"},
                             host_config=api.create_host_config(network_mode="pyepnet"),
                             networking_config=api.create_networking_config({"pyepnet": api.create_endpoint_config(
                                 ipv4_address="10.213.7.23", mac_address="02:42:0a:d5:07:aa")}))
    api.connect_container_to_network(c, "pyepnet2", mac_address="02:42:0a:d5:07:bb")
    try:  # asked MACs show before the start too (dockerd's endpoint settings)
        nets = api.inspect_container(c)["NetworkSettings"]["Networks"]
        assert (nets["pyepnet"]["MacAddress"], nets["pyepnet2"]["MacAddress"]) == ("02:42:0a:d5:07:aa",
                                                                                   "02:42:0a:d5:07:bb")
        api.start(c)
        doc = api.inspect_container(c)
        assert "Foo" in doc["Config"]["Env"] and "Blank=" in doc["Config"]["Env"]
        nets = doc["NetworkSettings"]["Networks"]
        assert nets["pyepnet"]["IPAMConfig"] == {"IPv4Address": "10.213.7.23"}
        assert nets["pyepnet"]["MacAddress"] == "02:42:0a:d5:07:aa"
        assert nets["pyepnet2"]["MacAddress"] == "02:42:0a:d5:07:bb" and nets["pyepnet2"]["IPAMConfig"] is None
        deadline = time.monotonic() + 10
        while b"02:42:0a:d5:07:bb" not in api.logs(c):
            assert time.monotonic() < deadline, api.logs(c)
            time.sleep(0.1)
        out = api.logs(c).decode()
        assert "Other=one" in out and "Foo" not in out and "02:42:0a:d5:07:aa" in out
        api.disconnect_container_from_network(c, other, force=True)
        with pytest.raises(docker.errors.APIError):
            api.disconnect_container_from_network(c, other, force=True)
    finally:
        api.remove_container(c, force=True)
    img = api.inspect_image("busybox")
    assert img["Config"]["OnBuild"] is None and img["Config"]["Cmd"] == ["sh"]
    # links and driver options are kept (tests/integration/test_scoped_links.py, test_endpoint_driver_opts.py),
    # link-local IPs too (test_docker_py_ipv6_and_link_local_addresses)
    c = api.create_container("busybox", ["true"], host_config=api.create_host_config(network_mode="pyepnet"),
                             networking_config=api.create_networking_config({"pyepnet": api.create_endpoint_config(
                                 links=[("x", "y")], driver_opt={"a": "b"})}))
    ep = api.inspect_container(c)["NetworkSettings"]["Networks"]["pyepnet"]
    assert ep["Links"] == ["x:y"] and ep["DriverOpts"] == {"a": "b"}
    api.remove_container(c)
    assert dy("ps", "-aq").out == ""
    api.remove_network(net)
    api.remove_network(other)


def test_docker_py_ipam_range_and_aux_addresses(client):
    """docker-py's test_create_network_with_ipam_config and test_connect_with_ipv4_address (on a
    10.238.x subnet of our own instead of 172.28.0.0/16): IPAM.Config's IPRange, Gateway and
    AuxiliaryAddresses come back as given, IPAM.Options as the request had it (null); a container
    gets the range's first free address, a fixed one inside the range on connect; one taken off its
    only network may be connected again (its default route then goes through it)."""
    api = client.api
    net = api.create_network("pyipam", ipam=docker.types.IPAMConfig(driver="default", pool_configs=[
        docker.types.IPAMPool(subnet="10.238.20.0/24", iprange="10.238.20.0/26", gateway="10.238.20.254",
                              aux_addresses={"a": "10.238.20.5", "b": "10.238.20.6", "c": "10.238.20.1"})]))["Id"]
    try:
        ipam = api.inspect_network(net)["IPAM"]
        assert ipam.pop("Options", None) is None and ipam["Driver"] == "default"
        assert ipam["Config"] == [{"Subnet": "10.238.20.0/24", "IPRange": "10.238.20.0/26",
                                   "Gateway": "10.238.20.254",
                                   "AuxiliaryAddresses": {"a": "10.238.20.5", "b": "10.238.20.6", "c": "10.238.20.1"}}]
        c = api.create_container("busybox", ["sleep", "30"], host_config=api.create_host_config(network_mode="pyipam"))
        d = api.create_container("busybox", ["sleep", "30"])  # on the default bridge
        try:
            api.start(c)
            api.start(d)
            ep = api.inspect_container(c)["NetworkSettings"]["Networks"]["pyipam"]
            assert (ep["IPAddress"], ep["Gateway"]) == ("10.238.20.2", "10.238.20.254")  # .1 is an aux address
            # test_connect_with_ipv4_address: off its only network, then back with a fixed address
            api.disconnect_container_from_network(c, "pyipam")
            assert api.inspect_container(c)["NetworkSettings"]["Networks"] == {}
            api.connect_container_to_network(c, "pyipam", ipv4_address="10.238.20.24")
            ep = api.inspect_container(c)["NetworkSettings"]["Networks"]["pyipam"]
            assert ep["IPAMConfig"]["IPv4Address"] == ep["IPAddress"] == "10.238.20.24"
            route = api.exec_start(api.exec_create(c, ["ip", "route"]))
            assert route.startswith(b"default via 10.238.20.254"), route
            # a second network for a running container: a fixed address in the range too
            api.connect_container_to_network(d, "pyipam", ipv4_address="10.238.20.25")
            ep = api.inspect_container(d)["NetworkSettings"]["Networks"]["pyipam"]
            assert ep["IPAMConfig"]["IPv4Address"] == ep["IPAddress"] == "10.238.20.25"
            api.disconnect_container_from_network(d, "pyipam")
            with pytest.raises(docker.errors.APIError) as e:  # an aux address is never a container's
                api.connect_container_to_network(d, "pyipam", ipv4_address="10.238.20.5")
            assert "Address already in use" in str(e.value)
        finally:
            api.remove_container(c, force=True)
            api.remove_container(d, force=True)
        with pytest.raises(docker.errors.APIError) as e:
            api.create_network("pyipam-bad", ipam=docker.types.IPAMConfig(pool_configs=[
                docker.types.IPAMPool(subnet="10.238.21.0/24", iprange="10.238.22.0/26")]))
        assert e.value.status_code == 400 and "doesn't contain ip-range" in str(e.value)
    finally:
        api.remove_network(net)


def test_docker_py_undeclared_network_default_aliases(client):
    """docker-py 7.1.0's test_run_with_networking_config_only_undeclared_network: a networking
    config naming only another network is dropped by docker-py; the container's own user network
    shows the short id as its alias already in the document of create (API 1.44)."""
    client.networks.create("pyundecl")
    try:
        c = client.containers.run("busybox", "sleep 30", network="pyundecl", detach=True, networking_config={
            "bar": client.api.create_endpoint_config(aliases=["hello"])})
        try:
            nets = c.attrs["NetworkSettings"]["Networks"]
            assert list(nets) == ["pyundecl"]
            assert nets["pyundecl"]["Aliases"] == [c.attrs["Id"][:12]] and nets["pyundecl"]["DriverOpts"] is None
            c.reload()
            ep = c.attrs["NetworkSettings"]["Networks"]["pyundecl"]
            assert ep["Aliases"] == [c.id[:12]] and ep["DNSNames"] == [c.name, c.id[:12]]
        finally:
            c.remove(force=True)
    finally:
        client.networks.get("pyundecl").remove()


def test_docker_py_build_cache_from(client):
    """cachefrom (dockerd's classic builder): cached steps are used only where they make part of
    one of those images; a name that is not there is skipped, so nothing comes from the cache."""
    import io

    api = client.api
    script = b"FROM busybox\nENV FOO=bar\nRUN touch baz\nRUN touch bax\n"

    def hits(**kw) -> int:
        chunks = list(api.build(fileobj=io.BytesIO(script), decode=True, **kw))
        assert not [c for c in chunks if "error" in c], chunks
        return sum("Using cache" in c.get("stream", "") for c in chunks)

    hits(tag="pycache1")
    assert hits(tag="pycache2", cache_from=["pycache1"]) == 3
    api.remove_image("pycache2")
    assert hits(tag="pycache2", cache_from=["nosuchtag"]) == 0
    assert hits(tag="pycache3") == 3  # without cachefrom every cached step may be used
    with pytest.raises(docker.errors.APIError) as e:
        list(api.build(fileobj=io.BytesIO(script), cache_from="notalist"))
    assert e.value.status_code == 400


def test_docker_py_attach_logs_without_stream_after_wait(client):
    """docker-py's AttachContainerTest.test_attach_no_stream, twenty times: the logs of an exited
    container come whole. docker-py reads the 101 headers through a buffered reader and the frames
    from the raw socket: frames sent with the headers were lost (b"" most of the time, by hand)."""
    api = client.api
    for net in ("none", "bridge"):
        for _ in range(10):
            c = api.create_container("busybox", "echo hello", host_config=api.create_host_config(network_mode=net))
            api.start(c)
            api.wait(c, condition="not-running")
            assert api.attach(c, stream=False, logs=True) == b"hello\n"
            api.remove_container(c)


def test_docker_py_build_with_a_dockerfile_outside_the_context(client, tmp_path):
    """docker-py's test_build_out_of_context_dockerfile: docker-py adds the Dockerfile to the
    context as .dockerfile.<hex> and sends `dockerfile` twice (that name, then the text); dockerd
    takes the first value (Go's FormValue)."""
    ctx, elsewhere = tmp_path / "ctx", tmp_path / "elsewhere"
    ctx.mkdir()
    elsewhere.mkdir()
    (ctx / "file.txt").write_text("hello world")
    (ctx / ".dockerignore").write_text(".dockerignore\n")
    (elsewhere / "Dockerfile").write_text("FROM busybox\nCOPY . /src\nWORKDIR /src\n")
    api = client.api
    lines = list(api.build(path=str(ctx), dockerfile=str(elsewhere / "Dockerfile"), tag="ooc:1", decode=True))
    assert "Successfully tagged ooc:1" in lines[-1].get("stream", ""), lines
    c = api.create_container("ooc:1", "ls -a", host_config=api.create_host_config(network_mode="none"))
    api.start(c)
    api.wait(c)
    assert sorted(api.logs(c).split()) == [b".", b"..", b"file.txt"]
    api.remove_container(c)


def test_docker_py_archive_in_volumes_commit_parent_and_log_drivers(client, tmp_path):
    """docker-py's ArchiveTest (put/get below /vol1 of a created container), CommitTest's Parent,
    test_run_with_none_driver, test_invalid_log_driver_raises_exception, and
    test_create_volume_invalid_driver, as the suite runs them."""
    import io
    import tarfile

    api = client.api
    data = b"Deaf To All But The Song"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("data.txt")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    c = api.create_container("busybox", "cat /vol1/data.txt", volumes=["/vol1"],
                             host_config=api.create_host_config(network_mode="none"))
    assert api.put_archive(c, "/vol1", buf.getvalue()) is True
    api.start(c)
    assert api.wait(c)["StatusCode"] == 0 and api.logs(c) == data
    strm, stat = api.get_archive(c, "/vol1/data.txt")
    assert stat["name"] == "data.txt" and stat["size"] == len(data)
    got = tarfile.open(fileobj=io.BytesIO(b"".join(strm)))
    assert got.extractfile("data.txt").read() == data
    # commit: Parent is the container's image
    img = api.inspect_image(api.commit(c)["Id"])
    assert img["Parent"] == api.inspect_image("busybox")["Id"]
    api.remove_container(c, v=True)
    api.remove_image(img["Id"])
    # log drivers: none is taken (docker-py then reads no logs), an unknown one is dockerd's words
    assert client.containers.run("busybox", "echo hello", log_config={"type": "none"}, network_mode="none",
                                 remove=True) is None
    with pytest.raises(docker.errors.APIError) as e:
        api.create_container("busybox", ["true"], host_config=api.create_host_config(
            log_config=docker.types.LogConfig(type="asdf", config={})))
    assert e.value.explanation == 'error looking up logging plugin asdf: plugin "asdf" not found'
    with pytest.raises(docker.errors.APIError) as e:
        api.create_volume("perfectcherryblossom", "this-plugin-does-not-exist")
    assert e.value.response.status_code == 404  # docker.errors.NotFound, as docker-py 7.1.0 expects
    assert "error looking up volume plugin this-plugin-does-not-exist" in e.value.explanation


def test_docker_py_build_stderr_comes_coloured(client):
    """docker-py's test_build_stderr_data: a RUN step's stderr comes wrapped in \\x1b[91m … \\x1b[0m
    in the build stream, as dockerd's; its stdout as it is."""
    import io

    script = io.BytesIO(b'FROM busybox\nRUN echo plain; sh -c ">&2 echo \'Ancient Temple\'"\n')
    lines = [c.get("stream") for c in client.api.build(fileobj=script, decode=True, nocache=True,
                                                       network_mode="none")]
    assert "\x1b[91mAncient Temple\n\x1b[0m" in lines and "plain\n" in lines, lines


def test_docker_py_ipv6_and_link_local_addresses(client, dy):
    """docker-py's test_create_network_ipv6_enabled, test_create_with_ipv6_address,
    test_connect_with_ipv6_address and test_create_with_linklocal_ips (on a subnet of our own
    instead of 2001:389::/64): the addresses asked for are in IPAMConfig and on the interface."""
    api = client.api
    pool = docker.types.IPAMPool(subnet="fd5e:389::/64", iprange="fd5e:389::0/96", gateway="fd5e:389::ffff")
    net = api.create_network("pyv6", enable_ipv6=True, ipam=docker.types.IPAMConfig(driver="default",
                                                                                    pool_configs=[pool]))["Id"]
    cs = []
    try:
        doc = api.inspect_network(net)
        assert doc["EnableIPv6"] is True and doc["IPAM"]["Config"][1] == {
            "Subnet": "fd5e:389::/64", "IPRange": "fd5e:389::0/96", "Gateway": "fd5e:389::ffff"}
        c = api.create_container("busybox", ["sleep", "30"], host_config=api.create_host_config(network_mode="pyv6"),
                                 networking_config=api.create_networking_config(
                                     {"pyv6": api.create_endpoint_config(ipv6_address="fd5e:389::f00d")}))
        cs.append(c)
        api.start(c)
        ep = api.inspect_container(c)["NetworkSettings"]["Networks"]["pyv6"]
        assert ep["IPAMConfig"]["IPv6Address"] == ep["GlobalIPv6Address"] == "fd5e:389::f00d"
        # test_connect_with_ipv6_address: off the network, back with a fixed IPv6 address
        api.disconnect_container_from_network(c, "pyv6")
        api.connect_container_to_network(c, "pyv6", ipv6_address="fd5e:389::beef")
        ep = api.inspect_container(c)["NetworkSettings"]["Networks"]["pyv6"]
        assert ep["IPAMConfig"]["IPv6Address"] == ep["GlobalIPv6Address"] == "fd5e:389::beef"
        addrs = api.exec_start(api.exec_create(c, ["ip", "-6", "addr"]))
        assert b"fd5e:389::beef/64" in addrs
        # test_create_with_linklocal_ips: on the default bridge
        d = api.create_container("busybox", ["sleep", "30"], host_config=api.create_host_config(network_mode="bridge"),
                                 networking_config=api.create_networking_config(
                                     {"bridge": api.create_endpoint_config(link_local_ips=["169.254.8.8"])}))
        cs.append(d)
        api.start(d)
        ep = api.inspect_container(d)["NetworkSettings"]["Networks"]["bridge"]
        assert ep["IPAMConfig"]["LinkLocalIPs"] == ["169.254.8.8"]
        assert b"inet 169.254.8.8/16" in api.exec_start(api.exec_create(d, ["ip", "addr", "show", "eth0"]))
    finally:
        for c in cs:
            api.remove_container(c, force=True)
        api.remove_network(net)
