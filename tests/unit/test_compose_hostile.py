"""Hostile Compose files: `compose config` must refuse them quickly with a clear message, run
nothing, and leave the host as it was (checked with canaries after each attack)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def config(cwd: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd), "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "dockyard", "compose", *args, "config", "--format", "json"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_billion_laughs_is_refused_quickly(tmp_path):
    lines = ["x-a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"x-a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    lines += ["services:", "  s:", "    image: busybox", "    labels:", "      bomb: *a9"]
    (tmp_path / "compose.yaml").write_text("\n".join(lines) + "\n")
    t0 = time.monotonic()
    r = config(tmp_path)
    assert time.monotonic() - t0 < 30
    assert r.returncode == 1 and "exceeds maximum node visit limit" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("text", [
    "services:\n  s:\n    image: busybox\n    x-deep: " + "[" * 3000 + "]" * 3000 + "\n",
    "services:\n  s:\n    image: busybox\n    x-deep: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n",
])
def test_deep_nesting_is_refused_without_a_traceback(tmp_path, text):
    (tmp_path / "compose.yaml").write_text(text)
    r = config(tmp_path)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "nest" in r.stderr


def test_interpolation_runs_nothing_and_config_creates_nothing(tmp_path):
    canary = tmp_path / "canary"
    (tmp_path / "compose.yaml").write_text(f"""
services:
  s:
    image: "busybox${{X:-$(touch {canary})}}"
    command: "`touch {canary}` $$(touch {canary})"
    volumes: ["./made-by-config:/data", "/nonexistent-host-dir-{os.getpid()}:/x"]
    env_file: [{{path: ./absent.env, required: false}}]
""")
    r = config(tmp_path)
    assert r.returncode == 0, r.stderr
    assert not canary.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["compose.yaml"]
    assert not os.path.exists(f"/nonexistent-host-dir-{os.getpid()}")


def test_include_cycle_and_self_extends_terminate(tmp_path):
    (tmp_path / "compose.yaml").write_text("include: [compose.yaml]\nservices: {s: {image: busybox}}\n")
    r = config(tmp_path, timeout=30)
    assert r.returncode == 1 and "include cycle detected" in r.stderr
    (tmp_path / "compose.yaml").write_text("services: {s: {image: busybox, extends: s}}\n")
    r = config(tmp_path, timeout=30)
    assert r.returncode == 1 and "Circular reference" in r.stderr and "Traceback" not in r.stderr


def test_output_file_goes_through_a_link_and_refuses_what_is_not_a_file(tmp_path):
    (tmp_path / "compose.yaml").write_text("services: {s: {image: busybox}}\n")
    target = tmp_path / "real.json"
    target.write_text("old")
    (tmp_path / "link.json").symlink_to(target)
    r = subprocess.run([sys.executable, "-m", "dockyard", "compose", "config", "-o", "link.json"], cwd=tmp_path,
                       env={"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO)}, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "link.json").is_symlink() and "name:" in target.read_text()
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    r = subprocess.run([sys.executable, "-m", "dockyard", "compose", "config", "-o", str(fifo)], cwd=tmp_path,
                       env={"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
                       timeout=30)
    assert r.returncode != 0 and "not a regular file" in r.stderr
    assert fifo.exists() and not fifo.is_file()


@pytest.mark.parametrize("text,message", [
    ("services: {s: {image: busybox}}\n\x00", "failed to parse"),
    ("services: {s: {image: !!python/object/apply:os.system [touch /tmp/x]}}", "failed to parse"),
    ("services: {s: {image: busybox, ports: ['99999:80']}}", "invalid hostPort"),
    ("services: {s: {image: busybox, mem_limit: 1e400}}", "mem_limit"),
    ("services: {s: {image: busybox, cpus: 1e39}}", "out of range"),
    ("services: {s: {image: busybox, stop_grace_period: 5x}}", "unknown unit"),
])
def test_bad_values_are_clear_errors(tmp_path, text, message):
    (tmp_path / "compose.yaml").write_text(text)
    r = config(tmp_path)
    assert r.returncode == 1 and message in r.stderr and "Traceback" not in r.stderr, r.stderr
