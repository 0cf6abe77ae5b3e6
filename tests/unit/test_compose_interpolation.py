"""Interpolation and .env corner cases (compose-go's template and dotenv rules)."""

from __future__ import annotations

import pytest

from dockyard.compose import dotenv
from dockyard.compose.interpolate import InterpolationError, collect_variables, substitute

ENV = {"SET": "value", "EMPTY": "", "A": "a"}


@pytest.mark.parametrize("template,expected", [
    ("$SET", "value"), ("${SET}", "value"), ("x$SET-y", "xvalue-y"), ("$SET_", ""), ("${SET}_", "value_"),
    ("$$SET", "$SET"), ("$${SET}", "${SET}"), ("$$$SET", "$value"), ("a $$ b", "a $ b"),
    ("${UNSET:-d}", "d"), ("${EMPTY:-d}", "d"), ("${SET:-d}", "value"),
    ("${UNSET-d}", "d"), ("${EMPTY-d}", ""), ("${SET-d}", "value"),
    ("${SET:+alt}", "alt"), ("${EMPTY:+alt}", ""), ("${UNSET:+alt}", ""),
    ("${SET+alt}", "alt"), ("${EMPTY+alt}", "alt"), ("${UNSET+alt}", ""),
    ("${SET:?err}", "value"), ("${EMPTY?err}", ""),
    ("${UNSET:-${A}}", "a"), ("${UNSET:-${ALSO_UNSET:-deep}}", "deep"), ("${UNSET:-x${A}y}", "xay"),
    ("${UNSET:-a}${UNSET:-b}", "ab"), ("{${A}}", "{a}"), ("${UNSET:-}", ""), ("${UNSET:-with space}", "with space"),
    ("${SET:+${A}-${A}}", "a-a"), ("100%", "100%"), ("no dollar", "no dollar"),
    ("$", "$"), ("x $ y", "x $ y"), ("$-", "$-"), ("cost: 5$", "cost: 5$"),
])
def test_forms(template, expected):
    assert substitute(template, ENV) == expected


@pytest.mark.parametrize("template,message", [
    ("${UNSET:?need it}", "required variable UNSET is missing a value: need it"),
    ("${EMPTY:?need it}", "required variable EMPTY is missing a value: need it"),
    ("${UNSET?}", "required variable UNSET is missing a value"),
])
def test_required(template, message):
    with pytest.raises(InterpolationError) as e:
        substitute(template, ENV, where="services.web.image")
    assert str(e.value) == f"error while interpolating services.web.image: {message}"


@pytest.mark.parametrize("template", ["${", "${SET", "${}", "${1A}", "${A B}", "${A:x}", "x ${-}"])
def test_invalid(template):
    with pytest.raises(InterpolationError) as e:
        substitute(template, ENV, where="services.web.command")
    assert str(e.value).startswith("invalid interpolation format for services.web.command.")


def test_unset_warns_once_per_use():
    seen = []
    assert substitute("$NOPE ${NOPE}", ENV, warn=seen.append) == " "
    assert seen == ['The "NOPE" variable is not set. Defaulting to a blank string.'] * 2


def test_collect_variables():
    found = {}
    collect_variables({"a": ["${X:-dx}", "$Y $$Z"], "b": {"c": "${R?e} ${P:+alt} ${X:-${N}}"}}, found)
    assert sorted(found) == ["N", "P", "R", "X", "Y"]
    assert found["X"]["defaultValue"] == "dx" and found["R"]["required"] and found["P"]["alternateValue"] == "alt"


def test_dotenv_forms():
    text = '''
# comment
export EXPORTED=1
PLAIN=plain value   # trailing comment
HASH=a#b
SINGLE='no $EXPANSION \\n'
DOUBLE="tab\\there $PLAIN"
MULTI="line1
line2"
COLON: yes
EMPTY=
REF=${PLAIN}-${FROM_LOOKUP}
INHERITED
NOT_INHERITED
'''
    out = dotenv.parse(text, {"FROM_LOOKUP": "L", "INHERITED": "inh"}.get)
    assert out == {
        "EXPORTED": "1", "PLAIN": "plain value", "HASH": "a#b", "SINGLE": "no $EXPANSION \\n",
        "DOUBLE": "tab\there plain value", "MULTI": "line1\nline2", "COLON": "yes", "EMPTY": "",
        "REF": "plain value-L", "INHERITED": "inh",
    }


def test_dotenv_lookup_wins_over_earlier_lines():
    assert dotenv.parse("A=file\nB=$A", {"A": "shell"}.get)["B"] == "shell"


@pytest.mark.parametrize("text,message", [
    ("A B=1", "key cannot contain a space"), ("A!=1", "unexpected character"),
    ('A="unterminated', "unterminated quoted value"),
])
def test_dotenv_errors(text, message):
    with pytest.raises(dotenv.DotenvError) as e:
        dotenv.parse(text)
    assert message in str(e.value)
