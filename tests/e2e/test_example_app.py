"""The README's main job: build the example app and run it."""

import os
import socket
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_build_and_run_the_example_app(dy, busybox):
    p = dy("build", "-t", "example-app:1", os.path.join(REPO, "examples", "app"), timeout=300)
    assert "Successfully tagged example-app:1" in p.out
    out = dy("run", "--rm", "example-app:1", "sh", "server.sh", "check", timeout=60).out
    assert out == "<h1>hello from dockyard</h1><p>version 1.0.0</p>\n"
    assert dy("run", "--rm", "example-app:1", "sh", "-c", "id -un; touch /app/x 2>/dev/null || echo ro").out == \
        "appuser\nro\n"


def test_the_example_app_published_like_the_seed_says(dy, busybox, name):
    """`docker run -d -p 3000:3000 --name my-app my-image:latest`, then a browser on localhost."""
    dy("build", "-q", "-t", "example-app:1", os.path.join(REPO, "examples", "app"), timeout=300)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dy("run", "-d", "-p", f"{port}:3000", "--read-only", "--name", name, "example-app:1")
    deadline = time.monotonic() + 15
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                assert r.read().decode() == "<h1>hello from dockyard</h1><p>version 1.0.0</p>\n"
                break
        except OSError:
            assert time.monotonic() < deadline, "the published app never answered"
            time.sleep(0.1)
    assert f"0.0.0.0:{port}->3000/tcp" in dy("ps").out
    dy("rm", "-f", name)
