"""Dockerfile parser conformance.

``data/dockerfiles/valid/NAME.Dockerfile`` parses to ``NAME.json`` (``Dockerfile.to_dict()``),
with ``NAME.args.json`` as build args when present, for target and build platform linux/amd64.
``data/dockerfiles/invalid/NAME.Dockerfile`` starts with ``# error: <message>``: the exact
message (file, line, reason) the parser must raise. The comment is line 1 of the file.

To regenerate expectations after a deliberate change, run this file with ``--regen`` and review
the diff by hand: the JSON files are the spec, not a snapshot.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from dockyard import errors
from dockyard.builder import dockerfile as D

DATA = Path(__file__).parent / "data" / "dockerfiles"
VALID = sorted((DATA / "valid").glob("*.Dockerfile"))
INVALID = sorted((DATA / "invalid").glob("*.Dockerfile"))
AMD64 = {"platform": "linux/amd64", "build_platform": "linux/amd64"}


def _parse_fixture(path: Path) -> D.Dockerfile:
    args_file = path.with_name(path.name.removesuffix(".Dockerfile") + ".args.json")
    args = json.loads(args_file.read_text()) if args_file.exists() else None
    return D.parse(path.read_text(), build_args=args, **AMD64)


# -- conformance tables ---------------------------------------------------------------------------

@pytest.mark.parametrize("path", VALID, ids=[p.stem for p in VALID])
def test_valid_fixture(path):
    expected = json.loads(path.with_suffix(".json").read_text())
    assert _parse_fixture(path).to_dict() == expected


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_fixture(path):
    text = path.read_text()
    first = text.splitlines()[0]
    assert first.startswith("# error: "), "invalid fixtures start with '# error: <message>'"
    with pytest.raises(D.DockerfileError) as ei:
        D.parse(text, **AMD64)
    assert str(ei.value) == first.removeprefix("# error: ")
    assert isinstance(ei.value, errors.InvalidArgument)


def test_fixture_tables_are_not_empty():
    assert len(VALID) >= 15 and len(INVALID) >= 40


# -- variable substitution (BuildKit's shell lexer) -------------------------------------------------

ENV = {"SET": "value", "EMPTY": "", "SP": "a b", "PATH": "/usr/bin"}


@pytest.mark.parametrize("word, out", [
    ("$SET", "value"),
    ("${SET}", "value"),
    ("${SET}_x", "value_x"),
    ("$SET_x", ""),                      # the name runs on: $SET_x is unset
    ("${UNSET:-dflt}", "dflt"),
    ("${EMPTY:-dflt}", "dflt"),
    ("${EMPTY-dflt}", ""),
    ("${UNSET-dflt}", "dflt"),
    ("${SET:+alt}", "alt"),
    ("${EMPTY:+alt}", ""),
    ("${EMPTY+alt}", "alt"),
    ("${UNSET+alt}", ""),
    ("${UNSET:-${SET}}", "value"),
    ("${UNSET:-$PATH:/x}", "/usr/bin:/x"),
    (r"\$SET", "$SET"),
    ("'$SET'", "$SET"),
    ('"$SET"', "value"),
    (r'"\$SET"', "$SET"),
    (r'"a\b"', r"a\b"),                  # only \" \$ \\ are escapes inside double quotes
    (r"a\ b", "a b"),
    ("'a\\b'", "a\\b"),
    ("a'b'\"c\"", "abc"),
    ("$", "$"),
    ("a$", "a$"),
    ("$1", ""),
    ("${SET#val}", "ue"),
    ("${SET%ue}", "val"),
    ("${PATH##*/}", "bin"),
    ("${PATH%/*}", "/usr"),
])
def test_substitution(word, out):
    assert D.Lexer().process_word(word, ENV) == out


@pytest.mark.parametrize("word, words", [
    ("$SP", ["a", "b"]),
    ('"$SP"', ["a b"]),
    ("x y  z", ["x", "y", "z"]),
    ("'x y' z", ["x y", "z"]),
    ('""', []),
])
def test_substitution_words(word, words):
    assert D.Lexer().process_words(word, ENV) == words


def test_substitution_backtick_escape():
    lex = D.Lexer("`")
    assert lex.process_word("C:\\dir", ENV) == "C:\\dir"
    assert lex.process_word("`$SET", ENV) == "$SET"


@pytest.mark.parametrize("word, msg", [
    ("${SET", "syntax error: missing '}'"),
    ("${}", "syntax error: bad substitution"),
    ("${:x}", "syntax error: bad substitution"),
    ("${UNSET:?}", "UNSET: is not allowed to be unset"),
    ("${EMPTY:?}", "EMPTY: is not allowed to be empty"),
    ("${UNSET?boom}", "UNSET: boom"),
    ("${SET^}", "unsupported modifier (^) in substitution"),
    ("'open", "unexpected end of statement while looking for matching single-quote"),
])
def test_substitution_errors(word, msg):
    with pytest.raises(D.LexError) as ei:
        D.Lexer().process_word(word, ENV)
    assert str(ei.value) == msg


# -- focused behaviours -----------------------------------------------------------------------------

def test_seed_node_app():
    df = D.parse((DATA / "valid" / "node-app.Dockerfile").read_text())
    (stage,) = df.stages
    assert stage.from_.image == "node:18-alpine"
    kinds = [type(i).__name__ for i in stage.instructions]
    assert kinds == ["Workdir", "Copy", "Run", "Copy", "Expose", "Cmd"]
    cmd = stage.instructions[-1]
    assert isinstance(cmd, D.Cmd) and cmd.command == ["node", "server.js"] and not cmd.shell_form
    assert stage.instructions[1].sources == ["package*.json"] and stage.instructions[1].dest == "./"
    assert stage.instructions[4].ports == ["3000"]


def test_seed_multistage_and_stage_lookup():
    df = D.parse((DATA / "valid" / "multistage.Dockerfile").read_text())
    assert [s.name for s in df.stages] == ["builder", "runtime"]
    assert df.stage_by_name("builder") is df.stages[0]
    assert df.stage_by_name("RUNTIME") is df.stages[1]
    assert df.stage_by_name(1) is df.stages[1]
    assert df.stage_by_name("0") is df.stages[0]
    copy = df.stages[1].instructions[0]
    assert isinstance(copy, D.Copy) and copy.from_ == "builder"
    with pytest.raises(D.StageNotFound):
        df.stage_by_name("nope")
    with pytest.raises(errors.NotFound):
        df.stage_by_name(7)


def test_seed_nonroot_user():
    df = D.parse((DATA / "valid" / "nonroot-user.Dockerfile").read_text())
    ins = df.stages[0].instructions
    assert ins[0].command == "addgroup -S appgroup && adduser -S appuser -G appgroup"
    assert isinstance(ins[2], D.User) and ins[2].user == "appuser"


def test_line_numbers_and_original():
    df = D.parse("FROM alpine\n\nRUN a \\\n  # c\n  b\nCMD x\n")
    run, cmd = df.stages[0].instructions
    assert (run.line, run.end_line, run.original) == (3, 5, "RUN a   b")
    assert (cmd.line, cmd.end_line) == (6, 6)


def test_instructions_are_frozen():
    ins = D.parse("FROM a\nUSER b").stages[0].instructions[0]
    with pytest.raises(Exception):
        ins.user = "root"  # type: ignore[misc]


def test_meta_args_only_in_from():
    df = D.parse("ARG V=1\nARG IMG=alpine\nFROM $IMG:$V\nENV X=${V:-none}\n")
    assert [(a.name, a.value) for a in df.meta_args] == [("V", "1"), ("IMG", "alpine")]
    assert df.stages[0].from_.image == "alpine:1"
    assert df.stages[0].instructions[0].pairs == [("X", "none")]


def test_build_args_override_defaults_and_unset_stays_unset():
    df = D.parse("FROM a\nARG X=1\nARG Y\nENV x=$X y=${Y-unset}", build_args={"X": "2"})
    assert df.stages[0].instructions[-1].pairs == [("x", "2"), ("y", "unset")]


def test_proxy_args_need_no_default():
    df = D.parse("FROM a\nARG HTTP_PROXY\nENV p=$HTTP_PROXY", build_args={"HTTP_PROXY": "http://p:3128"})
    assert df.stages[0].instructions[-1].pairs == [("p", "http://p:3128")]


def test_platform_args_default_to_this_machine():
    df = D.parse("FROM --platform=$BUILDPLATFORM a\nARG TARGETOS\nARG TARGETARCH\nENV t=$TARGETOS/$TARGETARCH")
    assert df.stages[0].from_.platform == D.default_platform()
    assert df.stages[0].instructions[-1].pairs[0][1] == "/".join(D.default_platform().split("/")[:2])
    pre = D.predefined_args("linux/arm/v7", "linux/amd64")
    assert pre["TARGETARCH"] == "arm" and pre["TARGETVARIANT"] == "v7" and pre["BUILDARCH"] == "amd64"


def test_env_overrides_arg_and_env_expands_with_previous_env():
    df = D.parse("FROM a\nARG A=arg\nENV A=env\nENV abc=hello\nENV abc=bye def=$abc B=$A")
    assert df.stages[0].instructions[-1].pairs == [("abc", "bye"), ("def", "hello"), ("B", "env")]


def test_image_env_hook():
    df = D.parse("FROM a\nENV PATH=/x:$PATH", image_env=lambda ref: {"PATH": "/bin"})
    assert df.stages[0].instructions[0].pairs == [("PATH", "/x:/bin")]


def test_arg_multiple_names():
    df = D.parse("FROM a\nARG a=1 b c=3")
    assert [(a.name, a.default) for a in df.stages[0].instructions] == [("a", "1"), ("b", None), ("c", "3")]


def test_maintainer_as_label():
    m = D.parse("FROM a\nMAINTAINER me <me@x>").stages[0].instructions[0]
    assert m.pairs == [("maintainer", "me <me@x>")]


def test_healthcheck_durations():
    hc = D.parse("FROM a\nHEALTHCHECK --interval=1m30s --timeout=1.5s --retries=5 CMD true").stages[0].instructions[0]
    assert (hc.interval, hc.timeout, hc.retries, hc.test) == (90 * 10**9, 1_500_000_000, 5, ["CMD-SHELL", "true"])
    assert D.parse("FROM a\nHEALTHCHECK NONE").stages[0].instructions[0].none


@pytest.mark.parametrize("s, ns", [("0", 0), ("1ns", 1), ("1us", 1000), ("1µs", 1000), ("2ms", 2_000_000),
                                   ("1.5h", 5400 * 10**9), ("1h2m3s", 3723 * 10**9), (".5s", 500_000_000),
                                   ("-1s", -(10**9))])
def test_parse_duration(s, ns):
    assert D.parse_duration(s) == ns


def test_keywords_case_insensitive_and_lowercase_stage_names():
    df = D.parse("from alpine AS Build\nrUn true\nFROM build")
    assert df.stages[0].name == "build" and isinstance(df.stages[0].instructions[0], D.Run)


def test_bad_json_falls_back_to_shell_form():
    run = D.parse('FROM a\nRUN ["echo", "unterminated]').stages[0].instructions[0]
    assert run.shell_form and run.command == '["echo", "unterminated]'


def test_exec_form_keeps_backslashes_with_backtick_escape():
    df = D.parse('# escape=`\nFROM a\nRUN ["c:\\\\x.exe", "a"]')
    assert df.escape == "`" and df.stages[0].instructions[0].command == ["c:\\x.exe", "a"]


def test_heredoc_with_crlf_and_fd():
    df = D.parse("FROM a\r\nRUN 3<<EOF cat /dev/fd/3\r\nhi\r\nEOF\r\n")
    (h,) = df.stages[0].instructions[0].heredocs
    assert (h.name, h.content, h.fd) == ("EOF", "hi\n", 3)


def test_heredoc_not_in_other_instructions():
    cmd = D.parse("FROM a\nCMD cat <<EOF\n").stages[0].instructions[0]
    assert cmd.command == "cat <<EOF"


def test_to_dict_is_json():
    df = D.parse((DATA / "valid" / "all-instructions.Dockerfile").read_text(), **AMD64)
    json.dumps(df.to_dict())


@pytest.mark.parametrize("text, msg", [
    ("# escape=`\n# escape=\\\nFROM a", "Dockerfile:2: only one escape parser directive can be used"),
    ("# escape=x\nFROM a", "Dockerfile:1: invalid escape token 'x' does not match ` or \\"),
    ("", "Dockerfile: file with no instructions"),
    ("\n\n   \n", "Dockerfile: file with no instructions"),
    ("ARG A=1\n", "Dockerfile:1: no build stage in current context"),
])
def test_directive_and_empty_errors(text, msg):
    with pytest.raises(D.DockerfileError) as ei:
        D.parse(text)
    assert str(ei.value) == msg


def test_error_carries_filename_and_line():
    with pytest.raises(D.DockerfileError) as ei:
        D.parse("FROM a\nRUNN x", filename="app.Dockerfile")
    e = ei.value
    assert (e.filename, e.line, e.reason) == ("app.Dockerfile", 2, "unknown instruction: RUNN (did you mean RUN?)")
    assert str(e) == "app.Dockerfile:2: unknown instruction: RUNN (did you mean RUN?)"


@pytest.mark.parametrize("text", [
    "FROM a\nRUN <<", "FROM a\nCOPY <<'EOF /x\nEOF", "FROM a\nENV ${", "FROM a\x00\nRUN \x00",
    "FROM a\nRUN --mount=type=cache,target=\"/x true", "FROM a\nRUN --mount=mode=999,target=/x true",
    "FROM a\nONBUILD", "FROM a\nHEALTHCHECK", "\ufeffFROM a\n\\", "FROM a\nCOPY \\", "FROM a\nLABEL \"",
    "FROM a\nENV a=\"b\\", "FROM a\nRUN --mount=",
])
def test_garbage_never_tracebacks(text):
    try:
        D.parse(text)
    except D.DockerfileError:
        pass


def test_parse_file(tmp_path):
    p = tmp_path / "Containerfile"
    p.write_text("FROM a\nBOGUS x\n")
    with pytest.raises(D.DockerfileError, match=r"^Containerfile:2: unknown instruction: BOGUS$"):
        D.parse_file(str(p))


if __name__ == "__main__" and "--regen" in sys.argv:  # pragma: no cover
    for path in VALID:
        out = path.with_suffix(".json")
        out.write_text(json.dumps(_parse_fixture(path).to_dict(), indent=1, ensure_ascii=False) + "\n")
        print("wrote", out)
