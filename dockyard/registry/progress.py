"""What pull and push report while they work; the CLI renders it (plain lines or a live display).

Events, in Docker's vocabulary (its JSON progress stream has the same three shapes):

- ``line(text)``: a line of its own (``latest: Pulling from library/busybox``, ``Digest: …``).
- ``status(ident, text)``: the state of one layer, ``ident`` its short id (``Waiting``,
  ``Already exists``, ``Pull complete``, ``Pushed``, ``Mounted from ns/app``…).
- ``progress(ident, action, current, total)``: bytes moved so far (``Downloading``, ``Pushing``).

Calls may come from several worker threads at once; renderers must lock.
"""

from __future__ import annotations


class Progress:
    """Reports nothing: the library default, and what ``-q`` uses."""

    def line(self, text: str) -> None:
        pass

    def status(self, ident: str, text: str) -> None:
        pass

    def progress(self, ident: str, action: str, current: int, total: int) -> None:
        pass

    def finish(self) -> None:
        pass
