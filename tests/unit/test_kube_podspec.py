"""kube play's planning (pure): manifests → pods, published ports, create bodies; refusals name
the object and the field; ConfigMap files are written by descriptor and never leave their dir."""

from __future__ import annotations

import os

import pytest
import yaml

from dockyard.errors import DockyardError, InvalidArgument
from dockyard.kube.play import parse_publish, write_files
from dockyard.kube.podcontainer import expand
from dockyard.kube.podspec import plan


def docs(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d]


DEP = """
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {A: "1", B: "two"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  replicas: 3
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api, tier: x}}
    spec:
      securityContext: {runAsUser: 1000, runAsGroup: 2000, supplementalGroups: [3000]}
      containers:
      - name: main
        image: busybox
        command: ["sh", "-c"]
        args: ["echo $(A) $(MISSING) $$(A)"]
        env:
        - {name: X, value: "pre-$(A)"}
        - {name: OPT, valueFrom: {configMapKeyRef: {name: nope, key: k, optional: true}}}
        envFrom: [{prefix: CFG_, configMapRef: {name: cfg}}, {configMapRef: {name: cfg}}]
        ports: [{containerPort: 8080, name: http, hostPort: 9090, hostIP: 127.0.0.1}]
        resources: {limits: {memory: 128Mi, cpu: 250m}, requests: {memory: 64Mi, cpu: 100m}}
        securityContext: {readOnlyRootFilesystem: true, allowPrivilegeEscalation: false,
                          capabilities: {add: [NET_ADMIN], drop: [ALL]}, seccompProfile: {type: Unconfined}}
        readinessProbe: {exec: {command: [cat, /ready]}, periodSeconds: 7, timeoutSeconds: 2, failureThreshold: 5,
                         initialDelaySeconds: 3}
---
apiVersion: v1
kind: Service
metadata: {name: api}
spec:
  type: NodePort
  selector: {app: api}
  ports: [{port: 80, targetPort: http, nodePort: 30080}, {port: 81, targetPort: 8081}]
---
apiVersion: v1
kind: Service
metadata: {name: internal}
spec:
  selector: {tier: x}
  ports: [{port: 5000}, {port: 8080, targetPort: 8080}]
"""


def test_deployment_plan():
    pods = plan(docs(DEP))
    assert [p.name for p in pods] == ["api-pod-0", "api-pod-1", "api-pod-2"]
    p = pods[0]
    assert sorted(p.aliases) == ["api", "internal"] and sorted(pods[2].aliases) == ["api", "internal"]
    ports = {(x["host_ip"], x["host_port"], x["container_port"]) for x in p.ports}
    # the hostPort as given; NodePort on every address; ClusterIP on loopback unless a hostPort has it already
    assert ports == {("127.0.0.1", 9090, 8080), ("", 30080, 8080), ("", 81, 8081), ("127.0.0.1", 5000, 5000)}
    assert not pods[1].ports or all(x["host_port"] == 9090 for x in pods[1].ports)  # Services: the first pod only
    name, body = p.containers[0]
    assert name == "main" and p.container_name(name) == "api-pod-0-main"
    assert body["Entrypoint"] == ["sh", "-c"] and body["Cmd"] == ["echo 1 $(MISSING) $(A)"]
    env = dict(e.split("=", 1) for e in body["Env"])
    assert env == {"CFG_A": "1", "CFG_B": "two", "A": "1", "B": "two", "X": "pre-1"}
    hc = body["HostConfig"]
    assert hc["NetworkMode"] == hc["IpcMode"] == "container:api-pod-0-infra"
    assert hc["Memory"] == 128 << 20 and hc["NanoCpus"] == 250_000_000 and hc["MemoryReservation"] == 64 << 20
    assert hc["CpuShares"] == 102 and hc["RestartPolicy"] == {"Name": "always"}
    assert body["User"] == "1000:2000" and hc["GroupAdd"] == ["3000"]
    assert hc["ReadonlyRootfs"] and hc["CapAdd"] == ["NET_ADMIN"] and hc["CapDrop"] == ["ALL"]
    assert hc["SecurityOpt"] == ["no-new-privileges", "seccomp=unconfined"]
    assert body["Healthcheck"] == {"Test": ["CMD", "cat", "/ready"], "Interval": 7_000_000_000,
                                   "Timeout": 2_000_000_000, "StartPeriod": 3_000_000_000, "Retries": 5}
    assert body["Labels"]["io.dockyard.pod"] == "api-pod-0" and body["Labels"]["io.dockyard.kube.workload"] == "api"


