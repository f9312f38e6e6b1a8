"""Listing use cases: put produce up for sale, change it, pause it, adjust its stock, let it expire."""

from datetime import date, datetime, time, timedelta
from pathlib import Path

from flask_babel import gettext as _
from sqlalchemy import update
from sqlalchemy.orm import Session

from app import events
from app.catalog.models import (
    Listing,
    ListingPhoto,
    ListingPrice,
    ListingSearch,
    ListingStatus,
    StockKind,
    StockMovement,
    visibility_mask,
)
from app.catalog.references import References
from app.catalog.search import document_terms
from app.db import LOCAL_TIME, utcnow
from app.errors import NotFound, PermissionDenied, RuleViolation
from app.uploads import UploadKind, discard_upload, store_upload

MAX_PHOTOS = 8
# What a listing's owner may change directly; stock moves only through adjust_stock, with a reason.
EDITABLE = frozenset(
    {
        "title",
        "description",
        "grade",
        "batch",
        "unit",
        "price_fen",
        "min_order",
        "packaging",
        "production_date",
        "shelf_life_days",
        "town",
        "village",
        "organic",
        "green_food",
        "geographical_indication",
        "commitment_certificate",
        "visible_to",
    }
)


def create_listing(
    session: Session,
    *,
    organisation_id: int,
    actor_id: int,
    publish: bool = True,
    now: datetime | None = None,
    references: References | None = None,
    **fields,
) -> Listing:
    """Put produce up: a product of a grade, from a batch, at a price per unit, with stock to sell.

    `fields` are product, grade, price_fen and quantity, and optionally batch, unit, title, description,
    min_order, packaging, production_date, shelf_life_days, town, village, the certifications, and
    visible_to (buyer kinds; empty is everyone).
    """
    now = now or utcnow()
    references = references or References(session, organisation_id)
    listing = new_listing(references, organisation_id=organisation_id, now=now, **fields)
    session.add(listing)
    session.flush()  # the stock history, the search row and the event name the listing
    _move_stock(
        session, listing, StockKind.listed, listing.quantity, _("First stock"), actor_id, now
    )
    _index(session, listing)
    _record(
        session,
        "listing.created",
        listing,
        actor_id,
        now,
        title=listing.title,
        quantity=listing.quantity,
    )
    if publish:
        listing.publish(now)
        _record(session, "listing.published", listing, actor_id, now, title=listing.title)
    return listing


def note_price_change(session: Session, listing: Listing, price_before: int, now: datetime) -> None:
    """Keep the price a listing had until now, when it changed: deals look back on the last 30 days."""
    if listing.price_fen != price_before:
        session.add(ListingPrice(listing_id=listing.id, price_fen=price_before, ended_at=now))


def new_listing(
    references: References,
    *,
    organisation_id: int,
    product: str,
    quantity: int,
    now: datetime,
    unit: str | None = None,
    **fields,
) -> Listing:
    """A listing checked against the catalogue and the seller's batches, not yet saved."""
    found = references.product(product)
    listing = Listing(
        organisation_id=organisation_id,
        product=found,
        category_id=found.category_id,
        quantity=quantity,
        created_at=now,
        status=ListingStatus.draft,
    )
    _apply(references, listing, now=now, unit=unit or found.default_unit_code, **fields)
    listing.title = listing.title or f"{found.name_zh} {listing.grade.name_zh}"
    return listing


def update_listing(
    session: Session,
    *,
    organisation_id: int,
    actor_id: int,
    listing_id: int,
    now: datetime | None = None,
    **changes,
) -> Listing:
    """Change a listing's particulars (not its stock, which moves with a reason through adjust_stock)."""
    now = now or utcnow()
    unknown = set(changes) - EDITABLE
    if unknown:
        raise RuleViolation(
            _("These cannot be changed here: %(names)s.", names=", ".join(sorted(unknown)))
        )
    listing = own_listing(session, organisation_id, listing_id)
    current = {
        "grade": listing.grade.code,
        "unit": listing.unit_code,
        "batch": listing.batch.code if listing.batch else None,
    }
    price_before = listing.price_fen
    _apply(References(session, organisation_id), listing, now=now, **{**current, **changes})
    note_price_change(session, listing, price_before, now)
    listing.settle_status(now)
    _index(session, listing)
    _record(session, "listing.updated", listing, actor_id, now, fields=sorted(changes))
    return listing


