"""Read-only selects for listing pages, sellers' own lists, trace pages, imports and the catalogue.

The market search (filters, facets, speed) is app/catalog/market.py."""

from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from app.accounts.models import Organisation, User
from app.auth import OrgKind
from app.catalog.market import market_conditions, visible_to
from app.catalog.models import (
    Batch,
    ImportStatus,
    Listing,
    ListingImport,
    ListingImportRow,
    ListingPhoto,
    ListingPrice,
    ListingStatus,
    Product,
    StockMovement,
    TestReport,
)
from app.db import Page, paginate
from app.events import Event
from app.uploads import Upload

# Loaded with the listings, so that nothing is fetched row by row: what a list of listings shows (a seller's
# own list, a trace page), and what one listing's page shows.
LIST_LOADS = (
    joinedload(Listing.grade),
    joinedload(Listing.unit),
    joinedload(Listing.seller).load_only(Organisation.name_zh, Organisation.name_en),
    selectinload(Listing.photos).joinedload(ListingPhoto.upload).load_only(Upload.token),
)
LISTING_LOADS = (
    joinedload(Listing.grade),
    joinedload(Listing.unit),
    joinedload(Listing.seller),
    selectinload(Listing.photos).joinedload(ListingPhoto.upload),
    joinedload(Listing.product),
    joinedload(Listing.category),
    joinedload(Listing.batch),
)


def listing_for(
    session: Session,
    listing_id: int,
    *,
    viewer_kind: OrgKind | None,
    viewer_organisation_id: int | None,
) -> Listing | None:
    """One listing as this viewer may see it: its seller always; others only if it is offered to their
    kind of buyer and is not a draft. None otherwise."""
    offered = and_(visible_to(viewer_kind), Listing.status != ListingStatus.draft)
    own = Listing.organisation_id == viewer_organisation_id
    query = (
        select(Listing)
        .where(Listing.id == listing_id, or_(own, offered) if viewer_organisation_id else offered)
        .options(*LISTING_LOADS, joinedload(Listing.product).joinedload(Product.category))
    )
    return session.scalar(query)


def seller_listings(
    session: Session, organisation_id: int, *, status: ListingStatus | None = None, page: int = 1
) -> Page:
    query = (
        select(Listing)
        .where(Listing.organisation_id == organisation_id)
        .options(*LIST_LOADS)
        .order_by(Listing.updated_at.desc(), Listing.id.desc())
    )
    if status:
        query = query.where(Listing.status == status)
    return paginate(session, query, page=page, size=50)


def status_counts(session: Session, organisation_id: int) -> dict[str, int]:
    """How many of a seller's listings are in each status."""
    rows = session.execute(
        select(Listing.status, func.count())
        .where(Listing.organisation_id == organisation_id)
        .group_by(Listing.status)
    ).all()
    return {status.value: count for status, count in rows}


def count_on_sale(session: Session, *, viewer_kind: OrgKind | None, now: datetime) -> int:
    conditions = market_conditions(session, viewer_kind=viewer_kind, now=now)
    return session.scalar(select(func.count()).select_from(Listing).where(*conditions)) or 0


def all_seller_listings(session: Session, organisation_id: int) -> list[Listing]:
    """Every listing of a seller, for an export."""
    query = (
        select(Listing)
        .where(Listing.organisation_id == organisation_id)
        .options(joinedload(Listing.product), joinedload(Listing.grade), joinedload(Listing.batch))
        .order_by(Listing.id)
    )
    return list(session.scalars(query))


def stock_history(session: Session, listing_id: int) -> list[StockMovement]:
    query = (
        select(StockMovement)
        .where(StockMovement.listing_id == listing_id)
        .order_by(StockMovement.id.desc())
    )
    return list(session.scalars(query.limit(200)))


def listing_history(session: Session, listing_id: int) -> list[tuple[Event, str | None]]:
    """The last 100 things that happened to a listing, newest first, with the name of who did each."""
    query = (
        select(Event, User.name)
        .outerjoin(User, User.id == Event.actor_id)
        .where(Event.subject == f"listing:{listing_id}")
        .order_by(Event.id.desc())
    )
    return [(event, name) for event, name in session.execute(query.limit(100))]


def seller_batches(session: Session, organisation_id: int) -> list[Batch]:
    query = (
        select(Batch)
        .where(Batch.organisation_id == organisation_id)
        .options(joinedload(Batch.product), selectinload(Batch.tests))
        .order_by(Batch.harvest_date.desc(), Batch.id.desc())
    )
    return list(session.scalars(query))


def batch_by_code(session: Session, code: str) -> Batch | None:
    """A batch with everything its trace page shows."""
    query = (
        select(Batch)
        .where(Batch.code == code)
        .options(
            joinedload(Batch.product).joinedload(Product.category),
            joinedload(Batch.seller),
            selectinload(Batch.inputs),
            selectinload(Batch.tests).joinedload(TestReport.upload),
        )
    )
    return session.scalar(query)


def batch_listings(session: Session, batch_id: int) -> list[Listing]:
    """The listings a batch has been put on sale in (drafts, never offered, are left out)."""
    query = (
        select(Listing)
        .where(Listing.batch_id == batch_id, Listing.status != ListingStatus.draft)
        .options(*LIST_LOADS)
        .order_by(Listing.id)
    )
    return list(session.scalars(query))


def chain_of_custody(session: Session, batch: Batch) -> list[Event]:
    """What happened to a batch, oldest first: recorded, tested, listed, and (with orders) sold and delivered."""
    listing_subjects = [
        f"listing:{listing_id}"
        for listing_id in session.scalars(select(Listing.id).where(Listing.batch_id == batch.id))
    ]
    custody = ("batch.recorded", "batch.tested", "listing.published")
    query = select(Event).where(
        or_(Event.subject == f"batch:{batch.id}", Event.subject.in_(listing_subjects)),
        Event.kind.in_(custody) | Event.kind.like("delivery.%") | Event.kind.like("order.%"),
    )
    return list(session.scalars(query.order_by(Event.id)))


def pending_imports(session: Session) -> list[int]:
    """Imports the scheduler still has rows to check for."""
    query = select(ListingImport.id).where(ListingImport.status == ImportStatus.checking)
    return list(session.scalars(query.order_by(ListingImport.id)))


def bad_rows(session: Session, import_id: int, *, limit: int = 500) -> list[ListingImportRow]:
    """An import's rows with errors, in file order."""
    query = (
        select(ListingImportRow)
        .where(ListingImportRow.import_id == import_id, ListingImportRow.errors.is_not(None))
        .order_by(ListingImportRow.row_number)
        .limit(limit)
    )
    return list(session.scalars(query))


def preview_rows(session: Session, import_id: int, *, limit: int = 100) -> list[ListingImportRow]:
    """An import's first rows, as the preview shows them."""
    query = (
        select(ListingImportRow)
        .where(ListingImportRow.import_id == import_id)
        .order_by(ListingImportRow.row_number)
        .limit(limit)
    )
    return list(session.scalars(query))


def count_rows(session: Session, import_id: int) -> int:
    return session.scalar(select(func.count()).where(ListingImportRow.import_id == import_id)) or 0


def lowest_price_since(session: Session, listing: Listing, since: datetime) -> int:
    """The lowest price per unit the listing has asked since `since` (its price now included)."""
    earlier = session.scalar(
        select(func.min(ListingPrice.price_fen)).where(
            ListingPrice.listing_id == listing.id, ListingPrice.ended_at >= since
        )
    )
    return min(listing.price_fen, earlier) if earlier is not None else listing.price_fen
