"""Electronic warehouse receipts (仓单): issued by an approved warehouse after weighing and grading, split and
merged by their holder, offered to back a sale, moved to the buyer on a trade, and released when the tea
leaves the warehouse.

A receipt backs one offer at a time: offering it is one conditional UPDATE from `held` to `offered`, so the
same receipt can never be sold (or offered) twice, whoever tries at the same moment. Offering part of a
receipt first splits that part off, by a conditional UPDATE of the kilograms left.
"""

import secrets
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app import events
from app.accounts.models import Organisation
from app.catalog.models import Batch
from app.db import local_date, utcnow
from app.errors import Conflict, NotFound, RuleViolation
from app.exchange.instruments import check_product_grade
from app.exchange.models import (
    RECEIPT_LABELS,
    Instrument,
    MoveKind,
    Receipt,
    ReceiptMove,
    ReceiptStatus,
)


def receipt_number(now: datetime) -> str:
    """A new receipt's number: the day it was issued and a random part."""
    return f"WR{local_date(now):%y%m%d}-{secrets.token_hex(6).upper()}"


def issue_receipt(
    session: Session,
    *,
    warehouse_id: int,
    actor_id: int,
    holder_id: int,
    product_id: int,
    grade_id: int,
    net_kg: int,
    packages: int,
    batch_code: str = "",
    inspection: str = "",
    now: datetime | None = None,
) -> Receipt:
    """Issue a receipt to the depositor for a lot the warehouse has weighed and graded."""
    now = now or utcnow()
    if net_kg <= 0 or packages <= 0:
        raise RuleViolation(_("A receipt is for at least one kg in one package."), field="net_kg")
    if session.get(Organisation, holder_id) is None:
        raise RuleViolation(_("No member with that number."), field="holder_id")
    check_product_grade(session, product_id, grade_id)
    batch_id = None
    if batch_code:
        batch_id = session.scalar(select(Batch.id).where(Batch.code == batch_code))
        if batch_id is None:
            raise RuleViolation(
                _("No batch has the code %(code)s.", code=batch_code), field="batch_code"
            )
    receipt = Receipt(
        number=receipt_number(now),
        warehouse_id=warehouse_id,
        holder_id=holder_id,
        product_id=product_id,
        grade_id=grade_id,
        batch_id=batch_id,
        net_kg=net_kg,
        packages=packages,
        inspection=inspection,
        issued_at=now,
    )
    session.add(receipt)
    session.flush()  # the history and the event name the receipt
    note_move(session, receipt, MoveKind.issued, net_kg, actor_id=actor_id, now=now)
    record_receipt_event(session, "exchange.receipt_issued", receipt, actor_id, now, kg=net_kg)
    return receipt


def record_receipt_event(
    session: Session, kind: str, receipt: Receipt, actor_id: int, now: datetime, **payload
) -> None:
    """An event about the receipt, for its holder, naming its number."""
    events.record(
        session,
        kind,
        organisation_id=receipt.holder_id,
        actor_id=actor_id,
        subject=f"receipt:{receipt.id}",
        payload={"number": receipt.number, **payload},
        now=now,
    )


def own_receipt(session: Session, holder_id: int, receipt_id: int) -> Receipt:
    receipt = session.get(Receipt, receipt_id)
    if receipt is None or receipt.holder_id != holder_id:
        raise NotFound(_("You hold no such receipt."))
    return receipt


def issued_receipt(session: Session, warehouse_id: int, receipt_id: int) -> Receipt:
    receipt = session.get(Receipt, receipt_id)
    if receipt is None or receipt.warehouse_id != warehouse_id:
        raise NotFound(_("This warehouse issued no such receipt."))
    return receipt


def split_receipt(
    session: Session,
    *,
    holder_id: int,
    actor_id: int,
    receipt_id: int,
    kg: int,
    now: datetime | None = None,
) -> Receipt:
    """Split `kg` off a held receipt into a new receipt of the same holder (the rest stays on the old one)."""
    now = now or utcnow()
    receipt = own_receipt(session, holder_id, receipt_id)
    return _split(session, receipt, kg, ReceiptStatus.held, actor_id=actor_id, now=now)


