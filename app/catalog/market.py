"""The market search: what a buyer may see and buy now, filtered, sorted and paged, with facet counts.

It stays quick on 100,000 listings, on SQLite and on PostgreSQL (scripts/bench/catalog.py measures it):
- a text search first takes the matching ids from the full-text index, which costs a few milliseconds;
- the page is chosen by id alone, then only its 20 rows are loaded whole;
- facets and the total come from one GROUP BY, and are kept for a few seconds per filter: a count a few
  seconds old is fine, a listing never is;
- _plan() says which index leads each query on SQLite, which guesses badly without statistics (PostgreSQL
  plans for itself once it knows how many ids a text search matched). Few text matches lead, they are
  quick to sort. The newest-first index leads otherwise: when a listing was published says nothing about
  what it is, so matches turn up all along it. Not so for price: the tea a search or a filter picks sits at
  the far end of a price index full of vegetables, so there the covering index (ix_listings_market) is
  read whole, without touching the table, and only what matches is sorted.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, case, func, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from app.accounts.models import Organisation
from app.auth import OrgKind
from app.cache import NO_CACHE, TimedCache
from app.catalog.catalogue import Catalogue
from app.catalog.catalogue import catalogue as read_catalogue
from app.catalog.models import (
    CERTIFICATIONS,
    VISIBILITY_BITS,
    Batch,
    Category,
    Grade,
    Listing,
    ListingPhoto,
    ListingStatus,
    Product,
)
from app.catalog.search import Matches, text_matches
from app.db import Page
from app.uploads import Upload

SORTS = {
    "newest": (Listing.published_at.desc(), Listing.id.desc()),
    "price_asc": (Listing.price_per_kg_fen.asc(), Listing.id.asc()),
    "price_desc": (Listing.price_per_kg_fen.desc(), Listing.id.desc()),
}
# The same orders written so that no index provides them: when the matches or the covering index lead,
# neither engine may then walk the price index past every vegetable to reach the tea it is after.
UNINDEXED_SORTS = {
    "newest": SORTS["newest"],
    "price_asc": ((Listing.price_per_kg_fen + 0).asc(), Listing.id.asc()),
    "price_desc": ((Listing.price_per_kg_fen + 0).desc(), Listing.id.desc()),
}
PUBLISHED_INDEX = "ix_listings_status_published"
PRICE_INDEX = "ix_listings_status_price"
COVERING_INDEX = "ix_listings_market"
FEW_MATCHES = 2000
MANY_MATCHES = 20000
_NARROWING = (
    "category",
    "product",
    "certification",
)  # what decides the kind of produce, and so its price
# What a market card shows, loaded with the listings so that nothing is fetched row by row; the API and a
# listing's own page show a little more (FULL_LOADS).
CARD_LOADS = (
    joinedload(Listing.grade),
    joinedload(Listing.unit),
    joinedload(Listing.seller),
    selectinload(Listing.photos).joinedload(ListingPhoto.upload),
)
FULL_LOADS = (
    *CARD_LOADS,
    joinedload(Listing.product),
    joinedload(Listing.category),
    joinedload(Listing.batch),
)


@dataclass(frozen=True)
class Facets:
    total: int = 0
    categories: list[tuple[str, int]] = field(default_factory=list)  # (category code, count)
    grades: list[tuple[str, int]] = field(
        default_factory=list
    )  # (grade code, count), best grade first
    towns: list[tuple[str, int]] = field(default_factory=list)  # the 12 towns with most listings
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
    cache: TimedCache = NO_CACHE,
    catalogue: Catalogue | None = None,
    loads: tuple | None = CARD_LOADS,
    q: str = "",
    **filters,
) -> Market:
    """Listings a buyer may see and buy now, filtered, sorted and paged, with counts to narrow by.

    Without facets the total is not counted either (a page knows only whether more follow).
    """
    page, size = max(1, page), max(1, min(size, 100))
    matches = text_matches(session, q, cache) if q.strip() else None
    if matches is not None and not matches.count:
        return Market(
            Page([], page, size, 0 if with_facets else None), Facets() if with_facets else None
        )
    plan = _plan(sort, matches, filters)
    conditions = market_conditions(
        session,
        viewer_kind=viewer_kind,
        now=now,
        matches=matches,
        matches_lead=plan.page_index is None,
        **filters,
    )
    ids = _page_ids(session, conditions, sort=sort, page=page, size=size, index=plan.page_index)
    facets = None
    if with_facets:
        key = (
            VISIBILITY_BITS.get(viewer_kind, 0),
            q.strip().lower(),
            tuple(sorted(filters.items())),
        )
        reference = catalogue or read_catalogue(session)
        facets = cache.get(
            key, lambda: _facets(session, conditions, reference, index=plan.facet_index)
        )
    # Pages show listings as objects; the API lists plain rows (loads=None), which it can answer faster.
    items = (
        _load(session, ids[:size], loads) if loads is not None else summaries(session, ids[:size])
    )
    return Market(
        Page(items, page, size, facets.total if facets else None, more=len(ids) > size), facets
    )


@dataclass(frozen=True)
class _Plan:
    page_index: (
        str | None
    )  # the SQLite index that leads the page query; None: the text matches lead
    facet_index: str | None


def _plan(sort: str, matches: Matches | None, filters: dict) -> _Plan:
    if matches is not None:
        page = None if matches.count <= FEW_MATCHES or sort != "newest" else PUBLISHED_INDEX
        return _Plan(page, None if matches.count <= MANY_MATCHES else COVERING_INDEX)
    if sort == "newest":
        return _Plan(PUBLISHED_INDEX, COVERING_INDEX)
    narrowed = any(filters.get(name) for name in _NARROWING)
    return _Plan(COVERING_INDEX if narrowed else PRICE_INDEX, COVERING_INDEX)


def market_conditions(
    session: Session,
    *,
    viewer_kind: OrgKind | None,
    now: datetime,
    matches: Matches | None = None,
    matches_lead: bool = True,
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
    optional = [
        # When the matches lead, PostgreSQL gets them as ids (it knows how many); when an index leads, as
        # a subquery it checks row by row as it walks the index.
        (matches is not None, lambda: matches.among if matches_lead else matches.within),
        (category, lambda: Listing.category_id.in_(_category_and_below(category))),
        (
            product,
            lambda: Listing.product_id.in_(select(Product.id).where(Product.code == product)),
        ),
        (grade, lambda: Listing.grade_id.in_(select(Grade.id).where(Grade.code == grade))),
        (town, lambda: Listing.town == town),
        (certification, lambda: certified(certification)),
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


def certified(name: str):
    if name == "commitment_certificate":
        return Listing.commitment_certificate != ""
    return getattr(Listing, name).is_(True)


def _category_and_below(code: str) -> Select:
    return select(Category.id).where(or_(Category.code == code, Category.code.like(f"{code}.%")))


def _page_ids(
    session: Session, conditions: list, *, sort: str, page: int, size: int, index: str | None
) -> list[int]:
    order = SORTS[sort] if index in (PUBLISHED_INDEX, PRICE_INDEX) else UNINDEXED_SORTS[sort]
    query = (
        select(Listing.id)
        .where(*conditions)
        .order_by(*order)
        .limit(size + 1)
        .offset((page - 1) * size)
    )
    if index:
        query = query.with_hint(Listing, f"INDEXED BY {index}", "sqlite")
    return list(session.scalars(query))


def summaries(session: Session, ids: list[int]) -> list[dict]:
    """The listings of a page as plain rows, in `ids` order: what the API's list answers, in one query."""
    if not ids:
        return []
    photo = (
        select(Upload.token)
        .join(ListingPhoto, ListingPhoto.upload_id == Upload.id)
        .where(ListingPhoto.listing_id == Listing.id)
        .order_by(ListingPhoto.position)
        .limit(1)
        .scalar_subquery()
    )
    query = (
        select(*SUMMARY_COLUMNS, photo.label("photo_token"))
        .join(Organisation, Organisation.id == Listing.organisation_id)
        .join(Product, Product.id == Listing.product_id)
        .join(Category, Category.id == Listing.category_id)
        .join(Grade, Grade.id == Listing.grade_id)
        .outerjoin(Batch, Batch.id == Listing.batch_id)
        .where(Listing.id.in_(ids))
    )
    rows = {row.id: row._asdict() for row in session.execute(query)}
    return [rows[listing_id] for listing_id in ids if listing_id in rows]


