"""GET /events: the store's events journal (engine/events.py) as dockerd streams it: one JSON
object per event, live until `until` (or for ever), filtered by `filters`."""

from __future__ import annotations

import json

from dockyard.api.filters import parse_filters
from dockyard.api.streams import hung_up


def events(engine, req) -> None:
    from dockyard.engine import events as journal

    filters = journal.check_filters(parse_filters(req.q("filters"), journal.FILTER_KEYS))
    since, until = journal.parse_time(req.q("since")), journal.parse_time(req.q("until"))
    out = req.stream("application/json")
    conn = req.handler.connection
    try:
        journal.read(engine, since=since, until=until, filters=filters, follow=True,
                     emit_fn=lambda ev: out.write(json.dumps(ev, separators=(",", ":")).encode() + b"\n"),
                     stop=lambda: hung_up(conn))
    except OSError:
        return  # the client left
    out.close()
