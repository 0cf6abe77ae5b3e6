"""System routes: /_ping, /version, /info."""

from __future__ import annotations

from dockyard.engine import info as facts
from dockyard.engine.info import API_VERSION


def ping(engine, req) -> None:
    """docker pings with HEAD first, then GET; both say the API version in headers."""
    body = b"OK"
    req.send(200, body, "text/plain; charset=utf-8",
             {"API-Version": API_VERSION, "Docker-Experimental": "false", "Ostype": "linux",
              "Builder-Version": "1", "Cache-Control": "no-cache, no-store, must-revalidate", "Pragma": "no-cache"})


def version(engine, req) -> None:
    req.send_json(facts.version_document())


def info(engine, req) -> None:
    req.send_json(facts.info_document(engine))
