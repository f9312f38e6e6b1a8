"""Read-only selects for the market (search, filters, facets), sellers' own lists, and trace pages."""

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from app.auth import OrgKind
from app.catalog.models import (
    VISIBILITY_BITS,
    Batch,
    Category,
    Grade,
    GradeScale,
    Listing,
    ListingPhoto,
    ListingStatus,
    Product,
    StockMovement,
    TestReport,
    Unit,
)
from app.catalog.search import matching_listing_ids
from app.db import Page, paginate
from app.events import Event

SORTS = {
    "newest": (Listing.published_at.desc(), Listing.id.desc()),
    "price_asc": (Listing.price_per_kg_fen.asc(), Listing.id.asc()),
    "price_desc": (Listing.price_per_kg_fen.desc(), Listing.id.desc()),
}
_CARD_LOADS = (
    joinedload(Listing.product),
    joinedload(Listing.grade),
    joinedload(Listing.unit),
    joinedload(Listing.seller),
    selectinload(Listing.photos).joinedload(ListingPhoto.upload),
)


@dataclass(frozen=True)
class Facets:
    categories: list[tuple[str, int]] = field(default_factory=list)  # (category code, count)
    grades: list[tuple[str, int]] = field(default_factory=list)  # (grade code, count)
    towns: list[tuple[str, int]] = field(default_factory=list)
    certifications: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Market:
    page: Page
    facets: Facets | None


def browse(
    session: Session,
    *,
    viewer_kind: OrgKind | None,
    now: datetime,
    sort: str = "newest",
    page: int = 1,
    size: int = 20,
    with_facets: bool = True,
    **filters,
) -> Market:
    """Listings a buyer may see and buy now, filtered, sorted and paged, with counts to narrow by.

    Without facets the total is not counted either (a page knows only whether more follow), which is
    what keeps the API's plain listing fast on 100,000 listings.
    """
    conditions = market_conditions(session, viewer_kind=viewer_kind, now=now, **filters)
    query = select(Listing).where(*conditions).options(*_CARD_LOADS).order_by(*SORTS[sort])
    if not with_facets:
        return Market(paginate(session, query, page=page, size=size, count=False), None)
    return Market(paginate(session, query, page=page, size=size), facet_counts(session, conditions))


def market_conditions(
    session: Session,
    *,
    viewer_kind: OrgKind | None,
    now: datetime,
    q: str = "",
    category: str | None = None,
    product: str | None = None,
    grade: str | None = None,
    town: str | None = None,
    certification: str | None = None,
    min_price_fen: int | None = None,
    max_price_fen: int | None = None,
    in_stock: bool = False,
    seller: int | None = None,
) -> list:
    """The WHERE clause of a market search: on sale, visible to this viewer, and matching the filters."""
    conditions = [
        Listing.status == ListingStatus.active,
        or_(Listing.expires_at.is_(None), Listing.expires_at > now),
        visible_to(viewer_kind),
    ]
    matches = matching_listing_ids(session, q) if q else None
    optional = [
        (matches is not None, lambda: Listing.id.in_(matches)),
        (category, lambda: Listing.category_id.in_(_category_and_below(category))),
        (
            product,
            lambda: Listing.product_id.in_(select(Product.id).where(Product.code == product)),
        ),
        (grade, lambda: Listing.grade_id.in_(select(Grade.id).where(Grade.code == grade))),
        (town, lambda: Listing.town == town),
        (certification, lambda: _certified(certification)),
        (min_price_fen is not None, lambda: Listing.price_per_kg_fen >= min_price_fen),
        (max_price_fen is not None, lambda: Listing.price_per_kg_fen <= max_price_fen),
        (in_stock, lambda: Listing.quantity >= Listing.min_order),
        (seller, lambda: Listing.organisation_id == seller),
    ]
    return conditions + [condition() for wanted, condition in optional if wanted]


def visible_to(viewer_kind: OrgKind | None):
    """Listings for everyone, plus those limited to the viewer's kind of buyer."""
    bit = VISIBILITY_BITS.get(viewer_kind, 0)
    if not bit:
        return Listing.visible_to == 0
    return or_(Listing.visible_to == 0, Listing.visible_to.op("&")(bit) != 0)


