"""Stock set aside for one channel (a flash deal): opened from a listing, taken by buyers within a per-buyer
limit, given back when an order is cancelled, and returned to the listing when the reserve closes.

Every change is one conditional UPDATE (or an upsert) on the contested row, taken in the same order by every
writer (the buyer's share, then the reserve, then the listing), so two buyers can never both take the last
unit or both go past their limit, on SQLite and PostgreSQL alike. Each change records a `stock.reserve` event
under the reserve's channel, with what is left and a version that only grows, so live pages can follow it.
"""

from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import case, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app import events
from app.catalog.models import (
    Listing,
    ListingStatus,
    ReserveTaker,
    StockKind,
    StockMovement,
    StockReserve,
)
from app.db import utcnow
from app.errors import Conflict, RuleViolation

EVENT = "stock.reserve"


def open_reserve(
    session: Session,
    *,
    listing_id: int,
    quantity: int,
    channel: str,
    per_buyer_limit: int | None = None,
    actor_id: int | None = None,
    now: datetime | None = None,
) -> StockReserve:
    """Set `quantity` of a listing's stock aside; refused if the listing has less than that now."""
    now = now or utcnow()
    balance = session.scalar(
        update(Listing)
        .where(Listing.id == listing_id, Listing.quantity >= quantity)
        .values(
            quantity=Listing.quantity - quantity,
            status=case(
                (
                    (Listing.quantity == quantity) & (Listing.status == ListingStatus.active),
                    ListingStatus.sold_out,
                ),
                else_=Listing.status,
            ),
        )
        .returning(Listing.quantity)
        .execution_options(synchronize_session=False)
    )
    if balance is None:
        left = session.scalar(select(Listing.quantity).where(Listing.id == listing_id))
        raise RuleViolation(
            _("The listing has only %(n)d in stock; set aside that much or less.", n=left or 0),
            field="stock",
        )
    listing = session.get(Listing, listing_id)
    session.refresh(listing, ["quantity", "status"])
    reserve = StockReserve(
        listing_id=listing_id,
        channel=channel,
        held=quantity,
        per_buyer_limit=per_buyer_limit,
        opened_at=now,
    )
    session.add(reserve)
    session.flush()  # the stock movement names the reserve
    _move_stock(session, listing_id, StockKind.reserved, -quantity, balance, reserve, actor_id, now)
    return reserve


def check_reserve(
    session: Session, *, reserve_id: int, buyer_id: int, quantity: int, unit: str = ""
) -> None:
    """Refuse at once what plainly cannot be had (more than the limit, more than is left, a closed
    reserve), without locking anything; take_from_reserve decides for certain."""
    reserve = session.get(StockReserve, reserve_id)
    if reserve.per_buyer_limit is not None and quantity > reserve.per_buyer_limit:
        _over_limit(session, reserve, reserve.per_buyer_limit, buyer_id, unit)
    if reserve.closed_at is not None or reserve.left < quantity:
        raise Conflict(_sold_out_message(session, reserve_id, unit), field="quantity")


def take_from_reserve(
    session: Session, *, reserve_id: int, buyer_id: int, quantity: int, unit: str = ""
) -> int:
    """Take `quantity` for a buyer: what is left afterwards. Refused (and nothing taken) when the buyer
    would pass the per-buyer limit, or the reserve has less than that left, or has closed."""
    reserve = session.get(StockReserve, reserve_id)
    if reserve.per_buyer_limit is not None:
        _count_against_limit(session, reserve, buyer_id, quantity, unit)
    row = session.execute(
        update(StockReserve)
        .where(
            StockReserve.id == reserve_id,
            StockReserve.closed_at.is_(None),
            StockReserve.taken + quantity <= StockReserve.held,
        )
        .values(taken=StockReserve.taken + quantity, version=StockReserve.version + 1)
        .returning(*_CHANGING)
        .execution_options(synchronize_session=False)
    ).first()
    if row is None:
        raise Conflict(_sold_out_message(session, reserve_id, unit), field="quantity")
    _settle(reserve, row)
    _record(session, reserve, left=reserve.left, version=reserve.version)
    return reserve.left


def _count_against_limit(session, reserve, buyer_id, quantity, unit) -> None:
    """Add to the buyer's share in one upsert that refuses to pass the limit (a twin request waits here)."""
    limit = reserve.per_buyer_limit
    if quantity <= limit:
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        statement = dialect.insert(ReserveTaker).values(
            reserve_id=reserve.id, buyer_id=buyer_id, quantity=quantity
        )
        held = session.scalar(
            statement.on_conflict_do_update(
                index_elements=["reserve_id", "buyer_id"],
                set_={"quantity": ReserveTaker.quantity + quantity},
                where=ReserveTaker.quantity + quantity <= limit,
            ).returning(ReserveTaker.quantity)
        )
        if held is not None:
            return
    _over_limit(session, reserve, limit, buyer_id, unit)


