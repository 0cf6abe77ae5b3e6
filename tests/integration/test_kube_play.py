"""kube play / kube down / pod ls|inspect|rm on real containers: a pod is an infra container
whose network namespace its containers join (they reach each other on localhost), init
containers run first, ConfigMaps/Secrets reach env and files, Services publish on loopback,
and down leaves nothing. Hostile manifests are refused before anything is made."""

from __future__ import annotations

import json
import os
import socket
import urllib.request

import pytest
from support import container_processes, mounts_under, no_traceback, wait_for


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(port: int, path: str = "/") -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as r:
        return r.read().decode()


def fetched(port: int, path: str = "/"):
    def go():
        try:
            return fetch(port, path)
        except OSError:
            return None
    return go


POD = """
apiVersion: v1
kind: ConfigMap
metadata: {name: site}
data:
  index.html: "hello from kube play\\n"
  GREETING: hi
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
type: Opaque
data:
  password: czNjcjN0
---
apiVersion: v1
kind: Pod
metadata:
  name: webpod
  labels: {app: web}
spec:
  restartPolicy: Always
  initContainers:
  - name: first
    image: busybox
    command: ["sh", "-c", "echo one >> /work/order"]
    volumeMounts: [{name: work, mountPath: /work}]
  - name: second
    image: busybox
    command: ["sh", "-c", "echo two >> /work/order"]
    volumeMounts: [{name: work, mountPath: /work}]
  containers:
  - name: web
    image: busybox
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    ports: [{containerPort: 8080, name: http}]
    resources: {limits: {memory: 64Mi, cpu: 500m}}
    livenessProbe: {exec: {command: ["true"]}, periodSeconds: 1}
    volumeMounts: [{name: site, mountPath: /www}, {name: work, mountPath: /work}]
  - name: side
    image: busybox
    command: ["sh", "-c", "while :; do wget -q -O /tmp/got http://localhost:8080/; sleep 0.2; done"]
    envFrom: [{configMapRef: {name: site}}]
    env:
    - {name: PASSWORD, valueFrom: {secretKeyRef: {name: creds, key: password}}}
    - {name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: BOTH, value: "$(GREETING)-$(POD)"}
    securityContext: {runAsUser: 65534, runAsGroup: 65534, readOnlyRootFilesystem: false,
                      allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
    volumeMounts: [{name: creds, mountPath: /etc/creds}, {name: site, mountPath: /etc/greeting, subPath: GREETING}]
  volumes:
  - {name: site, configMap: {name: site}}
  - {name: creds, secret: {secretName: creds, defaultMode: 0400}}
  - {name: work, emptyDir: {}}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: PORT, targetPort: http}]
"""