SUMMARY_COLUMNS = (  # the columns of ListingSummarySchema, named as it names them
    Listing.id,
    Listing.title,
    Listing.organisation_id.label("seller_id"),
    Organisation.name_zh.label("seller"),
    Product.code.label("product"),
    Product.name_zh.label("product_name"),
    Category.code.label("category"),
    Grade.code.label("grade"),
    Grade.name_zh.label("grade_name"),
    Batch.code.label("batch"),
    Listing.unit_code.label("unit"),
    Listing.price_fen,
    Listing.price_per_kg_fen,
    Listing.quantity,
    Listing.min_order,
    Listing.town,
    Listing.village,
    Listing.organic,
    Listing.green_food,
    Listing.geographical_indication,
    Listing.commitment_certificate,
    Listing.status,
    Listing.published_at,
)


def _load(session: Session, ids: list[int], loads: tuple) -> list[Listing]:
    if not ids:
        return []
    found = {
        listing.id: listing
        for listing in session.scalars(select(Listing).where(Listing.id.in_(ids)).options(*loads))
    }
    return [found[listing_id] for listing_id in ids if listing_id in found]


def _facets(
    session: Session, conditions: list, catalogue: Catalogue, *, index: str | None
) -> Facets:
    """Every count at once: one pass over the matching listings, grouped, then added up here."""
    flags = [func.sum(case((certified(name), 1), else_=0)) for name in CERTIFICATIONS]
    query = (
        select(Listing.category_id, Listing.grade_id, Listing.town, func.count(), *flags)
        .where(*conditions)
        .group_by(Listing.category_id, Listing.grade_id, Listing.town)
    )
    if index:
        query = query.with_hint(Listing, f"INDEXED BY {index}", "sqlite")
    rows = session.execute(query).all()
    if not rows:
        return Facets()
    categories = {category.id: category.code for category in catalogue.categories}
    grades = {grade.id: grade for scale in catalogue.scales for grade in scale.grades}
    by_category, by_grade, by_town, certifications = Counter(), Counter(), Counter(), Counter()
    for category_id, grade_id, town, count, *certified_counts in rows:
        by_category[categories[category_id]] += count
        by_grade[grades[grade_id].code] += count
        if town:
            by_town[town] += count
        certifications.update(dict(zip(CERTIFICATIONS, certified_counts, strict=True)))
    rank = {grade.code: grade.rank for grade in grades.values()}
    return Facets(
        total=sum(by_category.values()),
        categories=sorted(by_category.items()),
        grades=sorted(by_grade.items(), key=lambda item: rank[item[0]]),
        towns=by_town.most_common(12),
        certifications={name: int(certifications[name]) for name in CERTIFICATIONS},
    )