def _over_limit(session, reserve: StockReserve, limit: int, buyer_id: int, unit) -> None:
    already = session.scalar(
        select(ReserveTaker.quantity).where(
            ReserveTaker.reserve_id == reserve.id, ReserveTaker.buyer_id == buyer_id
        )
    )
    raise RuleViolation(
        _(
            "Each customer may buy at most %(limit)d %(unit)s in this deal; you have %(had)d, so at "
            "most %(more)d more.",
            limit=limit,
            unit=unit,
            had=already or 0,
            more=max(limit - (already or 0), 0),
        ),
        field="quantity",
    )


def _sold_out_message(session, reserve_id: int, unit: str) -> str:
    reserve = session.scalar(
        select(StockReserve)
        .where(StockReserve.id == reserve_id)
        .execution_options(populate_existing=True)
    )
    if reserve.closed_at is not None:
        return _("This deal has ended.")
    if reserve.left <= 0:
        return _("Sold out: the deal has no stock left.")
    return _(
        "Only %(n)d %(unit)s left in the deal; buy that many or fewer.", n=reserve.left, unit=unit
    )


def give_back(session: Session, *, reserve_id: int, buyer_id: int, quantity: int, now=None) -> None:
    """A cancelled order's units go back to the reserve (or, once it has closed, to the listing), and the
    buyer's share shrinks again."""
    session.execute(
        update(ReserveTaker)
        .where(ReserveTaker.reserve_id == reserve_id, ReserveTaker.buyer_id == buyer_id)
        .values(quantity=ReserveTaker.quantity - quantity)
        .execution_options(synchronize_session=False)
    )
    row = session.execute(
        update(StockReserve)
        .where(StockReserve.id == reserve_id)
        .values(taken=StockReserve.taken - quantity, version=StockReserve.version + 1)
        .returning(*_CHANGING)
        .execution_options(synchronize_session=False)
    ).one()
    reserve = session.get(StockReserve, reserve_id)
    _settle(reserve, row)
    if reserve.closed_at is not None:
        _to_listing(session, reserve, quantity, None, now or utcnow())
    _record(session, reserve, left=reserve.left, version=reserve.version)


def close_reserve(
    session: Session, *, reserve_id: int, actor_id: int | None = None, now=None
) -> int:
    """Close a reserve, its unsold units back on the listing: how many went back (0 if it was closed)."""
    now = now or utcnow()
    row = session.execute(
        update(StockReserve)
        .where(StockReserve.id == reserve_id, StockReserve.closed_at.is_(None))
        .values(closed_at=now, version=StockReserve.version + 1)
        .returning(*_CHANGING)
        .execution_options(synchronize_session=False)
    ).first()
    if row is None:
        return 0
    reserve = session.get(StockReserve, reserve_id)
    _settle(reserve, row)
    if reserve.left:
        _to_listing(session, reserve, reserve.left, actor_id, now)
    _record(session, reserve, left=0, version=reserve.version, closed=True)
    return reserve.left


# What every change of a reserve returns, so the reserve in the session stays true without another read.
_CHANGING = (StockReserve.taken, StockReserve.version, StockReserve.closed_at)


def _settle(reserve: StockReserve, row) -> None:
    for name, value in zip(("taken", "version", "closed_at"), row, strict=True):
        set_committed_value(reserve, name, value)


def _to_listing(session, reserve: StockReserve, quantity: int, actor_id, now) -> None:
    balance = session.scalar(
        update(Listing)
        .where(Listing.id == reserve.listing_id)
        .values(quantity=Listing.quantity + quantity)
        .returning(Listing.quantity)
        .execution_options(synchronize_session=False)
    )
    listing = session.get(Listing, reserve.listing_id)
    session.refresh(listing, ["quantity", "status"])
    listing.settle_status(now)
    _move_stock(
        session, reserve.listing_id, StockKind.unreserved, quantity, balance, reserve, actor_id, now
    )


def _move_stock(session, listing_id, kind, delta, balance, reserve, actor_id, now) -> None:
    session.execute(
        insert(StockMovement).values(
            listing_id=listing_id,
            kind=kind,
            delta=delta,
            balance=balance,
            reason=f"reserve:{reserve.id}",
            actor_id=actor_id,
            created_at=now,
        )
    )


def _record(session, reserve: StockReserve, **payload) -> None:
    events.record(
        session,
        EVENT,
        organisation_id=None,
        subject=reserve.channel,
        payload={"reserve_id": reserve.id, "listing_id": reserve.listing_id, **payload},
    )