def test_statefulset_names_and_pod_restart_policy():
    sts = docs("""
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 2
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: busybox}]}
---
apiVersion: v1
kind: Pod
metadata: {name: once}
spec:
  restartPolicy: OnFailure
  containers: [{name: job, image: busybox}]
""")
    pods = plan(sts)
    assert [p.name for p in pods] == ["db-0", "db-1", "once"]
    assert pods[2].containers[0][1]["HostConfig"]["RestartPolicy"] == {"Name": "on-failure"}


@pytest.mark.parametrize("text,words", [
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i, stdin: true, "
     "lifecycle: {}}]}", "lifecycle is not supported"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i, env: [{name: E, "
     "valueFrom: {configMapKeyRef: {name: gone, key: k}}}]}]}", "ConfigMap 'gone' is not in the file"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i, volumeMounts: "
     "[{name: v, mountPath: /v, subPath: ../../etc}]}], volumes: [{name: v, emptyDir: {}}]}", "without '..'"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i}, {name: c, image: i}]}",
     "two containers are named"),
    ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {selector: {matchLabels: {a: b}}, template: "
     "{metadata: {labels: {a: c}}, spec: {containers: [{name: c, image: i}]}}}", "selector does not match"),
    ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {template: {spec: {restartPolicy: Never, "
     "containers: [{name: c, image: i}]}}}", "restartPolicy Always"),
    ("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {k: '***'}", "not valid base64"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {'../k': x}", "invalid key"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i, securityContext: "
     "{runAsNonRoot: true, runAsUser: 0}}]}", "runAsNonRoot"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i, imagePullPolicy: Sometimes}]}",
     "imagePullPolicy"),
])
def test_refusals_name_object_and_field(text, words):
    with pytest.raises(InvalidArgument) as e:
        plan(docs(text), "f.yaml")
    assert words in str(e.value) and "f.yaml" in str(e.value)


def test_expand_and_publish():
    assert expand("$(A)-$$(A)-$(B)-$", {"A": "x"}) == "x-$(A)-$(B)-$"
    assert parse_publish("8080:80") == {"host_ip": "", "host_port": 8080, "container_port": 80, "proto": "tcp"}
    assert parse_publish("127.0.0.1:53:53/udp")["host_ip"] == "127.0.0.1"
    for bad in ("80", "a:b", "1:2:3:4", "70000:80", "80:80/icmp"):
        with pytest.raises(InvalidArgument):
            parse_publish(bad)


def test_write_files_stays_inside_its_directory(tmp_path):
    top = tmp_path / "vol"
    top.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    write_files(str(top), {"a": (b"1", 0o644), "d/e/f": (b"2", 0o400)})
    assert (top / "a").read_bytes() == b"1" and (top / "d/e/f").read_bytes() == b"2"
    assert oct((top / "d/e/f").stat().st_mode & 0o777) == oct(0o400)
    os.symlink(str(outside), top / "link")
    os.symlink(str(outside / "x"), top / "file-link")
    for rel in ("link/x", "file-link", "../outside/x", "a"):
        with pytest.raises((DockyardError, OSError)):
            write_files(str(top), {rel: (b"evil", 0o644)})
    assert os.listdir(outside) == [] and (top / "a").read_bytes() == b"1"
