"""What viewers are shown of a pinned listing and of a flash deal: the same dictionaries for the page's
first state, for the API, and inside the events that update them live."""

from datetime import datetime

from app.catalog.models import Listing
from app.live.models import FlashDeal


def listing_card(listing: Listing) -> dict:
    return {
        "listing_id": listing.id,
        "title": listing.title,
        "price_fen": listing.price_fen,
        "unit": listing.unit_code,
        "stock": listing.quantity,
        "min_order": listing.min_order,
    }


def deal_card(deal: FlashDeal, *, left: int, version: int, now: datetime) -> dict:
    return {
        "deal_id": deal.id,
        "listing_id": deal.listing_id,
        "title": deal.listing.title,
        "unit": deal.listing.unit_code,
        "price_fen": deal.price_fen,
        "was_fen": deal.was_fen,
        "stock": deal.stock,
        "left": left,
        "version": version,
        "per_customer_limit": deal.per_customer_limit,
        "opens_at": deal.opens_at.isoformat(),
        "closes_at": deal.closes_at.isoformat(),
        "status": str(deal.status_at(now)),
    }