def _category_and_below(code: str) -> Select:
    return select(Category.id).where(or_(Category.code == code, Category.code.like(f"{code}.%")))


def _certified(name: str):
    if name == "commitment_certificate":
        return Listing.commitment_certificate != ""
    return getattr(Listing, name).is_(True)


def facet_counts(session: Session, conditions: list) -> Facets:
    """How many of the matching listings fall in each category, grade, town and certification."""
    matching = select(Listing).where(*conditions).subquery()
    categories = session.execute(
        select(Category.code, func.count())
        .join(matching, matching.c.category_id == Category.id)
        .group_by(Category.code)
        .order_by(Category.code)
    ).all()
    grades = session.execute(
        select(Grade.code, func.count())
        .join(matching, matching.c.grade_id == Grade.id)
        .group_by(Grade.code)
        .order_by(func.min(Grade.rank))
    ).all()
    towns = session.execute(
        select(matching.c.town, func.count())
        .where(matching.c.town != "")
        .group_by(matching.c.town)
        .order_by(func.count().desc())
        .limit(12)
    ).all()
    certified = session.execute(
        select(
            func.sum(_as_int(matching.c.organic)),
            func.sum(_as_int(matching.c.green_food)),
            func.sum(_as_int(matching.c.geographical_indication)),
            func.sum(_as_int(matching.c.commitment_certificate != "")),
        )
    ).one()
    names = ("organic", "green_food", "geographical_indication", "commitment_certificate")
    return Facets(
        categories=[tuple(row) for row in categories],
        grades=[tuple(row) for row in grades],
        towns=[tuple(row) for row in towns],
        certifications={
            name: int(count or 0) for name, count in zip(names, certified, strict=True)
        },
    )


def _as_int(condition):
    return case((condition, 1), else_=0)


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
        .options(
            *_CARD_LOADS,
            joinedload(Listing.batch),
            joinedload(Listing.product).joinedload(Product.category),
        )
    )
    return session.scalar(query)


def seller_listings(
    session: Session, organisation_id: int, *, status: ListingStatus | None = None, page: int = 1
) -> Page:
    query = (
        select(Listing)
        .where(Listing.organisation_id == organisation_id)
        .options(*_CARD_LOADS)
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


def listing_history(session: Session, listing_id: int) -> list[Event]:
    query = select(Event).where(Event.subject == f"listing:{listing_id}").order_by(Event.id.desc())
    return list(session.scalars(query.limit(100)))


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
    query = (
        select(Listing)
        .where(Listing.batch_id == batch_id)
        .options(*_CARD_LOADS)
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


@dataclass(frozen=True)
class Catalogue:
    categories: list[Category]
    products: list[Product]
    scales: list[GradeScale]
    units: list[Unit]

    def category_name(self, code: str, language: str) -> str:
        return next((c.name(language) for c in self.categories if c.code == code), code)

    def grade_name(self, code: str, language: str) -> str:
        grades = (grade for scale in self.scales for grade in scale.grades)
        return next((grade.name(language) for grade in grades if grade.code == code), code)

    def grade_choices(self, language: str) -> list[tuple[str, str]]:
        """Every grade once by code (特级, 一级, 二级 are shared by tea and produce)."""
        seen: dict[str, str] = {}
        for scale in self.scales:
            for grade in scale.grades:
                seen.setdefault(grade.code, grade.name(language))
        return list(seen.items())


def catalogue(session: Session) -> Catalogue:
    """The reference data every form and filter offers."""
    return Catalogue(
        categories=list(
            session.scalars(select(Category).order_by(Category.position, Category.code))
        ),
        products=list(
            session.scalars(
                select(Product)
                .options(joinedload(Product.category))
                .order_by(Product.category_id, Product.id)
            )
        ),
        scales=list(session.scalars(select(GradeScale).options(selectinload(GradeScale.grades)))),
        units=list(session.scalars(select(Unit).order_by(Unit.grams))),
    )
