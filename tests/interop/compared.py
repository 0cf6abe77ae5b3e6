"""`@compares(command, *flags)`: a test that runs dockyard and the docker CLI (against dockerd) on the
same input and compares their output and exit code says which flags of which command it covers.

scripts/parity-table reads these declarations from the test files' text (they must be literal
strings) and writes, for every flag docs/parity.md calls "yes", the tests that compare it with
Docker; tests/unit/test_parity_table.py fails when a flag of the issue-15 commands has none.
`command` is the command path as docker spells it ("run", "network create"); a flag is its long
name ("--add-host"), or its short one when it has no long one."""

from __future__ import annotations


def compares(command: str, *flags: str):
    def mark(fn):
        fn.compares = getattr(fn, "compares", ()) + ((command, flags),)
        return fn
    return mark
