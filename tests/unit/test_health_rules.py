"""engine/health.py's pure parts against moby's daemon/health.go rules."""

import pytest

from dockyard.engine import health as H
from dockyard.errors import InvalidArgument

S = 1_000_000_000


@pytest.mark.parametrize("ns, text", [(0, "0s"), (30 * S, "30s"), (60 * S, "1m0s"), (90 * S, "1m30s"),
                                      (S // 2, "500ms"), (1_500_000_000, "1.5s"), (7200 * S, "2h0m0s"),
                                      (1_000_000, "1ms"), (1500, "1.5µs"), (12, "12ns"), (300_000_000, "300ms")])
def test_go_duration(ns, text):
    assert H.go_duration(ns) == text


def test_merge_takes_the_image_fields_the_container_leaves_empty():
    image = {"Test": ["CMD", "true"], "Interval": 5 * S, "Retries": 2}
    assert H.merge(None, image) == image
    assert H.merge({"Retries": 7}, image) == {"Test": ["CMD", "true"], "Interval": 5 * S, "Retries": 7}
    assert H.merge({"Test": ["NONE"]}, image) == {"Test": ["NONE"], "Interval": 5 * S, "Retries": 2}
    assert H.merge({"Test": ["CMD-SHELL", "x"]}, None) == {"Test": ["CMD-SHELL", "x"]}
    assert not H.probed(H.merge({"Test": ["NONE"]}, image))
    assert H.probed(H.merge({"Retries": 1}, image))


@pytest.mark.parametrize("hc, message", [
    ({"Interval": 10}, "Interval in Healthcheck cannot be less than 1ms"),
    ({"Timeout": -5}, "Timeout in Healthcheck cannot be less than 1ms"),
    ({"StartPeriod": 999_999}, "StartPeriod in Healthcheck cannot be less than 1ms"),
    ({"StartInterval": 1}, "StartInterval in Healthcheck cannot be less than 1ms"),
    ({"Retries": -1}, "Retries in Healthcheck cannot be negative"),
    ({"Test": ["HTTP", "x"]}, "unknown healthcheck type 'HTTP'"),
    ({"Test": ["CMD"]}, "CMD needs a command"),
    ({"Test": ["CMD-SHELL", "a", "b"]}, "exactly one command string"),
    ({"Test": "true"}, "expected an array of strings"),
    ({"Interval": "1s"}, "expected an integer"),
    ([], "expected an object"),
])
def test_check_refuses_what_dockerd_refuses(hc, message):
    with pytest.raises(InvalidArgument, match=message):
        H.check(hc)


def test_check_keeps_set_fields():
    assert H.check({"Test": ["CMD", "true"], "Interval": S, "Timeout": 0, "Retries": 0}) == \
        {"Test": ["CMD", "true"], "Interval": S}
    assert H.check(None) is None


def _result(code):
    return {"Start": "s", "End": "e", "ExitCode": code, "Output": ""}


def test_results_streak_retries_and_log_of_five():
    hc = {"Retries": 2}
    h = H.initial(None)
    h = H.apply_result(h, _result(1), hc, started_at=0, probe_start=100)
    assert (h["Status"], h["FailingStreak"]) == ("starting", 1)
    h = H.apply_result(h, _result(1), hc, 0, 101)
    assert (h["Status"], h["FailingStreak"]) == ("unhealthy", 2)
    h = H.apply_result(h, _result(0), hc, 0, 102)
    assert (h["Status"], h["FailingStreak"]) == ("healthy", 0)
    h = H.apply_result(h, _result(-1), hc, 0, 103)
    assert (h["Status"], h["FailingStreak"]) == ("healthy", 1)  # healthy until Retries failures
    for i in range(4):
        h = H.apply_result(h, _result(1), hc, 0, 104 + i)
    assert len(h["Log"]) == 5 and h["Status"] == "unhealthy"


def test_start_period_failures_are_not_counted_while_starting():
    hc = {"StartPeriod": 10 * S, "Retries": 1}
    h = H.apply_result(H.initial(None), _result(1), hc, started_at=100, probe_start=105)
    assert (h["Status"], h["FailingStreak"], len(h["Log"])) == ("starting", 0, 1)
    h = H.apply_result(h, _result(1), hc, started_at=100, probe_start=111)
    assert (h["Status"], h["FailingStreak"]) == ("unhealthy", 1)
    # once healthy, a failure inside the start period counts
    h = H.apply_result(H.initial(None), _result(0), hc, 100, 101)
    h = H.apply_result(h, _result(1), hc, 100, 102)
    assert h["Status"] == "unhealthy"


def test_restart_keeps_the_log_and_resets_status():
    h = {"Status": "unhealthy", "FailingStreak": 4, "Log": [_result(1)]}
    assert H.initial(h) == {"Status": "starting", "FailingStreak": 0, "Log": [_result(1)]}


def test_next_interval_follows_moby(monkeypatch):
    now = 1000.0
    monkeypatch.setattr(H.time, "time", lambda: now)
    assert H.next_interval({}, now, "starting") == 30.0  # defaults: 30s, no start period
    hc = {"Interval": 10 * S, "StartPeriod": 60 * S, "StartInterval": 2 * S}
    assert H.next_interval(hc, now, "starting") == 2.0  # start interval while starting
    assert H.next_interval(hc, now, "healthy") == 10.0
    assert H.next_interval(hc, now - 55, "starting") == pytest.approx(5.0)  # the period's end, at once
    assert H.next_interval(hc, now - 61, "starting") == 10.0
    assert H.next_interval({"StartPeriod": 60 * S}, now, "starting") == 5.0  # the default start interval
    assert H.next_interval({"StartPeriod": 60 * S, "Interval": 30 * S}, now - 40, "starting") == pytest.approx(20.0)
