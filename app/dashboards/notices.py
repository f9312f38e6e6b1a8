"""Notices: the events addressed to an organisation that someone there should read (a delivery due
tomorrow, a late truck, a day a standing order could not be ordered, a contract waiting for an answer),
in words, with a link to act on them. They are the event log, read from the organisation's side."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.events import Event


@dataclass(frozen=True)
class Notice:
    at: datetime
    text: str
    url: str
    urgent: bool


def _contract(event: Event) -> str:
    return url_for("contracts.detail", contract_id=int(event.subject.split(":")[1]))


def _n(event: Event) -> dict:
    return {"n": event.payload.get("instalment"), "day": event.payload.get("due_on", "")}


# kind -> (words, where to act, urgent)
_NOTICES: dict[str, tuple[Callable[[Event], str], Callable[[Event], str], bool]] = {
    "contract.sent": (lambda e: _("A contract was sent to you to answer."), _contract, True),
    "contract.proposed": (
        lambda e: _("New terms were proposed (version %(n)s).", n=e.payload.get("version")),
        _contract,
        True,
    ),
    "contract.activated": (
        lambda e: _("A contract is signed by both sides and active."),
        _contract,
        False,
    ),
    "contract.instalment_due": (
        lambda e: _("Contract delivery %(n)s is due tomorrow (%(day)s).", **_n(e)),
        _contract,
        True,
    ),
    "contract.instalment_missed": (
        lambda e: _("Contract delivery %(n)s (%(day)s) was missed.", **_n(e)),
        _contract,
        True,
    ),
    "contract.instalment_not_ordered": (
        lambda e: _(
            "Contract delivery %(n)s could not be ordered: %(problem)s",
            n=e.payload.get("instalment"),
            problem=e.payload.get("problem", ""),
        ),
        _contract,
        True,
    ),
    "contract.force_majeure_claimed": (
        lambda e: _("A force majeure claim waits for an answer."),
        _contract,
        True,
    ),
    "contract.breached": (lambda e: _("A breach of contract was recorded."), _contract, True),
    "delivery.late": (
        lambda e: _(
            "A delivery arrived late, after its window closed at %(end)s.",
            end=e.payload.get("window_end", ""),
        ),
        lambda e: url_for("orders.detail", order_id=e.payload["orders"][0]),
        True,
    ),
    "standing_order.not_ordered": (
        lambda e: _(
            "A standing order's %(day)s could not be ordered: %(problem)s",
            day=e.payload.get("day", ""),
            problem=e.payload.get("problem", ""),
        ),
        lambda e: url_for("logistics.standing_orders"),
        True,
    ),
    "invoice.due_soon": (
        lambda e: _("An invoice is due on %(day)s.", day=e.payload.get("due_on", "")),
        lambda e: url_for("orders.wallet"),
        True,
    ),
}


def notices_for(
    session: Session, organisation_id: int, *, days: int = 14, limit: int = 50
) -> list[Notice]:
    """The organisation's notices of the last `days` days, newest first."""
    events = session.scalars(
        select(Event)
        .where(
            Event.organisation_id == organisation_id,
            Event.kind.in_(_NOTICES),
            Event.created_at >= utcnow() - timedelta(days=days),
        )
        .order_by(Event.id.desc())
        .limit(limit)
    )
    found = []
    for event in events:
        if event.payload.get("by") == organisation_id:
            continue  # this organisation did it: nothing to tell it
        words, where, urgent = _NOTICES[event.kind]
        found.append(Notice(event.created_at, words(event), where(event), urgent))
    return found
