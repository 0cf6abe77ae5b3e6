"""dockyard.jsonfast must read and write exactly what json does (it replaces it on hot paths)."""

import json
import math

import pytest

from dockyard import jsonfast

DOCS = [
    {"a": [1, 2.5, None, True, False, "é☃\n\t\"\\"], "b": {"c": "x"}, "": 0},
    [], {}, "", 0, -1, 1e300, -0.0, [[[]]], {"z": 1, "a": {"y": [1, {"b": 2}]}},
    {"emoji": "🐳", "ctl": "\x00\x1f", "big": 2**70},
]


@pytest.mark.parametrize("doc", DOCS)
@pytest.mark.parametrize("sort_keys", [False, True])
@pytest.mark.parametrize("ensure_ascii", [True, False])
def test_dumps_matches_json(doc, sort_keys, ensure_ascii):
    assert jsonfast.dumps(doc, sort_keys=sort_keys, ensure_ascii=ensure_ascii) == json.dumps(
        doc, separators=(",", ":"), sort_keys=sort_keys, ensure_ascii=ensure_ascii)


@pytest.mark.parametrize("doc", DOCS)
def test_loads_matches_json(doc):
    for text in (json.dumps(doc), json.dumps(doc, indent=2), " \n" + json.dumps(doc) + "\n "):
        assert jsonfast.loads(text) == json.loads(text)
        assert jsonfast.loads(text.encode()) == json.loads(text)


def test_special_floats():
    assert math.isinf(jsonfast.loads("[Infinity]")[0]) and math.isnan(jsonfast.loads("NaN"))
    assert jsonfast.dumps([float("inf"), float("-inf")]) == "[Infinity,-Infinity]"


@pytest.mark.parametrize("bad", ["", "[1", "{} x", "{'a': 1}", "[1,]", "tru"])
def test_bad_input_is_a_value_error(bad):
    with pytest.raises(ValueError):
        jsonfast.loads(bad)


def test_unserialisable_is_a_type_error():
    with pytest.raises(TypeError):
        jsonfast.dumps({"x": object()})
