"""Fifty clients at once on the API socket, each creating, starting, waiting for and removing its
own container, while ten more race to create one name: no container is lost or made twice, every
answer is right, and nothing is left."""

from __future__ import annotations

import json
import threading
import time

from apiclient import UnixHTTP, api  # noqa: F401 - api is a fixture
from support import assert_nothing_left

CLIENTS = 50
RACERS = 10


def _call(sock: str, method: str, path: str, body=None, timeout: float = 120):
    conn = UnixHTTP(sock, timeout=timeout)
    try:
        data = None if body is None else json.dumps(body).encode()
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def test_fifty_clients_at_once(api, dy, tmp_path):
    results: dict = {}
    errors: list = []
    barrier = threading.Barrier(CLIENTS + RACERS)

    def client(i: int) -> None:
        try:
            barrier.wait(30)
            name = f"conc-{i}"
            status, out = _call(api.sock, "POST", f"/v1.44/containers/create?name={name}",
                                {"Image": "busybox", "Cmd": ["echo", f"hello {i}"], "HostConfig": {"NetworkMode": "none"}})
            assert status == 201, (i, status, out)
            cid = json.loads(out)["Id"]
            status, out = _call(api.sock, "POST", f"/v1.44/containers/{cid}/start")
            assert status == 204, (i, status, out)
            status, out = _call(api.sock, "POST", f"/v1.44/containers/{cid}/wait")
            assert status == 200 and json.loads(out)["StatusCode"] == 0, (i, status, out)
            status, out = _call(api.sock, "GET", f"/v1.44/containers/{cid}/json")
            doc = json.loads(out)
            assert status == 200 and doc["Name"] == "/" + name and doc["State"]["Status"] == "exited", (i, out)
            status, out = _call(api.sock, "GET", f"/v1.44/containers/{cid}/logs?stdout=1")
            assert status == 200 and out[8:] == f"hello {i}\n".encode(), (i, out)
            results[i] = cid
            status, out = _call(api.sock, "DELETE", f"/v1.44/containers/{cid}")
            assert status == 204, (i, status, out)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    race: list = []

    def racer(i: int) -> None:
        try:
            barrier.wait(30)
            status, out = _call(api.sock, "POST", "/v1.44/containers/create?name=the-one",
                                {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"NetworkMode": "none"}})
            race.append((status, json.loads(out)))
        except BaseException as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    threads += [threading.Thread(target=racer, args=(i,)) for i in range(RACERS)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(150)
    took = time.monotonic() - t0
    assert not errors, errors[:5]
    assert len(results) == CLIENTS and len(set(results.values())) == CLIENTS
    assert sorted(s for s, _ in race) == [201] + [409] * (RACERS - 1), race
    winner = next(doc["Id"] for s, doc in race if s == 201)
    assert all("the-one" in doc["message"] for s, doc in race if s == 409)
    listed = json.loads(_call(api.sock, "GET", "/v1.44/containers/json?all=1")[1])
    assert [c["Id"] for c in listed] == [winner]  # each client's own container is gone, the winner stays
    assert _call(api.sock, "DELETE", f"/v1.44/containers/{winner}")[0] == 204
    assert "Traceback" not in api.output()
    assert took < 120, took
    assert_nothing_left(dy, tmp_path)
