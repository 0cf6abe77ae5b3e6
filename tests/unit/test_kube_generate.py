"""kube generate from container configs (pure): every supported option lands where Kubernetes
keeps it, the output passes the Kubernetes OpenAPI schemas strictly (1.28 and the newest bundled
version), and what has no Kubernetes form is a warning naming the container and the key."""

from __future__ import annotations

import pytest

from dockyard.engine.create import config_from_request
from dockyard.errors import InvalidArgument
from dockyard.kube.generate import generate
from dockyard.kube.names import cpu_quantity, dns_label, memory_quantity, parse_cpu, parse_memory

kv = pytest.importorskip("kubernetes_validate")
VERSIONS = ("1.28.0", kv.latest_version())


def validate(docs):
    for d in docs:
        for v in VERSIONS:
            kv.validate(d, v, strict=True)


def view(body: dict, name="web", image_config=None, run_as=None, image="reg.example:5000/app@sha256:" + "a" * 64):
    body = dict({"Image": "app"}, **body)
    return {"name": name, "config": config_from_request(body).to_json(), "image": image,
            "image_config": image_config or {"Cmd": ["sh"], "Env": ["PATH=/bin"]}, "run_as": run_as,
            "image_note": None}


EVERYTHING = {
    "Cmd": ["httpd", "-f", "-p", "80"], "Entrypoint": ["/bin/busybox"], "Env": ["FOO=bar", "PATH=/bin", "EMPTY="],
    "WorkingDir": "/srv", "User": "1000:1000", "Hostname": "webhost", "Tty": True, "OpenStdin": True,
    "Labels": {"com.example.team": "web"}, "StopTimeout": 20,
    "ExposedPorts": {"9090/tcp": {}},
    "Healthcheck": {"Test": ["CMD-SHELL", "wget -q -O- http://localhost/"], "Interval": 5_000_000_000,
                    "Timeout": 2_000_000_000, "StartPeriod": 3_000_000_000, "Retries": 4},
    "HostConfig": {
        "Memory": 64 << 20, "NanoCpus": 500_000_000, "CpuShares": 512, "MemoryReservation": 32 << 20,
        "PidsLimit": 100, "ReadonlyRootfs": True, "CapAdd": ["NET_BIND_SERVICE"], "CapDrop": ["ALL"],
        "SecurityOpt": ["no-new-privileges"], "RestartPolicy": {"Name": "always"},
        "PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "30080"}], "53/udp": [{"HostPort": "30053"}]},
        "Binds": ["data:/data", "/tmp:/host:ro"], "Tmpfs": {"/run": "size=64m"},
        "Mounts": [{"Type": "volume", "Target": "/cache"}],
        "ExtraHosts": ["db:10.0.0.5", "cache:10.0.0.5"], "Dns": ["10.0.0.53"], "DnsSearch": ["example.test"],
        "Sysctls": {"net.ipv4.ip_unprivileged_port_start": "0"}, "Ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 2048}],
    },
}


def test_every_option_is_mapped_and_valid():
    gen = generate([view(EVERYTHING, run_as=(1000, 1000))], service=True, node_ports=True)
    validate(gen.docs)
    kinds = [d["kind"] for d in gen.docs]
    assert kinds == ["PersistentVolumeClaim", "StatefulSet", "Service"]  # a named volume: a StatefulSet
    sts = gen.docs[1]
    pod = sts["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert c["image"].endswith("@sha256:" + "a" * 64)
    assert c["command"] == ["/bin/busybox"] and c["args"] == ["httpd", "-f", "-p", "80"]
    assert c["workingDir"] == "/srv"
    assert {"name": "FOO", "value": "bar"} in c["env"] and {"name": "EMPTY", "value": ""} in c["env"]
    assert not any(e["name"] == "PATH" for e in c["env"])  # the image's own
    assert c["resources"] == {"limits": {"memory": "64Mi", "cpu": "500m"},
                              "requests": {"cpu": "500m", "memory": "32Mi"}}
    assert c["livenessProbe"] == {"exec": {"command": ["/bin/sh", "-c", "wget -q -O- http://localhost/"]},
                                  "periodSeconds": 5, "timeoutSeconds": 2, "failureThreshold": 4,
                                  "initialDelaySeconds": 3}
    assert c["securityContext"] == {
        "runAsUser": 1000, "runAsGroup": 1000, "readOnlyRootFilesystem": True,
        "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]}, "allowPrivilegeEscalation": False,
        "seccompProfile": {"type": "RuntimeDefault"}}
    assert c["tty"] is True and c["stdin"] is True
    assert {"containerPort": 80, "protocol": "TCP", "hostPort": 30080} in c["ports"]
    assert {"containerPort": 53, "protocol": "UDP", "hostPort": 30053} in c["ports"]
    assert {"containerPort": 9090, "protocol": "TCP"} in c["ports"]
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    assert "/host" not in mounts  # a host path: warned, not written
    vols = {v["name"]: v for v in pod["volumes"]}
    assert vols[mounts["/data"]]["persistentVolumeClaim"] == {"claimName": "data"}
    assert vols[mounts["/run"]]["emptyDir"] == {"medium": "Memory", "sizeLimit": "64Mi"}
    assert vols[mounts["/cache"]]["emptyDir"] == {}
    assert gen.docs[0]["metadata"]["name"] == "data"
    assert pod["hostAliases"] == [{"ip": "10.0.0.5", "hostnames": ["db", "cache"]}]
    assert pod["dnsConfig"] == {"nameservers": ["10.0.0.53"], "searches": ["example.test"]}
    assert pod["securityContext"]["sysctls"] == [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}]
    assert pod["hostname"] == "webhost" and pod["terminationGracePeriodSeconds"] == 20
    assert pod["restartPolicy"] == "Always"
    assert sts["spec"]["template"]["metadata"]["annotations"] == {"com.example.team": "web"}
    svc = gen.docs[2]["spec"]
    assert svc["type"] == "NodePort"
    assert {(p["port"], p["targetPort"], p["protocol"], p["nodePort"]) for p in svc["ports"]} == \
        {(80, 80, "TCP", 30080), (53, 53, "UDP", 30053)}
    text = "\n".join(gen.warnings)
    for key in ("HostConfig.PidsLimit", "HostConfig.Binds./host", "HostConfig.Ulimits"):
        assert f"container web: {key}" in text