def test_pod_play_inspect_down(dy, busybox, tmp_path):
    port = free_port()
    f = tmp_path / "pod.yaml"
    f.write_text(POD.replace("PORT", str(port)))
    p = dy("kube", "play", str(f), timeout=90)
    assert p.out.split() == ["webpod"]
    # the Service's port answers on loopback (a ClusterIP's place on one host)
    assert wait_for(fetched(port), what="the pod's web server") == "hello from kube play\n"
    ps = {line.split()[0]: line for line in dy("ps", "-a", "--format", "{{.Names}} {{.Status}} {{.Ports}}").out.splitlines()}
    assert set(ps) == {"webpod-infra", "webpod-first", "webpod-second", "webpod-web", "webpod-side"}
    assert f"127.0.0.1:{port}->8080/tcp" in ps["webpod-infra"]
    # init containers ran first, in order, and finished
    assert dy("exec", "webpod-web", "cat", "/work/order").out == "one\ntwo\n"
    assert "Exited (0)" in ps["webpod-first"] and "Exited (0)" in ps["webpod-second"]
    # the sidecar reached the web server on localhost: one network namespace
    wait_for(lambda: dy("exec", "webpod-side", "cat", "/tmp/got", check=False).out == "hello from kube play\n",
             what="the sidecar's fetch over localhost")
    env = dy("exec", "webpod-side", "sh", "-c", 'echo "$GREETING $PASSWORD $POD $BOTH"; id -u; hostname').out.split()
    assert env == ["hi", "s3cr3t", "webpod", "hi-webpod", "65534", "webpod"]
    # 0400 and owned by root, as the kubelet writes it without fsGroup: the pod's user 65534 cannot read it
    assert dy("exec", "webpod-side", "cat", "/etc/creds/password", check=False).returncode != 0
    assert dy("exec", "-u", "0", "webpod-side", "cat", "/etc/creds/password", "/etc/greeting").out == "s3cr3thi"
    assert dy("exec", "webpod-side", "stat", "-c", "%a", "/etc/creds/password").out.strip() == "400"
    # files of a configMap are read-only in the container
    assert dy("exec", "webpod-web", "sh", "-c", "echo x > /www/index.html", check=False).returncode != 0
    web = json.loads(dy("inspect", "webpod-web").out)[0]
    assert web["HostConfig"]["Memory"] == 64 << 20
    assert web["HostConfig"]["NetworkMode"] == "container:webpod-infra"
    assert web["HostConfig"]["IpcMode"] == "container:webpod-infra"
    assert web["Config"]["Healthcheck"]["Test"] == ["CMD", "true"]
    assert web["Config"]["Labels"]["io.dockyard.pod"] == "webpod"
    wait_for(lambda: json.loads(dy("inspect", "webpod-web").out)[0]["State"].get("Health", {}).get("Status")
             == "healthy", what="the liveness probe as a health check")
    side = json.loads(dy("inspect", "webpod-side").out)[0]
    assert side["HostConfig"]["CapDrop"] == ["ALL"] and "no-new-privileges" in side["HostConfig"]["SecurityOpt"]
    ls = dy("pod", "ls").out.splitlines()
    assert ls[0].split()[:3] == ["POD", "ID", "NAME"] and ls[1].split()[1:3] == ["webpod", "Running"]
    doc = json.loads(dy("pod", "inspect", "webpod").out)[0]
    assert doc["State"] == "Running" and doc["NumContainers"] == 5
    assert sorted(doc["Volumes"]) == ["webpod-creds", "webpod-site", "webpod-work"]
    # playing again is refused without --replace, with a clear message
    again = dy("kube", "play", str(f), check=False)
    assert again.returncode == 1 and "pod webpod exists" in again.err
    no_traceback(again)
    # pod rm without -f refuses a running pod
    rm = dy("pod", "rm", "webpod", check=False)
    assert rm.returncode == 1 and "running" in rm.err
    assert dy("kube", "down", str(f)).out.split() == ["webpod"]
    assert dy("ps", "-aq").out == "" and dy("pod", "ls", "-q").out == ""
    assert dy("volume", "ls", "-q").out == ""
    with pytest.raises(OSError):
        fetch(port)
    assert container_processes(str(tmp_path)) == []
    assert [m for m in mounts_under(str(tmp_path)) if "/containers/" in m] == []


DEPLOYMENT = """
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: shared-data}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  replicas: 2
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      containers:
      - name: main
        image: busybox
        command: ["sh", "-c", "echo $(POD_NAME) >> /data/who; mkdir -p /www; hostname > /www/index.html; exec httpd -f -p 80 -h /www"]
        env: [{name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]
        volumeMounts: [{name: data, mountPath: /data}, {name: mem, mountPath: /scratch}]
      volumes:
      - {name: data, persistentVolumeClaim: {claimName: shared-data}}
      - {name: mem, emptyDir: {medium: Memory, sizeLimit: 16Mi}}
"""


