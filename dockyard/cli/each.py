"""One argument after another, as the docker CLI does for `rm`, `stop`, `kill`, `volume rm`, `pod
rm`, …: each is tried, an error is printed and the next one tried, and the exit status says
whether any failed."""

from __future__ import annotations

import sys

from dockyard.errors import DockyardError


def outcomes(refs, fn, *, parallel: bool = False):
    """(ref, fn(ref), None) or (ref, None, error) for each ref, in argument order. ``parallel``
    (with more than one ref): all at once in threads, as the docker CLI stops, restarts and kills,
    so stopping N containers takes one grace period, not N (nothing may fork meanwhile)."""
    def one(ref):
        try:
            return ref, fn(ref), None
        except DockyardError as e:
            return ref, None, e

    refs = list(refs)
    if not parallel or len(refs) < 2:
        for ref in refs:
            yield one(ref)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(32, len(refs))) as pool:
        yield from pool.map(one, refs)


def each(refs, fn, *, parallel: bool = False, echo: bool = False) -> int:
    """fn(ref) for every ref: what it returns is printed (None: nothing; ``echo``: the ref itself
    instead, as `rm` and `update` print the names they did), a `DockyardError` is printed as
    ``dockyard: error: …``; 1 if any failed, else 0."""
    rc = 0
    for ref, out, err in outcomes(refs, fn, parallel=parallel):
        if err is not None:
            sys.stderr.write(f"dockyard: error: {err}\n")
            rc = 1
        elif echo:
            print(ref)
        elif out is not None:
            print(out)
    return rc