def test_unexpressible_keys_are_warnings_naming_container_and_key():
    body = {"HostConfig": {"Privileged": True, "NetworkMode": "host", "Binds": ["/etc:/hostetc"],
                           "CpusetCpus": "0", "PidMode": "host", "Devices": [{"PathOnHost": "/dev/null",
                                                                               "PathInContainer": "/dev/x",
                                                                               "CgroupPermissions": "rwm"}],
                           "SecurityOpt": ["seccomp=unconfined"], "RestartPolicy": {"Name": "on-failure",
                                                                                  "MaximumRetryCount": 3}}}
    gen = generate([view(body, name="Odd_Name")])
    validate(gen.docs)
    text = "\n".join(gen.warnings)
    for key in ("HostConfig.Privileged", "HostConfig.NetworkMode", "HostConfig.Binds./hostetc",
                "HostConfig.CpusetCpus", "HostConfig.PidMode", "HostConfig.Devices",
                "HostConfig.RestartPolicy.MaximumRetryCount"):
        assert f"container Odd_Name: {key}" in text, key
    dep = gen.docs[0]
    assert dep["kind"] == "Deployment" and dep["metadata"]["name"] == "odd-name"
    c = dep["spec"]["template"]["spec"]["containers"][0]
    assert c["securityContext"]["seccompProfile"] == {"type": "Unconfined"}
    assert "privileged" not in c["securityContext"]


def test_kinds_and_pod_restart_policy():
    gen = generate([view({"HostConfig": {"RestartPolicy": {"Name": "on-failure"}}})], kind="pod")
    validate(gen.docs)
    assert gen.docs[0]["kind"] == "Pod" and gen.docs[0]["spec"]["restartPolicy"] == "OnFailure"
    gen = generate([view({"HostConfig": {"Binds": ["v1:/v"]}})], kind="deployment")
    assert [d["kind"] for d in gen.docs] == ["PersistentVolumeClaim", "Deployment"]
    validate(gen.docs)
    with pytest.raises(InvalidArgument):
        generate([view({})], kind="job")
    with pytest.raises(InvalidArgument):
        generate([view({})], node_ports=True)
    with pytest.raises(InvalidArgument):  # web and Web are both `web` in a pod
        generate([view({}, name="web"), view({}, name="Web")], kind="pod")


def test_containers_together_form_one_pod():
    a = view({"Cmd": ["httpd", "-f"], "HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": "8080"}]}}}, name="web")
    b = view({"Cmd": ["sleep", "1000"]}, name="side")
    gen = generate([a, b], service=True)
    validate(gen.docs)
    pod = gen.docs[0]["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["containers"]] == ["web", "side"]
    assert gen.docs[1]["spec"]["ports"] == [{"name": "tcp-80", "port": 80, "targetPort": 80, "protocol": "TCP"}]
    assert pod["containers"][0]["ports"] == [{"containerPort": 80, "protocol": "TCP", "hostPort": 8080}]


def test_entrypoint_and_command_follow_kubernetes_rules():
    icfg = {"Entrypoint": ["/entry"], "Cmd": ["serve"]}
    c = generate([view({}, image_config=icfg)]).docs[0]["spec"]["template"]["spec"]["containers"][0]
    assert "command" not in c and "args" not in c  # the image's own
    c = generate([view({"Cmd": ["other"]}, image_config=icfg)]).docs[0]["spec"]["template"]["spec"]["containers"][0]
    assert "command" not in c and c["args"] == ["other"]
    c = generate([view({"Entrypoint": ["/x"]}, image_config=icfg)]).docs[0]["spec"]["template"]["spec"]["containers"][0]
    assert c["command"] == ["/x"] and "args" not in c  # docker drops the image's CMD with a new entrypoint


def test_names_and_quantities():
    assert dns_label("My_App.1") == "my-app-1" and dns_label("___") == "app"
    assert memory_quantity(64 << 20) == "64Mi" and memory_quantity(1 << 30) == "1Gi" and memory_quantity(1000) == "1000"
    assert cpu_quantity(50000, 100000) == "500m" and cpu_quantity(200000, 100000) == "2"
    assert parse_memory("64Mi", "x") == 64 << 20 and parse_memory("1G", "x") == 10**9 and parse_memory("129e6", "x") == 129 * 10**6
    assert parse_cpu("500m", "x") == 500_000_000 and parse_cpu("0.25", "x") == 250_000_000
    with pytest.raises(InvalidArgument):
        parse_memory("lots", "limits.memory")
