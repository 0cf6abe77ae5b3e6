"""Engine calls that fork, run in a fresh single-threaded process.

The service answers requests on threads; forking a threaded process copies locks other threads
held, so a container's monitor (or a volume seeding child) must never be forked from it. The calls
that fork (create, start, restart) run here instead: `python -m dockyard.api.isolated` reads one
JSON request on stdin and writes one JSON answer on stdout, and the service re-raises an error in
its own category, so it keeps its HTTP status.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from dockyard import errors

CATEGORIES = ("NotFound", "AlreadyExists", "Conflict", "InvalidArgument", "PermissionDenied", "Unavailable",
              "NotImplemented")


def _env() -> dict:
    import dockyard

    top = os.path.dirname(os.path.dirname(os.path.abspath(dockyard.__file__)))
    return dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (top, os.environ.get("PYTHONPATH")) if p))


def env_for_child() -> dict:
    """The environment of a `python -m dockyard.api.…` child: this dockyard on its path."""
    return _env()


def spawn_exec(args: dict, *, stdin, stdout, stderr) -> subprocess.Popen:
    """`exec_in_container` in a child whose stdio is the caller's choice (a hijacked socket, pipes);
    its exit status is the exec's."""
    return subprocess.Popen([sys.executable, "-m", "dockyard.api.isolated", "exec", json.dumps(args)],
                            stdin=stdin, stdout=stdout, stderr=stderr, env=_env(), cwd="/")


INTERNAL = 120  # an exec child's exit status for a fault of ours (not the command's, not a refusal)
ZYGOTE = None  # the service's zygote (zygote.py), when it runs one


def call(engine, verb: str, **args):
    """Run `verb` in a child process against `engine`'s store; its result, or its error re-raised.
    The child is forked by the service's zygote when there is one (no interpreter start-up),
    else it is a new interpreter."""
    req = {"verb": verb, "root": engine.root, "runroot": engine.runroot, "args": args}
    answer = ZYGOTE.call(req) if ZYGOTE is not None else None
    if answer is None:
        p = subprocess.run([sys.executable, "-m", "dockyard.api.isolated"], input=json.dumps(req).encode(),
                           capture_output=True, env=_env(), cwd="/", timeout=600)
        try:
            answer = json.loads(p.stdout.decode().strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise errors.DockyardError(f"{verb} failed: {p.stderr.decode(errors='replace').strip() or 'no answer'}") \
                from None
    if "error" in answer:
        cls = getattr(errors, answer.get("category") or "", errors.DockyardError)
        raise cls(answer["error"])
    return answer.get("result"), [w for w in answer.get("warnings", [])]


def _category(e: BaseException) -> str:
    from dockyard.runtime.spawn import StartError

    if isinstance(e, StartError) and getattr(e, "code", 0) in (126, 127):
        return "InvalidArgument"  # dockerd: a command that cannot be run is a bad parameter (400)
    for name in CATEGORIES:
        if isinstance(e, getattr(errors, name)):
            return name
    return ""


def _create(engine, body: dict, name: str | None):
    from dockyard.engine.containers import create, validate_name
    from dockyard.engine.create import config_from_request

    cfg = config_from_request(body)
    return create(engine, cfg, validate_name(name) if name else None).rec.id


def _start(engine, ref: str):
    from dockyard.engine.lifecycle import start

    return start(engine, ref)


def _restart(engine, ref: str, timeout=None, signal=None):
    from dockyard.engine.lifecycle import restart

    return restart(engine, ref, timeout=timeout, signal=signal)


def _connect(engine, net: str, ref: str, aliases=(), ip: str = "", mac: str = "", links=(), driver_opts=None,
             ip6: str = "", link_local=()):
    from dockyard.engine.networking import connect

    connect(engine, net, ref, aliases=list(aliases), ip=ip, mac=mac, links=list(links), driver_opts=driver_opts or {},
            ip6=ip6, link_local=list(link_local))


def _disconnect(engine, net: str, ref: str, force: bool = False):
    from dockyard.engine.networking import disconnect

    disconnect(engine, net, ref, force=force)


VERBS = {"create": _create, "start": _start, "restart": _restart, "connect": _connect, "disconnect": _disconnect}


def main_exec(args: dict) -> int:
    from dockyard.engine.engine import Engine
    from dockyard.engine.exec import exec_in_container

    engine = Engine(args.pop("root"), args.pop("runroot"))
    ref, cmd = args.pop("ref"), args.pop("cmd")
    try:
        return exec_in_container(engine, ref, cmd, **args)
    except errors.DockyardError as e:
        os.write(2, f"{e}\n".encode())
        code = getattr(e, "code", 126 if isinstance(e, errors.PermissionDenied) else 125)
        return 126 if code == 127 else code  # dockerd: an exec that cannot start exits 126, found or not
    except Exception as e:  # noqa: BLE001 - a real fault: one line for the client, no traceback
        os.write(2, f"internal error: {type(e).__name__}: {e}\n".encode())
        return INTERNAL


def run_verb(req: dict) -> dict:
    """One request, in this (fresh, single-threaded) process: its answer as a dict."""
    from dockyard.engine.engine import Engine

    # create's warnings go to fd 2 (where docker's CLI prints them): collect them for the answer
    r, w = os.pipe()
    saved = os.dup(2)
    os.dup2(w, 2)
    os.close(w)
    out: dict
    try:
        engine = Engine(req["root"], req["runroot"])
        out = {"result": VERBS[req["verb"]](engine, **req["args"])}
    except errors.DockyardError as e:
        out = {"error": str(e), "category": _category(e)}
    except OSError as e:
        out = {"error": f"{e.strerror}: {e.filename}" if e.filename else str(e), "category": ""}
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    os.set_blocking(r, False)
    try:
        text = os.read(r, 1 << 16).decode(errors="replace")
    except BlockingIOError:
        text = ""
    os.close(r)
    out["warnings"] = [line[len("WARNING: "):] for line in text.splitlines() if line.startswith("WARNING: ")]
    return out


def main() -> int:
    if sys.argv[1:2] == ["exec"]:
        return main_exec(json.loads(sys.argv[2]))
    sys.stdout.write(json.dumps(run_verb(json.loads(sys.stdin.read()))) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