def test_deployment_replicas_publish_replace_and_claims(dy, busybox, tmp_path):
    port = free_port()
    f = tmp_path / "dep.yaml"
    f.write_text(DEPLOYMENT)
    out = dy("kube", "play", "--publish", f"127.0.0.1:{port}:80", str(f), timeout=90).out.split()
    assert out == ["app-pod-0", "app-pod-1"]
    assert wait_for(fetched(port), what="the first replica") == "app-pod-0\n"
    wait_for(lambda: sorted(dy("run", "--rm", "-v", "shared-data:/d", "busybox", "cat", "/d/who").out.split())
             == ["app-pod-0", "app-pod-1"], what="both replicas on the claim's volume")
    assert "tmpfs" in dy("exec", "app-pod-1-main", "sh", "-c", "grep ' /scratch ' /proc/mounts").out
    assert dy("kube", "play", "--replace", "--publish", f"127.0.0.1:{port}:80", str(f), timeout=90).out.split() == \
        ["app-pod-0", "app-pod-1"]
    assert wait_for(fetched(port), what="the replaced replica") == "app-pod-0\n"
    assert sorted(dy("pod", "ls", "-q").out.split()) == ["app-pod-0", "app-pod-1"]
    assert dy("pod", "rm", "-f", "app-pod-1").out.split() == ["app-pod-1"]
    assert dy("pod", "ls", "-q").out.split() == ["app-pod-0"]
    dy("kube", "down", str(f))
    assert dy("ps", "-aq").out == ""
    assert dy("volume", "ls", "-q").out.split() == ["shared-data"]  # a claim's data stays, as podman's


@pytest.mark.parametrize("doc,words", [
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: x}\n---\napiVersion: v1\nkind: Pod\n"
     "metadata: {name: p}\nspec:\n  containers: [{name: c, image: busybox, volumeMounts: [{name: v, mountPath: /v}]}]\n"
     "  volumes: [{name: v, configMap: {name: c, items: [{key: a, path: ../../../../CANARY}]}}]\n", "without '..'"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: busybox, "
     "volumeMounts: [{name: v, mountPath: /v}]}]\n  volumes: [{name: v, hostPath: {path: /}}]\n", "hostPath"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: busybox, "
     "volumeMounts: [{name: v, mountPath: /v}]}]\n  volumes: [{name: v, persistentVolumeClaim: {claimName: ../x}}]\n",
     "claimName"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  hostNetwork: true\n  containers: [{name: c, image: busybox}]\n",
     "hostNetwork"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: ../../p}\nspec:\n  containers: [{name: c, image: busybox}]\n", "metadata.name"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: busybox, "
     "securityContext: {seccompProfile: {type: Localhost, localhostProfile: x}}}]\n", "Localhost"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: busybox, "
     "livenessProbe: {httpGet: {port: 80}}}]\n", "exec probes"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: localhost/absent:1, "
     "imagePullPolicy: Never}]\n", "imagePullPolicy is Never"),
    ("apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec: {}\n", "not played"),
    ("{{{", "not valid YAML"),
])
def test_hostile_or_unsupported_manifests_are_refused_whole(dy, busybox, tmp_path, doc, words):
    canary = tmp_path / "CANARY"
    f = tmp_path / "bad.yaml"
    f.write_text(doc)
    p = dy("kube", "play", str(f), check=False)
    assert p.returncode == 1 and words in p.err, p.err
    no_traceback(p)
    assert not canary.exists() and not os.path.exists("/CANARY")
    assert dy("ps", "-aq").out == "" and dy("volume", "ls", "-q").out == ""


def test_failed_init_container_stops_the_pod_and_says_so(dy, busybox, tmp_path):
    f = tmp_path / "init.yaml"
    f.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: ip}\nspec:\n  restartPolicy: Never\n"
                 "  initContainers: [{name: bad, image: busybox, command: [sh, -c, 'echo broken; exit 3']}]\n"
                 "  containers: [{name: main, image: busybox, command: [sleep, '100']}]\n")
    p = dy("kube", "play", str(f), check=False)
    assert p.returncode == 1 and "init container bad exited with code 3" in p.err
    assert "broken" in dy("logs", "ip-bad").out
    names = dy("ps", "-a", "--format", "{{.Names}}").out.split()
    assert "ip-main" not in names
    dy("pod", "rm", "-f", "ip")
    assert dy("ps", "-aq").out == ""
