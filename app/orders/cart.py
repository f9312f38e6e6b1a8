"""The cart: what a buyer means to order, kept in its signed session cookie until checkout.

Nothing is reserved by a cart; stock is taken only when the buyer checks out (app/orders/services.py).
"""

from dataclasses import dataclass

from flask import session
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.catalog.models import Listing

_KEY = "cart"
MAX_LINES = 100


def contents() -> dict[int, int]:
    """Listing id -> quantity, in the order they were added."""
    return {int(listing_id): quantity for listing_id, quantity in session.get(_KEY, {}).items()}


def put(listing_id: int, quantity: int) -> None:
    """Set a line's quantity (0 removes it)."""
    lines = {str(key): value for key, value in contents().items()}
    if quantity <= 0:
        lines.pop(str(listing_id), None)
    elif str(listing_id) in lines or len(lines) < MAX_LINES:
        lines[str(listing_id)] = quantity
    session[_KEY] = lines


def empty() -> None:
    session.pop(_KEY, None)


@dataclass(frozen=True)
class CartLine:
    listing: Listing
    quantity: int

    @property
    def amount_fen(self) -> int:
        return self.quantity * self.listing.price_fen


def lines_by_seller(reads: Session) -> dict[int, list[CartLine]]:
    """The cart's lines with their listings as they are now, grouped by seller (one order each)."""
    wanted = contents()
    listings = {
        listing.id: listing
        for listing in reads.scalars(
            select(Listing)
            .where(Listing.id.in_(wanted))
            .options(selectinload(Listing.seller), selectinload(Listing.unit))
        )
    }
    grouped: dict[int, list[CartLine]] = {}
    for listing_id, quantity in wanted.items():
        listing = listings.get(listing_id)
        if listing is not None:
            grouped.setdefault(listing.organisation_id, []).append(CartLine(listing, quantity))
    return grouped