def change_listing(
    session: Session,
    *,
    organisation_id: int,
    actor_id: int,
    listing_id: int,
    status: ListingStatus | str | None = None,
    **changes,
) -> Listing:
    """Change a listing's particulars and, if asked, put it on sale ("active") or take it off ("paused")."""
    mine = {"organisation_id": organisation_id, "actor_id": actor_id, "listing_id": listing_id}
    listing = own_listing(session, organisation_id, listing_id)
    if changes:
        update_listing(session, **mine, **changes)
    if status == ListingStatus.paused:
        pause_listing(session, **mine)
    elif status == ListingStatus.active:
        publish_listing(session, **mine)
    elif status is not None:
        raise RuleViolation(_("A listing can only be put on sale or paused here."), field="status")
    return listing


def publish_listing(
    session: Session,
    *,
    organisation_id: int,
    actor_id: int,
    listing_id: int,
    now: datetime | None = None,
) -> Listing:
    """Put a draft or paused listing on sale."""
    now = now or utcnow()
    listing = own_listing(session, organisation_id, listing_id)
    listing.publish(now)
    _record(session, "listing.published", listing, actor_id, now, title=listing.title)
    return listing


def pause_listing(
    session: Session,
    *,
    organisation_id: int,
    actor_id: int,
    listing_id: int,
    now: datetime | None = None,
) -> Listing:
    """Take a listing off sale for a while."""
    listing = own_listing(session, organisation_id, listing_id)
    listing.pause()
    _record(session, "listing.paused", listing, actor_id, now)
    return listing


def adjust_stock(
    session: Session,
    *,
    organisation_id: int,
    actor_id: int,
    listing_id: int,
    change: int,
    reason: str,
    now: datetime | None = None,
) -> Listing:
    """Add stock (a new picking) or take it away (spoiled, sold elsewhere), saying why."""
    now = now or utcnow()
    listing = own_listing(session, organisation_id, listing_id)
    if change == 0:
        raise RuleViolation(_("Enter how much to add (+) or take away (−)."), field="change")
    # One statement, so an order taking stock at the same moment can never be overwritten.
    balance = session.scalar(
        update(Listing)
        .where(Listing.id == listing.id, Listing.quantity + change >= 0)
        .values(quantity=Listing.quantity + change)
        .returning(Listing.quantity)
    )
    if balance is None:
        raise RuleViolation(
            _("Only %(n)d left; you cannot take away more than that.", n=listing.quantity),
            field="change",
        )
    session.refresh(listing, ["quantity"])
    listing.settle_status(now)
    _move_stock(session, listing, StockKind.adjusted, change, reason, actor_id, now)
    _record(
        session,
        "listing.stock_adjusted",
        listing,
        actor_id,
        now,
        change=change,
        balance=balance,
        reason=reason,
    )
    return listing


def add_listing_photo(
    session: Session,
    *,
    organisation_id: int,
    listing_id: int,
    filename: str,
    data: bytes,
    folder: Path,
    field: str = "photo",
) -> ListingPhoto:
    """Show an uploaded photo on a listing (after the ones it has); `field` names the form's input."""
    listing = own_listing(session, organisation_id, listing_id, lock=True)
    if len(listing.photos) >= MAX_PHOTOS:
        raise RuleViolation(
            _("A listing shows up to %(count)d photos; remove one first.", count=MAX_PHOTOS),
            field=field,
        )
    upload = store_upload(
        session,
        organisation_id=organisation_id,
        kind=UploadKind.photo,
        filename=filename,
        data=data,
        folder=folder,
        field=field,
    )
    photo = ListingPhoto(upload=upload, position=len(listing.photos))
    listing.photos.append(photo)
    return photo


def remove_listing_photo(
    session: Session, *, organisation_id: int, listing_id: int, photo_id: int, folder: Path
) -> None:
    """Take a photo off a listing and delete it (no one can fetch it afterwards); the next one leads."""
    listing = own_listing(session, organisation_id, listing_id, lock=True)
    photo = next((p for p in listing.photos if p.id == photo_id), None)
    if photo is None:
        raise NotFound(_("That photo is not on this listing."))
    listing.photos.remove(photo)
    discard_upload(session, photo.upload, folder=folder)
    for position, kept in enumerate(listing.photos):
        kept.position = position


