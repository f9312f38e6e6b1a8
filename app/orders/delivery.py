"""From paid to accepted: the seller ships and delivers, the buyer's inspectors accept (in full or in part) or
dispute, and an admin resolves a dispute. Acceptance and resolution share out the money held."""

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from app import events
from app.db import utcnow
from app.errors import RuleViolation
from app.orders import money
from app.orders.models import (
    Dispute,
    Inspection,
    InspectionPhoto,
    Order,
    OrderStatus,
    TestOutcome,
)
from app.orders.services import order_of, record_step
from app.uploads import UploadKind, store_upload


def ship_order(
    session: Session,
    *,
    seller_id: int,
    actor_id: int,
    order_id: int,
    now: datetime | None = None,
) -> Order:
    """The seller sends a paid order on its way (the delivery note lists its batches)."""
    order = _seller_moves(session, seller_id, actor_id, order_id, OrderStatus.shipped, now)
    _record_custody(
        session, order, "delivery.shipped", lambda line: line.quantity, order.shipped_at
    )
    return order


def mark_delivered(
    session: Session,
    *,
    seller_id: int,
    actor_id: int,
    order_id: int,
    now: datetime | None = None,
) -> Order:
    """The seller (or its driver) says the goods reached the delivery point."""
    return _seller_moves(session, seller_id, actor_id, order_id, OrderStatus.delivered, now)


def _seller_moves(session, seller_id, actor_id, order_id, status: OrderStatus, now) -> Order:
    """Move the seller's order on to `status`, stamping when (shipped_at, delivered_at)."""
    now = now or utcnow()
    order = order_of(session, order_id, seller_id, side="seller")
    order.move_to(status)
    setattr(order, f"{status}_at", now)
    record_step(session, f"order.{status}", order, actor_id, now)
    return order


def accept_order(
    session: Session,
    *,
    buyer_id: int,
    actor_id: int,
    order_id: int,
    accepted: dict[int, int],
    inspectors: str,
    test_outcome: TestOutcome,
    weights: str = "",
    note: str = "",
    photos: Sequence[tuple[str, bytes]] = (),
    folder: Path | None = None,
    now: datetime | None = None,
) -> Order:
    """The buyer's inspectors sign off what they accept of each line (a line not named is accepted in full);
    the seller is paid for that, less the fee, and the buyer gets the rest of its money back."""
    now = now or utcnow()
    order = order_of(session, order_id, buyer_id, side="buyer")
    if order.status not in (OrderStatus.shipped, OrderStatus.delivered):
        order.move_to(OrderStatus.accepted)  # refused, in the order's own words
    _accept_lines(order, accepted)
    order.inspection = Inspection(
        inspectors=inspectors,
        weights=weights,
        test_outcome=test_outcome,
        note=note,
        signed_by_id=actor_id,
        signed_at=now,
        photos=_stored_photos(session, buyer_id, photos, folder, now),
    )
    order.move_to(OrderStatus.accepted)
    order.accepted_at = now
    seller_fen = sum(line.accepted_quantity * line.price_fen for line in order.lines)
    _settle(session, order, seller_fen, "accept", actor_id, now)
    record_step(
        session,
        "order.accepted",
        order,
        actor_id,
        now,
        accepted_fen=seller_fen,
        inspectors=inspectors,
    )
    _record_custody(session, order, "delivery.accepted", lambda line: line.accepted_quantity, now)
    return order


def _stored_photos(session, buyer_id, photos, folder, now) -> list[InspectionPhoto]:
    return [
        InspectionPhoto(
            upload=store_upload(
                session,
                organisation_id=buyer_id,
                kind=UploadKind.photo,
                filename=filename,
                data=data,
                folder=folder,
                field="photos",
                now=now,
            )
        )
        for filename, data in photos
    ]


def _settle(session, order: Order, seller_fen: int, step: str, actor_id, now) -> None:
    """Share the held money out, invoice an order on account, and complete the order if the seller's
    share has already left the platform."""
    if money.share_out(session, order, seller_fen=seller_fen, step=step, actor_id=actor_id):
        order.move_to(OrderStatus.completed)
        order.completed_at = now
    money.invoice(session, order, now=now)


def _accept_lines(order: Order, accepted: dict[int, int]) -> None:
    lines = {line.id: line for line in order.lines}
    unknown = set(accepted) - set(lines)
    if unknown:
        raise RuleViolation(
            _("Order %(id)s has no line %(line)s.", id=order.id, line=min(unknown)), field="lines"
        )
    for line in order.lines:
        quantity = accepted.get(line.id, line.quantity)
        if not 0 <= quantity <= line.quantity:
            raise RuleViolation(
                _(
                    "You can accept from 0 to the %(n)d %(unit)s of “%(title)s” that were shipped.",
                    n=line.quantity,
                    unit=line.unit_code,
                    title=line.title,
                ),
                field=f"lines.{line.id}",
            )
        line.accepted_quantity = quantity


def open_dispute(
    session: Session,
    *,
    buyer_id: int,
    actor_id: int,
    order_id: int,
    reason: str,
    now: datetime | None = None,
) -> Order:
    """The buyer disagrees with a delivery: the money stays held until an admin decides."""
    now = now or utcnow()
    order = order_of(session, order_id, buyer_id, side="buyer")
    if not reason.strip():
        raise RuleViolation(_("Say what is wrong with the delivery."), field="reason")
    order.move_to(OrderStatus.disputed)
    order.dispute = Dispute(reason=reason, opened_by_id=actor_id, opened_at=now)
    record_step(session, "order.disputed", order, actor_id, now, reason=reason)
    return order


def resolve_dispute(
    session: Session,
    *,
    actor_id: int,
    order_id: int,
    refund_fen: int,
    resolution: str,
    now: datetime | None = None,
) -> Order:
    """An admin decides: the buyer gets `refund_fen` back, the seller the rest less the fee."""
    now = now or utcnow()
    order = session.get(Order, order_id, with_for_update=True)
    if order is None or order.dispute is None:
        raise RuleViolation(_("Order %(id)s has no dispute.", id=order_id), field="order_id")
    if not 0 <= refund_fen <= order.total_fen:
        raise RuleViolation(
            _("The refund can be from ¥0 to the ¥%(total).2f paid.", total=order.total_fen / 100),
            field="refund_yuan",
        )
    if not resolution.strip():
        raise RuleViolation(_("Write down the decision and why."), field="resolution")
    order.move_to(OrderStatus.resolved)
    dispute = order.dispute
    dispute.refund_fen, dispute.resolution = refund_fen, resolution
    dispute.resolved_by_id, dispute.resolved_at = actor_id, now
    _settle(session, order, order.total_fen - refund_fen, "resolve", actor_id, now)
    record_step(session, "order.resolved", order, actor_id, now, refund_fen=refund_fen)
    return order


def _record_custody(session: Session, order: Order, kind: str, quantity_of, now: datetime) -> None:
    """A step in each shipped batch's public chain of custody (quantities, never who bought)."""
    for line in order.lines:
        if line.batch_id is None:
            continue
        events.record(
            session,
            kind,
            organisation_id=order.seller_id,
            subject=f"batch:{line.batch_id}",
            payload={"quantity": quantity_of(line), "unit": line.unit_code, "order_id": order.id},
            now=now,
        )
