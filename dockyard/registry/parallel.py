"""Blob transfers in parallel, where the first failure stops the rest (pull and push share it)."""

from __future__ import annotations

import threading


class Aborted(Exception):
    """Another transfer failed (or the user interrupted): stop this one quietly."""


def run_all(fn, items: list, concurrency: int, name: str) -> None:
    """fn(item, abort) for every item on a pool of `concurrency` threads. The first real failure
    (in item order, not an `Aborted`) sets `abort`, which each transfer checks between blocks,
    and is raised once every thread has stopped."""
    from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

    abort = threading.Event()
    pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix=name)
    try:
        futures = [pool.submit(fn, item, abort) for item in items]
        wait(futures, return_when=FIRST_EXCEPTION)
        for f in futures:
            if f.done() and f.exception() is not None and not isinstance(f.exception(), Aborted):
                abort.set()
                raise f.exception()
    finally:
        abort.set()
        pool.shutdown(wait=True, cancel_futures=True)
