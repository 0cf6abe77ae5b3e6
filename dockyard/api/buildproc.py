"""A build for POST /build, in a fresh single-threaded process (RUN steps fork containers, which a
threaded server must never do): `python -m dockyard.api.buildproc ARGS-JSON` writes Docker's JSON
progress messages, one per line, on stdout and exits 0 when the image was made.

SIGTERM (the client went away) unwinds the build where it stands, so the builder's own cleanup
runs: the step's container is removed, its temporary images dropped; nothing is tagged."""

from __future__ import annotations

import json
import os
import signal
import sys


class JsonLines:
    """A text stream whose writes become {"stream": text} messages on a descriptor."""

    colours_stderr = True  # a RUN step's stderr comes wrapped in \x1b[91m … \x1b[0m, as dockerd's

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def send(self, doc: dict) -> None:
        data = (json.dumps(doc) + "\n").encode()
        while data:
            data = data[os.write(self.fd, data):]

    def write(self, text: str) -> int:
        if text:
            self.send({"stream": text})
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


class Cancelled(BaseException):
    """SIGTERM: raised where the build is, so every `finally` on the way out runs."""


def _cancel(signum, frame) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one unwind; the cleanup itself is not cut short
    raise Cancelled()


def _made(out: JsonLines, image_id: str) -> None:
    """The image exists: from here the build finishes (tags included) even if the client left."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    out.send({"aux": {"ID": image_id}})


def main(args: dict) -> int:
    from dockyard import errors
    from dockyard.builder.request import run
    from dockyard.engine.engine import Engine

    out = JsonLines(os.dup(1))
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # a stray print must not break the JSON stream
    signal.signal(signal.SIGTERM, _cancel)
    engine = Engine(args["root"], args["runroot"])
    try:
        image_id = run(engine, args["context"], args["opts"], out, on_image=lambda ident: _made(out, ident))
    except Cancelled:
        return 130
    except errors.DockyardError as e:
        msg = str(e) + (f"\n{e.hint}" if getattr(e, "hint", None) else "")
        detail = {"message": msg}
        code = getattr(e, "code", None)
        if isinstance(code, int):
            detail["code"] = code
        out.send({"errorDetail": detail, "error": msg})
        return 1
    except Exception as e:  # noqa: BLE001 - a real fault: said in the stream, never a traceback
        out.send({"errorDetail": {"message": f"internal error: {type(e).__name__}: {e}"},
                  "error": f"internal error: {type(e).__name__}: {e}"})
        return 1
    if args["opts"]["quiet"]:
        out.send({"stream": image_id + "\n"})
    return 0


if __name__ == "__main__":
    try:
        code = main(json.loads(sys.argv[1]))
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a late SIGTERM must not unwind the exit itself
    except Cancelled:  # it came after main's own handler (a traceback at shutdown otherwise)
        code = 130
    sys.exit(code)
