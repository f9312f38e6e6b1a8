"""Live updates over server-sent events, read from the event log.

Each web process runs one Hub: a thread that reads the log after its cursor every LIVE_POLL_SECONDS and
hands each new event of a live session to every stream of that session open in the process, so a thousand
viewers cost one query per poll, not a thousand. Any number of processes on any number of hosts each follow
the same log, so every viewer sees every change whichever worker serves it. A stream never holds a database
connection while it waits.

Every frame's id is the event's log cursor. A viewer whose connection drops reconnects with Last-Event-ID
(browsers do it by themselves) and first gets what it missed from the log itself, then the live feed.
"""

import json
import os
import socket
import threading
import time
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import Flask

from app import events
from app.db import current_database, transaction
from app.events import Cursor, Event
from app.live.services import report_presence

KINDS = (
    "live.pinned",
    "live.deal_started",
    "live.deal_ended",
    "live.status",
    "live.sale",
    "live.updated",
    "stock.reserve",
)
# What each event is called on the viewer's page.
FRAME_NAMES = {
    "live.pinned": "pin",
    "live.deal_started": "deal",
    "live.deal_ended": "deal_ended",
    "live.status": "status",
    "live.sale": "sale",
    "live.updated": "session",
    "stock.reserve": "stock",
}
BUFFER = 2000  # recent frames kept per session for streams that are a little behind
HEARTBEAT_SECONDS = 15.0  # a comment line that keeps proxies from closing a quiet stream
PRESENCE_SECONDS = 5.0  # how often the process reports its viewer counts
IDLE_SESSIONS_KEPT = 100  # sessions whose recent frames are kept while nobody here watches them


@dataclass(frozen=True)
class Frame:
    cursor: Cursor
    text: str


def frame(event: Event) -> Frame:
    """One event as an SSE frame, stamped with when it happened."""
    data = {**event.payload, "at": event.created_at.isoformat()}
    text = (
        f"id: {Cursor.of(event)}\nevent: {FRAME_NAMES[event.kind]}\n"
        f"data: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"
    )
    return Frame(Cursor.of(event), text)


def named_frame(name: str, data: dict, cursor: Cursor | None = None) -> str:
    """A frame that is not an event of the log (the first state, the host's figures)."""
    head = f"id: {cursor}\n" if cursor is not None else ""
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    return f"{head}event: {name}\ndata: {payload}\n\n"


def session_id_of(event: Event) -> int | None:
    kind, _, number = (event.subject or "").partition(":")
    return int(number) if kind == "live" and number.isdigit() else None


