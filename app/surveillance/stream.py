"""The console's live feed: trades in every mode, alerts as they are raised and changed, and halts, read
from the event log after a cursor and sent as server-sent events. Each connection polls the log twice a
second on a short read session of its own (a handful of staff watch; no connection is held between polls),
and resumes after a dropped connection from its Last-Event-ID."""

import json
import time
from collections.abc import Iterator

from sqlalchemy import select

from app import events
from app.accounts.models import Organisation
from app.db import Database
from app.events import Cursor, Event

WATCHED = (
    "exchange.trade",
    "surveillance.alert",
    "surveillance.alert_changed",
    "exchange.halted",
    "exchange.resumed",
    "exchange.auction_halted",
    "exchange.auction_resumed",
)
POLL_SECONDS = 0.5
HEARTBEAT_SECONDS = 15


def frames(
    database: Database, cursor: Cursor, *, poll: float = POLL_SECONDS, until: float | None = None
) -> Iterator[str]:
    """Frames for what happens after `cursor`, until the client goes away (or `until`, a monotonic time).
    It needs no app or request context: the response iterates it after the request has ended."""
    names: dict[int, str] = {}
    quiet_since = time.monotonic()
    yield ": surveillance\n\n"
    while until is None or time.monotonic() < until:
        reads = database.read_session()
        try:
            found = events.read_after(reads, cursor, kinds=WATCHED, limit=200)
            _learn_names(reads, found, names)
        finally:
            reads.close()
        for event in found:
            cursor = Cursor.of(event)
            yield _frame(event, cursor, names)
        if found:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > HEARTBEAT_SECONDS:
            quiet_since = time.monotonic()
            yield ": keep-alive\n\n"
        time.sleep(poll)


def _learn_names(reads, found: list[Event], names: dict[int, str]) -> None:
    wanted = {
        member
        for event in found
        if event.kind == "exchange.trade"
        for member in (event.payload.get("buyer_id"), event.payload.get("seller_id"))
        if member and member not in names
    }
    if wanted:
        names.update(
            reads.execute(
                select(Organisation.id, Organisation.name_zh).where(Organisation.id.in_(wanted))
            ).all()
        )


def _frame(event: Event, cursor: Cursor, names: dict[int, str]) -> str:
    data = {**event.payload, "at": event.created_at.isoformat()}
    if event.kind == "exchange.trade":
        data["buyer"] = names.get(data.get("buyer_id"), "")
        data["seller"] = names.get(data.get("seller_id"), "")
    name = event.kind.split(".", 1)[1]
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    return f"id: {cursor}\nevent: {name}\ndata: {payload}\n\n"
