"""Who may trade on the exchange: every member, unless a supervisor has approved its suspension.

Suspending takes two people (four eyes): an officer proposes, a supervisor who is not the proposer approves
or rejects; a supervisor lifts it. Every trading path asks `check_may_trade` first, reading the database,
so an approved suspension holds at once on every web worker."""

from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import events
from app.accounts.models import Organisation
from app.auth import BUYER_KINDS, SELLER_KINDS
from app.db import utcnow
from app.errors import Conflict, NotFound, PermissionDenied
from app.exchange.models import ExchangeOrder, OrderStatus, Suspension, SuspensionStatus


def check_may_trade(session: Session, organisation_id: int) -> None:
    found = session.scalar(
        select(Suspension.reason).where(
            Suspension.organisation_id == organisation_id,
            Suspension.status == SuspensionStatus.active,
        )
    )
    if found is not None:
        raise PermissionDenied(
            _(
                "Your organisation is suspended from trading on the exchange: %(reason)s",
                reason=found,
            )
        )


def propose_suspension(
    session: Session,
    *,
    actor_id: int,
    organisation_id: int,
    reason: str,
    now: datetime | None = None,
) -> Suspension:
    """An officer proposes suspending a member; it takes effect when a supervisor approves."""
    now = now or utcnow()
    member = session.get(Organisation, organisation_id)
    if member is None or member.kind not in BUYER_KINDS | SELLER_KINDS:
        raise NotFound(_("No member of the exchange has that number."), field="organisation_id")
    pending = session.scalar(
        select(Suspension.id).where(
            Suspension.organisation_id == organisation_id,
            Suspension.status.in_([SuspensionStatus.proposed, SuspensionStatus.active]),
        )
    )
    if pending is not None:
        raise Conflict(_("This member already has a suspension proposed or in force."))
    suspension = Suspension(
        organisation_id=organisation_id, reason=reason, proposed_by_id=actor_id, proposed_at=now
    )
    session.add(suspension)
    session.flush()  # the event names the suspension
    _record(session, "exchange.suspension_proposed", suspension, actor_id, now)
    return suspension


def decide_suspension(
    session: Session,
    *,
    actor_id: int,
    suspension_id: int,
    approve: bool,
    note: str = "",
    now: datetime | None = None,
) -> Suspension:
    """A supervisor other than the proposer approves (the member stops trading at once) or rejects."""
    now = now or utcnow()
    suspension = session.get(
        Suspension, suspension_id, with_for_update=True, populate_existing=True
    )
    if suspension is None:
        raise NotFound(_("No such suspension."))
    if suspension.status != SuspensionStatus.proposed:
        raise Conflict(_("This suspension has been decided already."))
    if suspension.proposed_by_id == actor_id:
        raise PermissionDenied(_("Another supervisor must decide: you proposed this suspension."))
    suspension.status = SuspensionStatus.active if approve else SuspensionStatus.rejected
    suspension.decided_by_id, suspension.decided_at, suspension.decision_note = actor_id, now, note
    _record(
        session,
        "exchange.suspension_approved" if approve else "exchange.suspension_rejected",
        suspension,
        actor_id,
        now,
    )
    return suspension


def lift_suspension(
    session: Session,
    *,
    actor_id: int,
    suspension_id: int,
    note: str = "",
    now: datetime | None = None,
) -> Suspension:
    """A supervisor lets a suspended member trade again."""
    now = now or utcnow()
    suspension = session.get(
        Suspension, suspension_id, with_for_update=True, populate_existing=True
    )
    if suspension is None or suspension.status != SuspensionStatus.active:
        raise Conflict(_("Only a suspension in force can be lifted."))
    suspension.status, suspension.lifted_at = SuspensionStatus.lifted, now
    suspension.decision_note = note or suspension.decision_note
    _record(session, "exchange.suspension_lifted", suspension, actor_id, now)
    return suspension


def open_order_ids(session: Session, organisation_id: int) -> list[int]:
    """A member's orders resting on any book."""
    query = select(ExchangeOrder.id).where(
        ExchangeOrder.organisation_id == organisation_id, ExchangeOrder.status == OrderStatus.open
    )
    return list(session.scalars(query.order_by(ExchangeOrder.id)))


def _record(session, kind: str, suspension: Suspension, actor_id: int, now: datetime) -> None:
    events.record(
        session,
        kind,
        organisation_id=suspension.organisation_id,
        actor_id=actor_id,
        subject=f"member:{suspension.organisation_id}",
        payload={"suspension_id": suspension.id, "reason": suspension.reason},
        now=now,
    )