def _split(
    session: Session,
    receipt: Receipt,
    kg: int,
    status: ReceiptStatus,
    *,
    actor_id: int | None,
    now: datetime,
) -> Receipt:
    if not 0 < kg < receipt.net_kg:
        raise RuleViolation(
            _("Split off between 1 and %(n)d kg.", n=receipt.net_kg - 1), field="kg"
        )
    packages = _take_kg(
        session,
        receipt,
        kg,
        Receipt.status == ReceiptStatus.held,
        Receipt.holder_id == receipt.holder_id,
        Receipt.net_kg > kg,
    )
    part = Receipt(
        number=receipt_number(now),
        warehouse_id=receipt.warehouse_id,
        holder_id=receipt.holder_id,
        product_id=receipt.product_id,
        grade_id=receipt.grade_id,
        batch_id=receipt.batch_id,
        net_kg=kg,
        packages=packages,
        inspection=receipt.inspection,
        parent_id=receipt.id,
        status=status,
        issued_at=now,
    )
    session.add(part)
    session.flush()  # the history names the new receipt
    note_move(session, receipt, MoveKind.split, -kg, other=part, actor_id=actor_id, now=now)
    note_move(session, part, MoveKind.split, kg, other=receipt, actor_id=actor_id, now=now)
    return part


def _take_kg(session: Session, receipt: Receipt, kg: int, *still) -> int:
    """Take `kg` off the receipt, while `still` holds, with their share of its packages (at least one,
    leaving at least one with what is left): how many packages went. Refused if another change got there
    first."""
    taken = session.execute(
        update(Receipt)
        .where(Receipt.id == receipt.id, *still)
        .values(net_kg=Receipt.net_kg - kg)
        .returning(Receipt.net_kg, Receipt.packages)
        .execution_options(synchronize_session=False)
    ).one_or_none()
    if taken is None:
        raise _taken(session, receipt)
    left, packages = taken
    moved, kept = share_packages(packages, kg, left)
    session.execute(
        update(Receipt)
        .where(Receipt.id == receipt.id)  # locked by the UPDATE above until the transaction ends
        .values(packages=kept)
        .execution_options(synchronize_session=False)
    )
    set_committed_value(receipt, "net_kg", left)
    set_committed_value(receipt, "packages", kept)
    return moved


