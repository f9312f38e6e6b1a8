"""The append-only event log (outbox), written in the same transaction as the change it records.

Readers (live pages, surveillance, notifications, the audit trail) follow the log with a Cursor. On PostgreSQL
ids are handed out at insert time, but transactions commit in their own order, so a reader that only remembered
the highest id could skip an event that commits later with a lower id. Each event therefore also stores its
transaction id, and readers only go as far as the oldest transaction still running: in (tx_id, id) order,
nothing that commits is ever missed and nothing rolled back is ever seen. On SQLite writers run one at a time,
so tx_id is 0 and the order is simply the id.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Select,
    String,
    func,
    insert,
    literal_column,
    or_,
    select,
    tuple_,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.db import Base, BigId, utcnow

_CURRENT_TX = "pg_current_xact_id()::text::bigint"
_OLDEST_RUNNING_TX = "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
_OWN_TX = "pg_current_xact_id_if_assigned()::text::bigint"


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (Index("ix_events_tx_id_id", "tx_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tx_id: Mapped[int] = mapped_column(BigInteger, default=0)
    kind: Mapped[str] = mapped_column(String(80), index=True)
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT"), index=True
    )
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    subject: Mapped[str | None] = mapped_column(String(80), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


@dataclass(frozen=True, order=True)
class Cursor:
    """A position in the log: everything up to and including (tx_id, id) has been read."""

    tx_id: int = 0
    id: int = 0

    def __str__(self) -> str:
        return f"{self.tx_id}-{self.id}"

    @classmethod
    def parse(cls, text: str | None) -> Self:
        """Read a cursor back from its text (an SSE Last-Event-ID, say); anything else starts at 0."""
        try:
            tx_id, event_id = (int(part) for part in (text or "").split("-"))
        except ValueError:
            return cls()
        return cls(tx_id, event_id)

    @classmethod
    def of(cls, event: Event) -> Self:
        return cls(event.tx_id, event.id)


def record(
    session: Session,
    kind: str,
    *,
    organisation_id: int | None = None,
    actor_id: int | None = None,
    subject: str | None = None,
    payload: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Event:
    """Append an event to the log, to commit or roll back with the change it describes."""
    event = Event(
        kind=kind,
        organisation_id=organisation_id,
        actor_id=actor_id,
        subject=subject,
        payload=payload or {},
        created_at=now or utcnow(),
    )
    if session.get_bind().dialect.name == "postgresql":
        event.tx_id = literal_column(_CURRENT_TX)
    session.add(event)
    return event


def record_many(
    session: Session, rows: list[dict[str, Any]], *, now: datetime | None = None
) -> None:
    """Append many events in one statement (for batch work); each row as record()'s keyword arguments."""
    if not rows:
        return
    connection = session.connection()
    statement = insert(Event.__table__).inline()  # answers nothing, so it may go in a pipeline
    if connection.dialect.name == "postgresql":
        statement = statement.values(tx_id=literal_column(_CURRENT_TX))
    now = now or utcnow()
    connection.execute(
        statement,
        [
            {
                "organisation_id": None,
                "actor_id": None,
                "subject": None,
                "payload": {},
                **row,
                "created_at": now,
            }
            for row in rows
        ],
    )


def read_after(
    session: Session, cursor: Cursor, *, kinds=None, subject: str | None = None, limit: int = 500
) -> list[Event]:
    """Committed events after `cursor`, in log order, never jumping over one still being written."""
    query = select(Event).where(tuple_(Event.tx_id, Event.id) > tuple_(cursor.tx_id, cursor.id))
    if kinds:
        query = query.where(Event.kind.in_(kinds))
    if subject is not None:
        query = query.where(Event.subject == subject)
    query = _settled(session, query).order_by(Event.tx_id, Event.id).limit(limit)
    return list(session.scalars(query))


def latest_cursor(session: Session) -> Cursor:
    """Where a reader that only wants what happens from now on should start."""
    query = select(Event.tx_id, Event.id).order_by(Event.tx_id.desc(), Event.id.desc()).limit(1)
    last = session.execute(_settled(session, query)).first()
    return Cursor(*last) if last else Cursor()


def _settled(session: Session, query: Select) -> Select:
    """Only events whose transaction has ended (or is this session's own)."""
    if session.get_bind().dialect.name != "postgresql":
        return query
    return query.where(
        or_(
            Event.tx_id < literal_column(_OLDEST_RUNNING_TX),
            Event.tx_id == func.coalesce(literal_column(_OWN_TX), -1),
        )
    )
