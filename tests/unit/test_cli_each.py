"""cli/each.py (the per-argument loop of rm, stop, volume rm, …) and cli/flags.filter_args."""

from __future__ import annotations

import threading
import time

import pytest

from dockyard.cli.each import each, outcomes
from dockyard.cli.flags import filter_args
from dockyard.errors import InvalidArgument, NotFound


def _fn(ref):
    if ref.startswith("bad"):
        raise NotFound(f"No such container: {ref}")
    return None if ref == "quiet" else ref.upper()


def test_each_prints_results_and_errors_and_goes_on(capsys):
    assert each(["a", "bad1", "quiet", "b"], _fn) == 1
    out, err = capsys.readouterr()
    assert out == "A\nB\n"
    assert err == "dockyard: error: No such container: bad1\n"


def test_each_all_good_is_0_and_echo_prints_the_names(capsys):
    assert each(["a", "quiet"], _fn, echo=True) == 0
    assert capsys.readouterr().out == "a\nquiet\n"


def test_a_non_dockyard_error_is_not_swallowed():
    def boom(ref):
        raise RuntimeError(ref)

    with pytest.raises(RuntimeError):
        each(["x"], boom)


def test_parallel_runs_at_once_and_keeps_argument_order():
    started, gate = [], threading.Barrier(3, timeout=10)

    def slow(ref):
        started.append(ref)
        gate.wait()  # only passes when all three run together
        time.sleep(0.05 if ref == "a" else 0)
        return ref

    got = list(outcomes(["a", "b", "c"], slow, parallel=True))
    assert [r for r, _o, _e in got] == ["a", "b", "c"]
    assert sorted(started) == ["a", "b", "c"]


def test_serial_without_parallel():
    seen = []
    list(outcomes(["a", "b"], lambda r: seen.append((r, threading.current_thread() is threading.main_thread()))))
    assert seen == [("a", True), ("b", True)]


def test_filter_args():
    assert filter_args(["name=a", "label=x=y", "name=b"], ("name", "label")) == {"name": ["a", "b"], "label": ["x=y"]}
    with pytest.raises(InvalidArgument, match=r"bad format of filter \(expected name=value\): name"):
        filter_args(["name"], ("name",))
    with pytest.raises(InvalidArgument, match="Invalid filter 'foo'"):
        filter_args(["foo=1"], ("name",))


def test_filter_args_checks_in_order():
    def check(k, v):
        if v == "bad":
            raise InvalidArgument(f"invalid filter '{k}={v}'")

    with pytest.raises(InvalidArgument, match="invalid filter 'name=bad'"):
        filter_args(["name=bad", "foo=1"], ("name",), check)
