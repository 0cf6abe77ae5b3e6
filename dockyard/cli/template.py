"""Go's text/template, the language of docker's ``--format``.

    render(fmt, obj)                    docker inspect -f: one template over JSON-like data
    split_table(fmt)                    docker's "table" / "json" keys and its \\t, \\n escapes
    render_table(fmt, rows, headers)    docker ps/images --format: rows, header, tabwriter layout

Data is what ``json.loads`` gives (dicts, lists, str, int, float, bool, None). A dict stands for
a Go struct and a Go map alike: ``.Field`` looks a key up, and a missing key prints
``<no value>`` (Go's map behaviour), as does any field of None. A dict value that is callable
is called like a Go method, with the template's arguments (``{{.Label "x"}}``). Values print as
Go's fmt prints them (``[a b]``, ``map[k:v]`` sorted by key, ``<nil>``, ``true``). ``json`` is
docker's: compact, no HTML escaping (docker calls SetEscapeHTML(false)), dict order kept, which
is a struct's field order; sort map-like dicts (labels) when building them, as Go sorts map keys.

Errors are InvalidArgument worded as docker words them: ``template parsing error: template:
:1: unexpected "}" in operand`` for syntax, ``... template: :1:2: executing "" at <.X>: ...``
while running.

The pieces: `govalues` (values as Go prints them), `tmpllex`, `tmplparse`, `tmplfuncs`,
`tmplexec`; this module compiles (with a cache) and renders.
"""

from __future__ import annotations

import re

from dockyard.cli.govalues import Context, GoMap, go_json, go_str
from dockyard.cli.tmplexec import Exec
from dockyard.cli.tmplfuncs import FUNCS, HEADER_FUNCS
from dockyard.cli.tmplparse import Parser
from dockyard.errors import InvalidArgument


__all__ = ["GoMap", "render", "render_table", "split_table", "go_str", "go_json", "tabwrite"]

_CACHE: dict[str, list] = {}


def _compile(fmt: str) -> list:
    tree = _CACHE.get(fmt)
    if tree is None:
        try:
            tree = Parser(fmt).parse()
        except RecursionError as e:
            raise InvalidArgument("template parsing error: template: :1: expression nested too deeply") from e
        except (ValueError, TypeError, AttributeError, LookupError) as e:  # never a traceback
            raise InvalidArgument(f"template parsing error: template: :1: {e}") from e
        if len(_CACHE) > 64:
            _CACHE.clear()
        _CACHE[fmt] = tree
    return tree


def _execute(fmt: str, obj, funcs: dict = FUNCS, partial: bool = False, strict: str | None = None) -> str:
    ex = Exec(fmt, funcs, obj, strict)
    try:
        ex.walk(obj, _compile(fmt))
    except InvalidArgument:
        if not partial:
            raise
    except RecursionError as e:
        raise InvalidArgument("template parsing error: template: :1: executing \"\": nested too deeply") from e
    except (ValueError, TypeError, AttributeError, LookupError, OverflowError, MemoryError) as e:
        # a template must never end in a Python traceback
        raise InvalidArgument(f"template parsing error: template: :1: executing \"\": {e}") from e
    return "".join(ex.out)


def render(fmt: str, obj, strict: bool = False) -> str:
    """Execute Go template ``fmt`` on ``obj``; no newline is added (docker inspect adds one).

    ``strict``: docker inspect's rule: a key missing from a dict fails (``map has no entry for
    key "X"``) unless the dict is a ``GoMap``."""
    return _execute(fmt, obj, strict="map" if strict else None)


def check_syntax(fmt: str) -> None:
    """Raise InvalidArgument for a template that does not parse (before any work is done)."""
    _compile(fmt)


def split_table(fmt: str) -> tuple[bool, str]:
    """docker's formatter.preFormat: (is_table, template body).

    A leading "table" marks a table (docker checks only the prefix); "json" means {{json .}};
    spaces are trimmed from both ends and the two-character escapes \\t and \\n become a tab and
    a newline.
    """
    is_table = fmt.startswith("table")
    body = fmt[5:] if is_table else "{{json .}}" if fmt == "json" else fmt
    body = body.strip(" ")
    return is_table, re.sub(r"\\[tn]", lambda m: "\t" if m.group() == "\\t" else "\n", body)


def _default_header(name: str) -> str:
    """CreatedAt -> CREATED AT, ID -> ID, ImageID -> IMAGE ID."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", name).upper()


class _Headers(dict):
    """The header row: every field is its column name."""

    def get(self, key, default=None):
        return dict.get(self, key) if key in self else _default_header(key)


def render_table(fmt: str, rows: list[dict], headers: dict[str, str] | None = None,
                 row_type: str | None = None) -> str:
    """docker ps/images --format: every row rendered and newline-terminated.

    For a "table" format a header row comes first (the template run over the field names, mapped
    through ``headers`` or spelled as upper-case words) and everything goes through docker's
    tabwriter (minwidth 10, padding 3). The result ends in a newline unless it is empty: write it
    as is (``sys.stdout.write``), not with print(). ``row_type`` (docker's Go type of a row, e.g.
    ``*formatter.ContainerContext``) makes a field the rows lack an error, as docker's is.
    """
    is_table, body = split_table(fmt)
    _compile(body)  # syntax errors surface even with no rows
    rows = [Context(r) if type(r) is dict else r for r in rows]  # every list row: a formatter's
    lines = "".join(_execute(body, row, strict=row_type) + "\n" for row in rows)
    if not is_table:
        return lines
    header = _execute(body, _Headers(headers or {}), HEADER_FUNCS, partial=True)
    return tabwrite(header + "\n" + lines)


def _width(s: str) -> int:
    if s.isascii():
        return len(s)
    import unicodedata

    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def tabwrite(text: str, minwidth: int = 10, padding: int = 3) -> str:
    """text/tabwriter with padchar ' ' and no flags: tab-terminated cells in consecutive lines
    form a column as wide as its widest cell plus ``padding`` (at least ``minwidth``); the text
    after a line's last tab is not part of any column."""
    cells = [line.split("\t") for line in text.split("\n")]
    out: list[str] = []
    widths: list[int] = []

    def write_lines(a: int, b: int) -> None:
        for i in range(a, b):
            for j, c in enumerate(cells[i]):
                out.append(c)
                if j < len(widths):
                    out.append(" " * (widths[j] - _width(c)))
            if i + 1 < len(cells):
                out.append("\n")

    def format_block(a: int, b: int) -> None:
        col, this = len(widths), a
        while this < b:
            if col >= len(cells[this]) - 1:
                this += 1
                continue
            write_lines(a, this)
            a, width = this, minwidth
            while this < b and col < len(cells[this]) - 1:
                width = max(width, _width(cells[this][col]) + padding)
                this += 1
            widths.append(width)
            format_block(a, this)
            widths.pop()
            a = this
        write_lines(a, b)

    format_block(0, len(cells))
    return "".join(out)
