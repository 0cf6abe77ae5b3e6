"""The README's main job: build the example app and run it."""

import os

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_build_and_run_the_example_app(dy, busybox):
    p = dy("build", "-t", "example-app:1", os.path.join(REPO, "examples", "app"), timeout=300)
    assert "Successfully tagged example-app:1" in p.out
    out = dy("run", "--rm", "example-app:1", "sh", "server.sh", "check", timeout=60).out
    assert out == "<h1>hello from dockyard</h1><p>version 1.0.0</p>\n"
    assert dy("run", "--rm", "example-app:1", "sh", "-c", "id -un; touch /app/x 2>/dev/null || echo ro").out == \
        "appuser\nro\n"
