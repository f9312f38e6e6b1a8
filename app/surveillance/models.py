"""Market surveillance for the exchange's staff: alerts the rule engine raises with their evidence, what
officers do with them (acknowledge, assign, escalate, annotate, close), cases that group them, the
thresholds supervisors set, the engine's place in the event log, and the tamper-evident audit trail."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.db import Base, BigId, utcnow
from app.i18n import N_
from app.uploads import Upload


class Severity(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"


SEVERITY_LABELS = {
    Severity.low: N_("low"),
    Severity.medium: N_("medium"),
    Severity.high: N_("high"),
}


class AlertStatus(StrEnum):
    open = "open"
    acknowledged = "acknowledged"
    escalated = "escalated"  # handed to a supervisor
    closed = "closed"


ALERT_LABELS = {
    AlertStatus.open: N_("new"),
    AlertStatus.acknowledged: N_("acknowledged"),
    AlertStatus.escalated: N_("escalated"),
    AlertStatus.closed: N_("closed"),
}


class Alert(Base):
    """Something that looks wrong, raised once per dedupe key, with the orders, trades or bids behind it."""

    __tablename__ = "surveillance_alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    rule: Mapped[str] = mapped_column(String(40), index=True)
    severity: Mapped[Severity]
    status: Mapped[AlertStatus] = mapped_column(default=AlertStatus.open, index=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    instrument_id: Mapped[int | None] = mapped_column(
        ForeignKey("exchange_instruments.id"), index=True
    )
    member_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    facts: Mapped[dict[str, Any]] = mapped_column(
        JSON, default=dict
    )  # the numbers the message shows
    evidence: Mapped[dict[str, list[int]]] = mapped_column(
        JSON, default=dict
    )  # orders, trades, bids, ...
    event_id: Mapped[int | None] = mapped_column(BigInteger)  # the event that raised it
    raised_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("surveillance_cases.id"), index=True)
    closed_at: Mapped[datetime | None]
    resolution: Mapped[str] = mapped_column(Text, default="")

    assignee: Mapped[User | None] = relationship()
    notes: Mapped[list["AlertNote"]] = relationship(back_populates="alert", order_by="AlertNote.id")


class AlertNote(Base):
    __tablename__ = "surveillance_alert_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("surveillance_alerts.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    written_at: Mapped[datetime] = mapped_column(default=utcnow)

    alert: Mapped[Alert] = relationship(back_populates="notes")
    author: Mapped[User] = relationship()


class Case(Base):
    """An investigation: alerts grouped together, with notes and files."""

    __tablename__ = "surveillance_cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    opened_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]

    alerts: Mapped[list[Alert]] = relationship(order_by="Alert.id")
    notes: Mapped[list["CaseNote"]] = relationship(back_populates="case", order_by="CaseNote.id")


class CaseNote(Base):
    __tablename__ = "surveillance_case_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("surveillance_cases.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text, default="")
    upload_id: Mapped[int | None] = mapped_column(ForeignKey("uploads.id"))
    written_at: Mapped[datetime] = mapped_column(default=utcnow)

    case: Mapped[Case] = relationship(back_populates="notes")
    author: Mapped[User] = relationship()
    upload: Mapped[Upload | None] = relationship()


class Threshold(Base):
    """A rule's thresholds as a supervisor set them (the code's defaults apply until then)."""

    __tablename__ = "surveillance_thresholds"

    rule: Mapped[str] = mapped_column(String(40), primary_key=True)
    values: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class EngineCursor(Base):
    """How far the rule engine has read the event log: moved in the same transaction as the alerts it
    raised, so a restart neither misses an event nor counts one twice."""

    __tablename__ = "surveillance_cursor"

    id: Mapped[int] = mapped_column(primary_key=True)  # always 1
    tx_id: Mapped[int] = mapped_column(BigInteger, default=0)
    event_id: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """One staff action or alert change, chained to the one before by a SHA-256 hash over both: editing or
    removing a row breaks the chain from there on, and `flask audit verify` names where."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(60), index=True)
    subject: Mapped[str] = mapped_column(String(80), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)  # one entry follows each
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    actor: Mapped[User | None] = relationship()
