"""The audit trail: every staff action and alert change, each entry chained to the one before it.

An entry's hash is SHA-256 over the previous entry's hash and the entry's own fields in a canonical form, so
changing or deleting any row breaks every link from it on; `verify` walks the chain and names the first
entry that does not match. Appending takes a transaction-level advisory lock (PostgreSQL) or the writer's
turn (SQLite) before it reads the last entry, so two staff acting at once still make one chain; and no two
entries may follow the same one (a unique `prev_hash`), so a fork could not be written anyway.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.db import utcnow
from app.surveillance.models import AuditEntry

GENESIS = "0" * 64
CHAIN_LOCK = 8_246_001  # the advisory lock that lets one appender at a time at the end of the chain


def record(
    session: Session,
    *,
    actor_id: int | None,
    action: str,
    subject: str,
    reason: str = "",
    detail: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditEntry:
    """Append an entry to the chain, in the same transaction as the action it records."""
    now = now or utcnow()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK})
    last = session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))
    entry = AuditEntry(
        at=now,
        actor_id=actor_id,
        action=action,
        subject=subject,
        reason=reason,
        detail=detail or {},
        prev_hash=last.hash if last else GENESIS,
    )
    entry.hash = digest(entry)
    session.add(entry)
    session.flush()  # the next entry in this transaction chains to this one
    return entry


def digest(entry: AuditEntry) -> str:
    canonical = json.dumps(
        {
            "prev": entry.prev_hash,
            "at": entry.at.astimezone(UTC).isoformat(timespec="microseconds"),
            "actor": entry.actor_id,
            "action": entry.action,
            "subject": entry.subject,
            "reason": entry.reason,
            "detail": entry.detail,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Broken:
    entry_id: int
    why: str


def verify(session: Session, *, batch: int = 5000) -> tuple[int, Broken | None]:
    """Walk the chain from the start: how many entries hold, and the first broken link (None if none)."""
    previous, checked, after = GENESIS, 0, 0
    while True:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.id > after).order_by(AuditEntry.id).limit(batch)
        ).all()
        if not entries:
            return checked, None
        for entry in entries:
            if entry.prev_hash != previous:
                return checked, Broken(
                    entry.id, "it does not follow the entry before it (removed or relinked)"
                )
            if digest(entry) != entry.hash:
                return checked, Broken(
                    entry.id, "its contents do not match its hash (the row was edited)"
                )
            previous, checked, after = entry.hash, checked + 1, entry.id
