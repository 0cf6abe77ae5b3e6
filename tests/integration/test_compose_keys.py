"""Service keys reach the container as Docker Compose v2 passes them to dockerd: limits, security,
process and /etc settings in HostConfig; several networks with network-scoped aliases and a fixed
address; an internal network; `network_mode: service:X` (made once X runs)."""

from __future__ import annotations

import json

FILE = """
services:
  a:
    image: busybox:latest
    command: ["sleep", "600"]
    networks:
      front:
        aliases: [alpha]
        ipv4_address: 10.251.123.10
      back: {}
    read_only: true
    init: true
    cap_drop: [NET_RAW]
    cap_add: [SYS_TIME]
    mem_limit: 64m
    cpus: 0.5
    pids_limit: 50
    ulimits: {nofile: {soft: 1000, hard: 2000}}
    sysctls: {net.ipv4.ip_forward: "1"}
    user: "1000:1000"
    working_dir: /tmp
    hostname: ahost
    labels: {x: y}
    stop_signal: SIGUSR1
    stop_grace_period: 2s
    restart: on-failure:3
    extra_hosts: ["somehost:1.2.3.4"]
    dns: [10.251.123.1]
    logging: {driver: json-file, options: {max-size: 1m, max-file: "2"}}
    tmpfs: [/run/x]
    security_opt: [no-new-privileges:true]
    expose: ["9000"]
  b:
    image: busybox:latest
    command: ["sleep", "600"]
    network_mode: service:a
  c:
    image: busybox:latest
    command: ["sleep", "600"]
    networks: [back]
networks:
  front:
    ipam: {config: [{subnet: 10.251.123.0/24}]}
  back:
    internal: true
"""


def test_service_keys_networks_and_service_network_mode(dy, busybox, tmp_path, name):
    (tmp_path / "compose.yaml").write_text(FILE)
    base = ("compose", "-f", str(tmp_path / "compose.yaml"), "-p", name)
    try:
        dy(*base, "up", "-d")
        d = json.loads(dy("inspect", f"{name}-a-1").out)[0]
        h, c = d["HostConfig"], d["Config"]
        assert (h["ReadonlyRootfs"], h["Init"], h["CapAdd"], h["CapDrop"]) == (True, True, ["CAP_SYS_TIME"], ["CAP_NET_RAW"])
        assert (h["Memory"], h["NanoCpus"], h["PidsLimit"]) == (64 << 20, 500_000_000, 50)
        assert h["Ulimits"] == [{"Name": "nofile", "Soft": 1000, "Hard": 2000}]
        assert h["Sysctls"] == {"net.ipv4.ip_forward": "1"}
        assert h["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
        assert (h["ExtraHosts"], h["Dns"], h["Tmpfs"]) == (["somehost:1.2.3.4"], ["10.251.123.1"], {"/run/x": ""})
        assert h["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "1m", "max-file": "2"}}
        assert h["SecurityOpt"] == ["no-new-privileges:true"]
        assert (c["User"], c["WorkingDir"], c["Hostname"]) == ("1000:1000", "/tmp", "ahost")
        assert c["Labels"]["x"] == "y" and "9000/tcp" in c["ExposedPorts"]
        nets = d["NetworkSettings"]["Networks"]
        assert nets[f"{name}_front"]["IPAddress"] == "10.251.123.10"
        assert "alpha" in nets[f"{name}_front"]["Aliases"] and "alpha" not in nets[f"{name}_back"]["Aliases"]
        back = json.loads(dy("network", "inspect", f"{name}_back").out)[0]
        assert back["Internal"] is True
        # c shares only `back` with a: it finds a by service name, not by a's alias on `front`
        r = dy(*base, "exec", "-T", "c", "nslookup", "a")
        assert nets[f"{name}_back"]["IPAddress"] in r.out
        assert dy(*base, "exec", "-T", "c", "nslookup", "alpha", check=False).returncode != 0
        # b lives in a's network namespace: it has a's addresses
        addrs = dy(*base, "exec", "-T", "b", "ip", "-4", "addr").out
        assert "10.251.123.10" in addrs
        assert json.loads(dy("inspect", f"{name}-b-1").out)[0]["HostConfig"]["NetworkMode"] == \
            f"container:{name}-a-1"
    finally:
        dy(*base, "down", "-t", "0", check=False)


LINKS = """
services:
  db:
    image: busybox:latest
    command: ["sleep", "600"]
  app:
    image: busybox:latest
    command: ["sleep", "600"]
    links: ["db:database"]
"""


def test_links_reach_the_container_as_v2_sends_them(dy, busybox, tmp_path, name):
    """`links: [svc:alias]` is HostConfig.Links to the service's container (v2's getLinks; it was
    ignored); on the project network (a user network) dockerd makes it a network-scoped link: the
    alias is a name app's embedded DNS answers (only), in no hosts file, and HostConfig.Links
    shows null; links imply depends_on."""
    (tmp_path / "compose.yaml").write_text(LINKS)
    base = ("compose", "-f", str(tmp_path / "compose.yaml"), "-p", name)
    try:
        dy(*base, "up", "-d", "app")  # db comes first: a link is a dependency
        doc = json.loads(dy("inspect", f"{name}-app-1").out)[0]
        assert doc["HostConfig"]["Links"] is None
        assert doc["NetworkSettings"]["Networks"][f"{name}_default"]["Links"] == [f"{name}-db-1:database"]
        ip = dy("inspect", "-f", f"{{{{(index .NetworkSettings.Networks \"{name}_default\").IPAddress}}}}",
                f"{name}-db-1").out.strip()
        hosts = dy(*base, "exec", "-T", "app", "cat", "/etc/hosts").out
        assert "database" not in hosts, hosts
        # and the embedded DNS answers the alias for app (only): dockerd's resolver does
        assert ip in dy(*base, "exec", "-T", "app", "nslookup", "database").out
        assert dy(*base, "exec", "-T", "db", "nslookup", "database", check=False).returncode != 0
    finally:
        dy(*base, "down", "-t", "0", check=False)
