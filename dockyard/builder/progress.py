"""Build progress: docker's legacy plain lines, or a live BuildKit-style display on a terminal.

The builder reports events (a step starts, is cached, misses and why, prints output, ends); a
reporter renders them. `PlainProgress` writes docker's legacy builder lines plus our "Cache miss:
<why>" lines and the RUN output verbatim. `TtyProgress` redraws one block in place: a header with
the elapsed time and steps done, a line per step (CACHED, its duration), and the last lines of the
running step's output under it.
"""

from __future__ import annotations

import time


class PlainProgress:
    def __init__(self, out, *, quiet: bool = False) -> None:
        self.out = out
        self.quiet = quiet
        # an output that shows stderr apart (api/buildproc.py: dockerd wraps a step's stderr in
        # \x1b[91m … \x1b[0m in its build stream); a terminal or a file gets the streams as written
        self.tells_stderr = bool(getattr(out, "colours_stderr", False))

    def _say(self, text: str) -> None:
        if not self.quiet:
            self.out.write(text + "\n")
            self.out.flush()

    def step(self, n: int, total: int, text: str, stage: str | None) -> None:
        self._say(f"Step {n}/{total} : {text}")

    def note(self, text: str) -> None:
        self._say(text)

    def cached(self) -> None:
        self._say(" ---> Using cache")

    def miss(self, reason: str) -> None:
        self._say(f" ---> Cache miss: {reason}")

    def output(self, data: bytes, stderr: bool = False) -> None:
        if not self.quiet:
            text = data.decode("utf-8", errors="replace")
            self.out.write(f"\x1b[91m{text}\x1b[0m" if stderr and self.tells_stderr else text)
            self.out.flush()

    def done(self, ident: str) -> None:
        self._say(f" ---> {ident[:12]}")

    def finish(self, ok: bool) -> None:
        pass


class TtyProgress:
    TAIL = 6
    tells_stderr = False  # one display for both streams

    def __init__(self, out) -> None:
        self.out = out
        self.t0 = time.monotonic()
        self.rows: list[dict] = []
        self.total = 0
        self.tail: list[str] = []
        self.partial = ""
        self.drawn = 0
        self.last_draw = 0.0

    def step(self, n: int, total: int, text: str, stage: str | None) -> None:
        self._close_current()
        self.total = total
        label = f"[{stage + ' ' if stage else ''}{n}/{total}] {text}"
        self.rows.append({"label": label, "start": time.monotonic(), "end": None, "cached": False, "why": ""})
        self.tail = []
        self._draw(force=True)

    def note(self, text: str) -> None:
        self.rows.append({"label": text, "start": time.monotonic(), "end": time.monotonic(), "cached": False,
                          "why": ""})
        self._draw(force=True)

    def cached(self) -> None:
        if self.rows:
            self.rows[-1]["cached"] = True
        self._draw(force=True)

    def miss(self, reason: str) -> None:
        if self.rows:
            self.rows[-1]["why"] = reason
        self._draw(force=True)

    def output(self, data: bytes, stderr: bool = False) -> None:
        text = self.partial + data.decode("utf-8", errors="replace")
        lines = text.split("\n")
        self.partial = lines.pop()
        self.tail = (self.tail + lines)[-self.TAIL:]
        self._draw()

    def done(self, ident: str) -> None:
        self._close_current()
        self._draw(force=True)

    def finish(self, ok: bool) -> None:
        self._close_current()
        self._draw(force=True, final=True, ok=ok)

    def _close_current(self) -> None:
        if self.rows and self.rows[-1]["end"] is None:
            self.rows[-1]["end"] = time.monotonic()
            self.tail = []
            self.partial = ""

    def _draw(self, *, force: bool = False, final: bool = False, ok: bool = True) -> None:
        now = time.monotonic()
        if not force and now - self.last_draw < 0.1:
            return
        self.last_draw = now
        import shutil

        width = shutil.get_terminal_size((100, 24)).columns
        done = sum(1 for r in self.rows if r["end"] is not None)
        state = (" FINISHED" if ok else " ERROR") if final else ""
        lines = [f"[+] Building {now - self.t0:.1f}s ({done}/{len(self.rows)}){state}"]
        for r in self.rows:
            dur = (r["end"] or now) - r["start"]
            prefix = " => CACHED " if r["cached"] else " => "
            left = prefix + r["label"]
            right = f"{dur:.1f}s"
            room = width - len(right) - 1
            if len(left) > room:
                left = left[: max(room - 1, 10)] + "…"
            lines.append(left.ljust(room) + " " + right)
            if r["why"] and not r["cached"] and r["end"] is None:
                lines.append((" => => # cache miss: " + r["why"])[:width])
        if not final:
            for t in self.tail:
                lines.append((" => => # " + t)[:width])
        out = ""
        if self.drawn:
            out += f"\x1b[{self.drawn}A\x1b[J"
        out += "\n".join(lines) + "\n"
        self.out.write(out)
        self.out.flush()
        self.drawn = len(lines)