def share_packages(packages: int, kg: int, left: int) -> tuple[int, int]:
    """How `packages` divide when `kg` is taken and `left` kg stay: (moved, kept), at least one each while
    anything stays."""
    moved = max(1, packages * kg // (kg + left)) if left else packages
    kept = max(1, packages - moved) if left else 0
    return moved, kept


def merge_receipts(
    session: Session,
    *,
    holder_id: int,
    actor_id: int,
    receipt_ids: list[int],
    now: datetime | None = None,
) -> Receipt:
    """Fold held receipts of one product, grade and warehouse into the first of them."""
    now = now or utcnow()
    receipts = [own_receipt(session, holder_id, receipt_id) for receipt_id in receipt_ids]
    into, others = receipts[0], receipts[1:]
    if not others:
        raise RuleViolation(_("Choose at least two receipts to merge."), field="receipt_ids")
    same = {(r.product_id, r.grade_id, r.warehouse_id) for r in receipts}
    if len(same) > 1:
        raise RuleViolation(
            _("Only receipts of one product and grade in one warehouse merge."), field="receipt_ids"
        )
    for other in others:
        # Only while it holds what was read: a part split off at the same moment stays out of the sum.
        change_status(session, other, ReceiptStatus.held, ReceiptStatus.merged, net_kg=other.net_kg)
        note_move(
            session, other, MoveKind.merged, -other.net_kg, other=into, actor_id=actor_id, now=now
        )
        note_move(
            session, into, MoveKind.merged, other.net_kg, other=other, actor_id=actor_id, now=now
        )
    added_kg = sum(other.net_kg for other in others)
    added_packages = sum(other.packages for other in others)
    changed = session.execute(
        update(Receipt)
        .where(Receipt.id == into.id, Receipt.status == ReceiptStatus.held)
        .values(net_kg=Receipt.net_kg + added_kg, packages=Receipt.packages + added_packages)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not changed:
        raise _taken(session, into)
    session.refresh(into)
    return into


def offer_receipt(
    session: Session,
    *,
    holder_id: int,
    receipt_id: int,
    instrument: Instrument,
    kg: int,
    actor_id: int | None,
    now: datetime,
) -> Receipt:
    """Set `kg` of a held receipt aside to back a sale on `instrument`: the receipt itself when it is
    exactly that size, else a part split off it. Refused if it is already offered, sold or released."""
    receipt = own_receipt(session, holder_id, receipt_id)
    if (receipt.product_id, receipt.grade_id) != (instrument.product_id, instrument.grade_id):
        raise RuleViolation(
            _(
                "This receipt is not for the product and grade %(symbol)s trades.",
                symbol=instrument.symbol,
            ),
            field="receipt_id",
        )
    if kg > receipt.net_kg:
        raise RuleViolation(
            _("The receipt holds %(held)d kg; this needs %(kg)d kg.", held=receipt.net_kg, kg=kg),
            field="receipt_id",
        )
    if kg < receipt.net_kg:
        offered = _split(session, receipt, kg, ReceiptStatus.offered, actor_id=actor_id, now=now)
    else:
        # Only while it still holds all of it: a part may have been split off since it was read.
        change_status(session, receipt, ReceiptStatus.held, ReceiptStatus.offered, net_kg=kg)
        offered = receipt
    note_move(session, offered, MoveKind.offered, 0, actor_id=actor_id, now=now)
    return offered


def withdraw_offer(
    session: Session, receipt: Receipt, *, actor_id: int | None, now: datetime
) -> None:
    """What is left of an offered receipt goes back to its holder, free again (or is closed if none is)."""
    status = ReceiptStatus.held if receipt.net_kg else ReceiptStatus.sold
    change_status(session, receipt, ReceiptStatus.offered, status)
    note_move(session, receipt, MoveKind.withdrawn, 0, actor_id=actor_id, now=now)


def transfer(
    session: Session,
    offered: Receipt,
    *,
    buyer_id: int,
    kg: int,
    now: datetime,
) -> Receipt:
    """Move `kg` of an offered receipt to the buyer, as a new receipt the buyer holds."""
    packages = _take_kg(
        session, offered, kg, Receipt.status == ReceiptStatus.offered, Receipt.net_kg >= kg
    )
    bought = Receipt(
        number=receipt_number(now),
        warehouse_id=offered.warehouse_id,
        holder_id=buyer_id,
        product_id=offered.product_id,
        grade_id=offered.grade_id,
        batch_id=offered.batch_id,
        net_kg=kg,
        packages=packages,
        inspection=offered.inspection,
        parent_id=offered.id,
        issued_at=now,
    )
    session.add(bought)
    session.flush()  # the history names the buyer's receipt, and the trade points at it
    return bought


def note_traded(
    session: Session, offered: Receipt, bought: Receipt, *, trade_id: int, now: datetime
) -> None:
    """Write both sides of a trade's receipt move into the receipts' histories."""
    kg = bought.net_kg
    note_move(session, offered, MoveKind.traded, -kg, other=bought, trade_id=trade_id, now=now)
    note_move(session, bought, MoveKind.traded, kg, other=offered, trade_id=trade_id, now=now)


def release_receipt(
    session: Session,
    *,
    warehouse_id: int,
    actor_id: int,
    receipt_id: int,
    now: datetime | None = None,
) -> Receipt:
    """The holder has taken the tea out of the warehouse: the receipt is closed for good."""
    now = now or utcnow()
    receipt = issued_receipt(session, warehouse_id, receipt_id)
    change_status(
        session, receipt, ReceiptStatus.held, ReceiptStatus.released, net_kg=receipt.net_kg
    )
    note_move(session, receipt, MoveKind.released, -receipt.net_kg, actor_id=actor_id, now=now)
    record_receipt_event(
        session, "exchange.receipt_released", receipt, actor_id, now, kg=receipt.net_kg
    )
    return receipt


def change_status(
    session: Session,
    receipt: Receipt,
    was: ReceiptStatus,
    becomes: ReceiptStatus,
    *,
    net_kg: int | None = None,
) -> None:
    """Move the receipt from one status to another, refused if another change got there first (or, given
    `net_kg`, if it no longer holds exactly that much)."""
    still = [Receipt.id == receipt.id, Receipt.status == was]
    if net_kg is not None:
        still.append(Receipt.net_kg == net_kg)
    changed = session.execute(
        update(Receipt)
        .where(*still)
        .values(status=becomes)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not changed:
        raise _taken(session, receipt)
    set_committed_value(receipt, "status", becomes)


def _taken(session: Session, receipt: Receipt) -> Conflict:
    """Why a receipt could not be used: someone else's change got there first."""
    session.refresh(receipt, ["status", "net_kg"])
    if receipt.status == ReceiptStatus.held:  # still free, but part of it went at the same moment
        return Conflict(
            _(
                "Receipt %(number)s now holds %(kg)d kg: part of it was just used. Try again.",
                number=receipt.number,
                kg=receipt.net_kg,
            ),
            field="receipt_id",
        )
    return Conflict(
        _(
            "Receipt %(number)s is not free to use: it is %(status)s.",
            number=receipt.number,
            status=_(RECEIPT_LABELS[receipt.status]),
        ),
        field="receipt_id",
    )


def note_move(
    session: Session,
    receipt: Receipt,
    kind: MoveKind,
    kg: int,
    *,
    other: Receipt | None = None,
    trade_id: int | None = None,
    actor_id: int | None = None,
    now: datetime,
) -> None:
    session.add(
        ReceiptMove(
            receipt_id=receipt.id,
            kind=kind,
            kg=kg,
            holder_id=receipt.holder_id,
            other_receipt_id=other.id if other else None,
            trade_id=trade_id,
            actor_id=actor_id,
            created_at=now,
        )
    )
