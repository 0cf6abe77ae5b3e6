"""Flag parsing, env files, rendering helpers: the CLI's small parts."""

import pytest

from dockyard.cli.flags import BOOL, LIST, STR, Flag, UsageError, parse
from dockyard.cli.render import human_duration, human_size, parse_rfc3339
from dockyard.units import binary_size
from dockyard.cli.run import env_from_args

FLAGS = [Flag("-i,--interactive"), Flag("-t,--tty"), Flag("--rm"), Flag("--name", STR), Flag("-e,--env", LIST),
         Flag("-u,--user", STR), Flag("-d,--detach", BOOL)]


def test_docker_style_flags():
    o = parse(FLAGS, ["-it", "--rm=true", "-eA=1", "-e", "B=2", "--env=C=3", "--name", "x", "img", "sh", "-c", "-e"],
              interspersed=False)
    assert o.interactive and o.tty and o.rm and o.name == "x"
    assert o.env == ["A=1", "B=2", "C=3"]
    assert o.args == ["img", "sh", "-c", "-e"]
    assert parse(FLAGS, ["--rm=false", "img"]).rm is False
    assert parse(FLAGS, ["-u=1000", "img"]).user == "1000"


@pytest.mark.parametrize("argv, msg", [
    (["--nope"], "unknown flag: --nope"),
    (["-x"], "unknown shorthand flag: 'x' in -x"),
    (["--name"], "flag needs an argument"),
    (["--rm=maybe"], "invalid argument"),
])
def test_flag_errors(argv, msg):
    with pytest.raises(UsageError, match=msg):
        parse(FLAGS, argv)


def test_env_file(tmp_path, monkeypatch):
    f = tmp_path / "env"
    f.write_text("# comment\n\nA=1\n  B=two words\nFROM_HOST\nUNSET_HERE\n")
    monkeypatch.setenv("FROM_HOST", "h")
    monkeypatch.delenv("UNSET_HERE", raising=False)
    monkeypatch.setenv("X", "y")
    assert env_from_args(["X", "C=3"], [str(f)]) == ["A=1", "B=two words", "FROM_HOST=h", "X=y", "C=3"]
    f.write_text("BAD NAME=1\n")
    with pytest.raises(Exception, match="whitespaces"):
        env_from_args([], [str(f)])


@pytest.mark.parametrize("secs, text", [
    (0.2, "Less than a second"), (1, "1 second"), (45, "45 seconds"), (90, "About a minute"),
    (600, "10 minutes"), (3600, "About an hour"), (5 * 3600, "5 hours"), (3 * 86400, "3 days"),
    (20 * 86400, "2 weeks"), (90 * 86400, "3 months"), (800 * 86400, "2 years"),
])
def test_human_duration(secs, text):
    assert human_duration(secs) == text


def test_sizes_and_tables():
    assert human_size(4_261_000) == "4.261MB" or human_size(4_261_000) == "4.26MB"
    assert human_size(999) == "999B"
    assert binary_size(64 * 1024 * 1024) == "64MiB" and binary_size(1536) == "1.5KiB"
    assert parse_rfc3339("1970-01-01T00:01:00.5Z") == 60.5
    assert parse_rfc3339("0001-01-01T00:00:00Z") == 0.0