class Hub:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.poll_seconds = app.config["LIVE_POLL_SECONDS"]
        self.process = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._changed = threading.Condition()
        self._batch = 0  # grows with every batch of frames, so a stream knows whether it missed one
        self._recent: dict[int, deque[Frame]] = defaultdict(lambda: deque(maxlen=BUFFER))
        self._floor: dict[int, Cursor] = {}  # per session: frames at or before this may be gone
        self._start: Cursor | None = None
        self._viewers: Counter[int] = Counter()
        self._reported: set[int] = set()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None

    # --- the streams -------------------------------------------------------------------------------

    def follow(self, session_id: int, cursor: Cursor, *, tick: float = HEARTBEAT_SECONDS):
        """SSE text for one session after `cursor`, as it happens; "" each `tick` seconds of quiet
        (the caller adds its own frames then, or a heartbeat)."""
        self._ensure_running()
        with self._watching(session_id):
            backlog, cursor = self._backlog(session_id, cursor)
            if backlog:
                yield backlog
            while True:
                with self._changed:  # the reader thread appends under this lock
                    seen = self._batch
                    frames = _newer(self._recent.get(session_id, ()), cursor)
                if frames:
                    cursor = frames[-1].cursor
                    yield "".join(item.text for item in frames)
                    continue
                with self._changed:
                    self._changed.wait_for(lambda seen=seen: self._batch != seen, timeout=tick)
                if self._batch == seen:
                    yield ""

    def _backlog(self, session_id: int, cursor: Cursor) -> tuple[str, Cursor]:
        """What the recent frames may no longer hold, read from the log itself."""
        self._wait_started()
        floor = max(self._start or Cursor(), self._floor.get(session_id, Cursor()))
        if cursor >= floor:
            return "", cursor
        texts = []
        with self.app.app_context():
            session = current_database().read_session()
            try:
                while True:
                    found = events.read_after(
                        session, cursor, kinds=KINDS, subject=f"live:{session_id}", limit=500
                    )
                    texts += [frame(event).text for event in found]
                    if found:
                        cursor = Cursor.of(found[-1])
                    if len(found) < 500 or cursor >= floor:
                        break
            finally:
                session.close()
        return "".join(texts), cursor

    @contextmanager
    def _watching(self, session_id: int) -> Iterator[None]:
        with self._changed:
            self._viewers[session_id] += 1
        try:
            yield
        finally:
            with self._changed:
                self._viewers[session_id] -= 1

    def viewers(self, session_id: int) -> int:
        return self._viewers[session_id]

    # --- the reader thread -------------------------------------------------------------------------

    def _ensure_running(self) -> None:
        with self._changed:
            if self._thread is not None and self._thread.is_alive() and self._pid == os.getpid():
                return
            self._pid, self._start = os.getpid(), None  # after a fork the parent's thread is gone
            self._thread = threading.Thread(target=self._run, name="live-hub", daemon=True)
            self._thread.start()

    def _wait_started(self) -> None:
        with self._changed:
            self._changed.wait_for(lambda: self._start is not None, timeout=30)

    def _run(self) -> None:
        with self.app.app_context():
            cursor = self._read(lambda session: events.latest_cursor(session))
            with self._changed:
                self._start = cursor
                self._changed.notify_all()
            reported_at = 0.0
            while True:
                found = self._read(
                    lambda session, after=cursor: events.read_after(
                        session, after, kinds=KINDS, limit=1000
                    )
                )
                if found:
                    cursor = Cursor.of(found[-1])
                    self._publish(found)
                if time.monotonic() - reported_at >= PRESENCE_SECONDS:
                    self._report_presence()
                    reported_at = time.monotonic()
                if len(found) < 1000:
                    time.sleep(self.poll_seconds)

    def _read(self, query):
        while True:
            session = current_database().read_session()
            try:
                return query(session)
            except Exception:  # the database restarting must not end live updates for good
                self.app.logger.exception("live updates could not read the event log")
                time.sleep(1)
            finally:
                session.close()

    def _publish(self, found: list[Event]) -> None:
        with self._changed:
            for event in found:
                session_id = session_id_of(event)
                if session_id is None:
                    continue
                recent = self._recent[session_id]
                if len(recent) == recent.maxlen:
                    self._floor[session_id] = recent[0].cursor
                recent.append(frame(event))
            self._forget_idle()
            self._batch += 1
            self._changed.notify_all()

    def _forget_idle(self) -> None:
        """Drop the frames of sessions nobody here watches once there are many; a viewer who comes back
        to one reads what it missed from the log."""
        if len(self._recent) <= IDLE_SESSIONS_KEPT:
            return
        for session_id in [key for key in self._recent if not self._viewers[key]]:
            dropped = self._recent.pop(session_id)
            if dropped:
                self._floor[session_id] = dropped[-1].cursor

    def _report_presence(self) -> None:
        with self._changed:
            counts = {
                key: value for key, value in self._viewers.items() if value or key in self._reported
            }
            self._reported = {key for key, value in counts.items() if value}
        if not counts:
            return
        try:
            with transaction() as session:
                report_presence(session, process=self.process, viewers=counts)
        except Exception:
            self.app.logger.exception("live viewer counts could not be saved")


def _newer(recent: deque[Frame], cursor: Cursor) -> list[Frame]:
    """The frames after `cursor`, read from the newest end: a viewer that keeps up looks at one or two
    frames, not at all the session's recent ones."""
    frames = []
    for item in reversed(recent):
        if item.cursor <= cursor:
            break
        frames.append(item)
    frames.reverse()
    return frames


def hub_of(app: Flask) -> Hub:
    """The process's hub (create_app makes it; its reader starts with the first stream)."""
    return app.extensions["live.hub"]