def expire_listings(session: Session, *, now: datetime | None = None) -> int:
    """Take every listing past its shelf life off sale (searches already hide them; this makes it show)."""
    now = now or utcnow()
    expired = session.scalars(
        update(Listing)
        .where(
            Listing.expires_at <= now,
            Listing.status.in_(
                [ListingStatus.active, ListingStatus.paused, ListingStatus.sold_out]
            ),
        )
        .values(status=ListingStatus.expired)
        .returning(Listing.id)
    ).all()
    if expired:
        events.record(session, "listing.expired", payload={"listing_ids": sorted(expired)}, now=now)
    return len(expired)


def own_listing(
    session: Session, organisation_id: int, listing_id: int, *, lock: bool = False
) -> Listing:
    """The listing, if it belongs to `organisation_id` (another seller's is refused, not hidden)."""
    listing = session.get(Listing, listing_id, with_for_update=lock)
    if listing is None:
        raise NotFound(_("That listing does not exist."))
    if listing.organisation_id != organisation_id:
        raise PermissionDenied(_("This listing belongs to another seller."))
    return listing


# --- the rules every change of a listing follows ------------------------------------------------------


def _apply(references: References, listing: Listing, *, now: datetime, **values) -> None:
    """Set a listing's particulars, checking what refers to the catalogue or to a batch."""
    product = listing.product
    if "grade" in values:
        listing.grade = references.grade(product, values.pop("grade"))
    if "unit" in values:
        listing.unit = references.unit(values.pop("unit"))
    if "batch" in values:
        listing.batch = references.batch(product, values.pop("batch"))
    if "visible_to" in values:
        listing.visible_to = visibility_mask(values.pop("visible_to"))
    for name, value in values.items():
        setattr(listing, name, value)
    if listing.batch is not None:
        listing.town = listing.town or listing.batch.town
        listing.village = listing.village or listing.batch.village
    listing.price_per_kg_fen = per_kg(listing.price_fen, listing.unit.grams)
    listing.expires_at = expiry(listing.production_date, listing.shelf_life_days)
    on_sale = listing.status in (ListingStatus.active, ListingStatus.sold_out, ListingStatus.paused)
    if on_sale and listing.is_expired(now):
        raise RuleViolation(
            _("With this production date and shelf life the produce has already expired."),
            field="shelf_life_days",
        )


def per_kg(price_fen: int, grams: int) -> int:
    """The price per kg in fen, rounded half up: what lets a box and a 斤 be compared."""
    return (price_fen * 1000 + grams // 2) // grams


def per_jin(price_per_kg_fen: int) -> int:
    """The price per 斤 (500 g) in fen, rounded half up as per_kg rounds."""
    return (price_per_kg_fen + 1) // 2


def expiry(production_date: date | None, shelf_life_days: int | None) -> datetime | None:
    """The end of the last good day, in Meitan's time."""
    if production_date is None or shelf_life_days is None:
        return None
    last_day = production_date + timedelta(days=shelf_life_days)
    return datetime.combine(last_day, time(), tzinfo=LOCAL_TIME)


def _move_stock(
    session: Session,
    listing: Listing,
    kind: StockKind,
    delta: int,
    reason: str,
    actor_id: int | None,
    now: datetime,
) -> None:
    session.add(
        StockMovement(
            listing_id=listing.id,
            kind=kind,
            delta=delta,
            balance=listing.quantity,
            reason=reason,
            actor_id=actor_id,
            created_at=now,
        )
    )


def search_document(listing: Listing) -> str:
    """The words a listing is found by: its own, its product's names and aliases in both languages, its
    category's, its grade's, where it comes from, and its batch code."""
    product, category = listing.product, listing.product.category
    parent = category.parent
    return document_terms(
        listing.title,
        listing.description,
        product.name_zh,
        product.name_en,
        product.aliases,
        category.name_zh,
        category.name_en,
        parent.name_zh if parent else "",
        parent.name_en if parent else "",
        listing.grade.name_zh,
        listing.grade.name_en,
        listing.town,
        listing.village,
        listing.batch.code if listing.batch else "",
    )


def _index(session: Session, listing: Listing) -> None:
    row = session.get(ListingSearch, listing.id)
    if row is None:
        session.add(ListingSearch(listing_id=listing.id, document=search_document(listing)))
    else:
        row.document = search_document(listing)


def _record(
    session: Session,
    event_kind: str,
    listing: Listing,
    actor_id: int | None,
    now: datetime | None,
    /,
    **payload,
) -> None:
    events.record(
        session,
        event_kind,
        organisation_id=listing.organisation_id,
        actor_id=actor_id,
        subject=f"listing:{listing.id}",
        payload=payload,
        now=now,
    )
