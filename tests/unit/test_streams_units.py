"""Pure pieces of attach and events: docker's detach-key syntax and its scanner, the events
journal's record shape, its filters and time arguments."""

from __future__ import annotations

import json
import os
import time

import pytest

from dockyard.engine import events
from dockyard.engine.attach import DetachScanner, parse_detach_keys
from dockyard.errors import InvalidArgument
from dockyard.state import journal


def test_detach_keys_syntax():
    assert parse_detach_keys("ctrl-p,ctrl-q") == b"\x10\x11"
    assert parse_detach_keys("ctrl-a") == b"\x01"
    assert parse_detach_keys("a,ctrl-@,ctrl-[,ctrl-_") == b"a\x00\x1b\x1f"
    assert parse_detach_keys("CTRL-X,y") == b"\x18y"
    for bad in ("", "ctrl-", "ctrl-1", "ab", "ctrl-p,,q", "ctrl-aa"):
        with pytest.raises(InvalidArgument, match="Invalid detach keys"):
            parse_detach_keys(bad)


def test_detach_scanner_across_reads():
    s = DetachScanner(b"\x10\x11")
    assert s.feed(b"ab\x10") == (b"ab", False)  # held: it may start the sequence
    assert s.feed(b"c") == (b"\x10c", False)  # it did not: passed on, in order
    assert s.feed(b"x\x10") == (b"x", False)
    assert s.feed(b"\x11rest") == (b"", True)
    s = DetachScanner(b"\x10\x10\x11")
    assert s.feed(b"\x10\x10\x10\x11") == (b"\x10", True)  # a restart inside a near match
    s = DetachScanner(b"\x01")
    assert s.feed(b"abc") == (b"abc", False)
    assert s.feed(b"d\x01e") == (b"d", True)


def test_journal_lines_and_rotation(tmp_path, monkeypatch):
    root = str(tmp_path)
    journal.append(root, "container", "die", "c" * 64, {"image": "busybox", "name": "x", "exitCode": "3"})
    journal.append(root, "network", "create", "n1", {"name": "net", "type": "bridge"})
    lines = [json.loads(x) for x in open(journal.path_in(root))]
    die, net = lines
    assert die["status"] == "die" and die["id"] == "c" * 64 and die["from"] == "busybox"
    assert die["Actor"] == {"ID": "c" * 64, "Attributes": {"image": "busybox", "name": "x", "exitCode": "3"}}
    assert die["scope"] == "local" and die["time"] == die["timeNano"] // 10**9
    assert "status" not in net and net["Type"] == "network"
    assert os.stat(journal.path_in(root)).st_mode & 0o777 == 0o600
    monkeypatch.setattr(journal, "MAX_BYTES", 10)
    journal.append(root, "volume", "create", "v", {"driver": "local"})
    assert os.path.exists(journal.path_in(root) + ".1")
    journal.append(root, "volume", "destroy", "v", {"driver": "local"})
    assert [json.loads(x)["Action"] for x in open(journal.path_in(root))] == ["destroy"]
    journal.append("/nonexistent/dir", "volume", "create", "v")  # never fails the operation


def _ev(typ, action, actor, **attrs):
    return {"Type": typ, "Action": action, "Actor": {"ID": actor, "Attributes": attrs}, "scope": "local"}


def test_filters_as_docker():
    die = _ev("container", "die", "abc123", image="busybox", name="web", tier="db")
    exe = _ev("container", "exec_start: sh -c true", "abc123", image="busybox", name="web")
    net = _ev("network", "connect", "n1", container="abc123", name="front", type="bridge")
    assert events.matches(die, {})
    assert events.matches(die, {"type": ["container", "image"], "event": ["die"]})
    assert not events.matches(die, {"type": ["image"]})
    assert events.matches(exe, {"event": ["exec_start"]})
    assert events.matches(die, {"container": ["web"]}) and events.matches(die, {"container": ["abc"]})
    assert not events.matches(die, {"container": ["other"]})
    assert events.matches(die, {"label": ["tier=db"]}) and events.matches(die, {"label": ["tier"]})
    assert not events.matches(die, {"label": ["tier=web"]})
    assert events.matches(die, {"image": ["busybox"]})
    assert events.matches(net, {"network": ["front"]}) and not events.matches(die, {"network": ["front"]})
    with pytest.raises(InvalidArgument, match="Invalid filter 'nope'"):
        events.check_filters({"nope": ["1"]})
    with pytest.raises(InvalidArgument):
        events.check_filters({"type": ["spaceship"]})


def test_times():
    now = 1_700_000_000.0
    assert events.parse_time("1700000000.5", now) == 1700000000.5
    assert events.parse_time("10m", now) == now - 600
    assert events.parse_time("1h30m", now) == now - 5400
    assert events.parse_time("0s", now) == now
    assert abs(events.parse_time("2023-11-14T22:13:20Z", now) - 1_700_000_000) < 1
    assert events.parse_time(None) is None and events.parse_time("") is None
    with pytest.raises(InvalidArgument, match="failed to parse value as time or duration"):
        events.parse_time("yesterday")
    assert abs(events.parse_time("0s") - time.time()) < 5
