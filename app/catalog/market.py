"""The market search: what a buyer may see and buy now, filtered, sorted and paged, with facet counts.

It stays quick on 100,000 listings, on SQLite and on PostgreSQL (scripts/bench/catalog.py measures it):
- a text search first takes the matching ids from the full-text index (app/catalog/search.py);
- the page is chosen by id alone, then its 20 rows are read in one query (app/catalog/rows.py);
- facets and the total come from one GROUP BY, kept for MARKET_CACHE_SECONDS per search and filters;
- _plan() decides how each query runs, because no planner knows that what people look for sits at one end
  of the price range (tea costs more than cabbage). On SQLite it names the index: few text matches lead;
  otherwise the newest-first index (when a listing was published says nothing about what it is), or for
  price the covering index (ix_listings_market), read whole without touching the table. On PostgreSQL a
  typed search, or a narrowed one sorted by price, walks its own listings in their kept order, checking
  each step against everything the buyer asked for as it stands now (_in_order, _walk).
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, case, func, or_, select
from sqlalchemy.orm import Session

from app.auth import OrgKind
from app.cache import NO_CACHE, TimedCache
from app.catalog.catalogue import Catalogue
from app.catalog.catalogue import catalogue as read_catalogue
from app.catalog.models import (
    CERTIFICATIONS,
    VISIBILITY_BITS,
    Category,
    Grade,
    Listing,
    ListingStatus,
    Product,
)
from app.catalog.rows import cards, summaries
from app.catalog.search import Matches, listing_among, query_terms, text_matches
from app.db import Page

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
# The filters that decide the kind of produce, and so where in the price range it sits.
_NARROWING = ("category", "product", "certification")


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
    cache: MarketCache | None = None,
    catalogue: Catalogue | None = None,
    as_rows: bool = False,
    q: str = "",
    **filters,
) -> Market:
    """Listings a buyer may see and buy now, filtered, sorted and paged, with counts to narrow by.

    Without facets the total is not counted either (a page knows only whether more follow).
    """
    page, size = max(1, page), max(1, min(size, 100))
    cache = cache or NO_MARKET_CACHE
    matches = text_matches(session, q, cache.matches) if q.strip() else None
    if matches is not None and not matches.count:
        return Market(
            Page([], page, size, 0 if with_facets else None), Facets() if with_facets else None
        )
    plan = _plan(sort, matches, filters, session.get_bind().dialect.name)
    conditions = market_conditions(
        session,
        viewer_kind=viewer_kind,
        now=now,
        matches=matches,
        matches_lead=plan.page_index is None,
        **filters,
    )
    ids = None
    if plan.walk_in_order:
        ordered = _in_order(session, cache, sort, q, matches, filters)
        fresh = market_conditions(session, viewer_kind=viewer_kind, now=now, **filters)
        ids = _walk(session, ordered, fresh, sort=sort, page=page, size=size)
    if ids is None:
        ids = _page_ids(session, conditions, sort=sort, page=page, size=size, plan=plan)
    facets = None
    if with_facets:
        key = (VISIBILITY_BITS.get(viewer_kind, 0), _words(q), tuple(sorted(filters.items())))
        reference = catalogue or read_catalogue(session)
        facets = cache.facets.get(
            key, lambda: _facets(session, conditions, reference, index=plan.facet_index)
        )
    # One query reads the page's listings as plain rows: the API answers them, pages show them as cards.
    items = summaries(session, ids[:size])
    if not as_rows:
        items = cards(items, catalogue or read_catalogue(session))
    return Market(
        Page(items, page, size, facets.total if facets else None, more=len(ids) > size), facets
    )


@dataclass(frozen=True)
class MarketCache:
    """What a process may reuse for MARKET_CACHE_SECONDS: facet counts per search and filters, and the
    ids each typed search matched (PostgreSQL). Id lists are large, so fewer of them are kept: at most
    128 of up to 50,000 ids (about 40 MB at worst)."""

    facets: TimedCache
    matches: TimedCache

    @classmethod
    def lasting(cls, seconds: float) -> MarketCache:
        return cls(TimedCache(seconds), TimedCache(seconds, size=128))


NO_MARKET_CACHE = MarketCache(NO_CACHE, NO_CACHE)


@dataclass(frozen=True)
class _Plan:
    # The SQLite index that leads the page query; None: the text matches lead.
    page_index: str | None
    # The SQLite index the facet counts read.
    facet_index: str | None
    # False: the page is sorted after filtering, with the sort's index kept out of it.
    sorted_by_index: bool
    # PostgreSQL: walk the searched listings in their (cached) order.
    walk_in_order: bool = False


def _plan(sort: str, matches: Matches | None, filters: dict, dialect: str) -> _Plan:
    narrowed = any(filters.get(name) for name in _NARROWING)
    if dialect == "postgresql":
        # Sorting thousands of matched listings costs PostgreSQL tens of milliseconds, and walking the
        # price index past every vegetable to reach the tea someone looks for costs more (the planner
        # cannot know that what people look for sits at one end of the price range). So a typed search,
        # and a narrowed one sorted by price, walks its own listings in their order instead (_in_order).
        walk = matches is not None or (sort != "newest" and narrowed)
        return _Plan(None, None, sorted_by_index=True, walk_in_order=walk)
    if matches is not None:
        page = None if matches.count <= FEW_MATCHES or sort != "newest" else PUBLISHED_INDEX
        return _Plan(
            page, None if matches.count <= MANY_MATCHES else COVERING_INDEX, page is not None
        )
    if sort == "newest":
        return _Plan(PUBLISHED_INDEX, COVERING_INDEX, sorted_by_index=True)
    if narrowed:
        return _Plan(COVERING_INDEX, COVERING_INDEX, sorted_by_index=False)
    return _Plan(PRICE_INDEX, COVERING_INDEX, sorted_by_index=True)


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
    on_sale = [
        Listing.status == ListingStatus.active,
        or_(Listing.expires_at.is_(None), Listing.expires_at > now),
        visible_to(viewer_kind),
    ]
    return on_sale + filter_conditions(
        matches=matches,
        matches_lead=matches_lead,
        category=category,
        product=product,
        grade=grade,
        town=town,
        certification=certification,
        min_price_fen=min_price_fen,
        max_price_fen=max_price_fen,
        in_stock=in_stock,
        seller=seller,
    )


def filter_conditions(
    *,
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
    """The conditions of the filters a buyer chose (none for a filter left empty)."""
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
    return [condition() for wanted, condition in optional if wanted]


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
    session: Session, conditions: list, *, sort: str, page: int, size: int, plan: _Plan
) -> list[int]:
    order = SORTS[sort] if plan.sorted_by_index else UNINDEXED_SORTS[sort]
    query = (
        select(Listing.id)
        .where(*conditions)
        .order_by(*order)
        .limit(size + 1)
        .offset((page - 1) * size)
    )
    if plan.page_index:
        query = query.with_hint(Listing, f"INDEXED BY {plan.page_index}", "sqlite")
    return list(session.scalars(query))


# Walking a search's order (PostgreSQL): listings checked per query, steps before giving up on walking
# (a rare filter, a deep page) for one plain query, and the longest order kept.
_WALK_STEP = 400
_WALK_STEPS = 10
_ORDERED_AT_MOST = 50_000


def _in_order(
    session: Session,
    cache: MarketCache,
    sort: str,
    q: str,
    matches: Matches | None,
    filters: dict,
) -> Sequence[int] | None:
    """The on-sale listings a search narrows to (its words, category, product, certification) in the
    order asked for (price_desc as price_asc, read backwards); None when there are too many to keep.

    Reused for MARKET_CACHE_SECONDS, built from matches as old: a listing published or repriced since may
    be missing or out of place for up to twice that. _walk reads everything else fresh."""
    order = "newest" if sort == "newest" else "price_asc"
    narrowing = {name: filters.get(name) for name in _NARROWING}
    query = (
        select(Listing.id)
        .where(
            Listing.status == ListingStatus.active, *filter_conditions(matches=matches, **narrowing)
        )
        .order_by(*SORTS[order])
        .limit(_ORDERED_AT_MOST + 1)
    )

    def read() -> array | None:
        ordered = array("i", session.scalars(query))
        return ordered if len(ordered) <= _ORDERED_AT_MOST else None

    return cache.matches.get(("in order", order, _words(q), *narrowing.values()), read)


def _walk(
    session: Session,
    ordered: Sequence[int] | None,
    conditions: list,
    *,
    sort: str,
    page: int,
    size: int,
) -> list[int] | None:
    """A page of `ordered` (read backwards for price_desc) of the listings that meet `conditions` now;
    None when a page is not found within _WALK_STEPS steps (a rare filter, a deep page)."""
    if ordered is None:
        return None
    if sort == "price_desc":
        ordered = ordered[::-1]
    wanted = page * size + 1
    found: list[int] = []
    steps = range(0, len(ordered), _WALK_STEP)
    for start in steps[:_WALK_STEPS]:
        step = ordered[start : start + _WALK_STEP]
        query = select(Listing.id).where(listing_among(step), *conditions).order_by(*SORTS[sort])
        found += session.scalars(query)
        if len(found) >= wanted:
            return found[(page - 1) * size : wanted]
    if len(steps) > _WALK_STEPS:
        return None
    return found[(page - 1) * size : wanted]


def _words(q: str) -> tuple:
    """A typed search as the cache tells searches apart: "ｃｕｉｙａ" and " Cuiya" are one search."""
    whole, prefixes = query_terms(q)
    return (*whole, "|", *prefixes)


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
