"""Finding produce the way buyers type: Chinese, pinyin, English; filters, sorting, facets, visibility."""

from datetime import timedelta

import pytest

from app.auth import OrgKind
from app.catalog import market
from app.catalog.models import visibility_mask
from app.catalog.search import document_terms, query_terms
from app.db import utcnow
from tests.factories import BatchFactory, ListingFactory


def titles(session, viewer_kind=OrgKind.school, **filters) -> list[str]:
    found = market.browse(
        session, viewer_kind=viewer_kind, now=utcnow(), with_facets=False, **filters
    )
    return sorted(listing.title for listing in found.page.items)


@pytest.fixture
def listed(session):
    ListingFactory(
        title="湄潭翠芽 一级 明前",
        product_code="meitan_cuiya",
        price_fen=68000,
        town="兴隆镇",
        geographical_indication=True,
    )
    ListingFactory(
        title="遵义红 特级",
        product_code="zunyi_hong",
        grade_code="special",
        price_fen=108000,
        town="湄江街道",
    )
    ListingFactory(
        title="朝天椒 鲜", product_code="chaotian_chili", price_fen=980, town="兴隆镇", organic=True
    )
    ListingFactory(
        title="大白菜",
        product_code="chinese_cabbage",
        price_fen=240,
        town="复兴镇",
        quantity=2,
        min_order=50,
    )


@pytest.mark.parametrize(
    "typed",
    [
        "翠芽",
        "湄潭翠芽",
        "cuiya",
        "CuiYa",
        "ｃｕｉｙａ",
        "cui",
        "green tea",
        "绿茶",
        "明前",
        "一级明前",
    ],
)
def test_a_buyer_finds_cuiya_however_they_type_it(session, listed, typed):
    assert titles(session, q=typed) == ["湄潭翠芽 一级 明前"]


def test_one_character_finds_everything_that_has_it(session, listed):
    assert titles(session, q="茶") == ["湄潭翠芽 一级 明前", "遵义红 特级"]


def test_words_that_do_not_occur_together_find_nothing(session, listed):
    assert titles(session, q="翠芽 辣椒") == []
    assert titles(session, q="xyzzy") == []


def test_filters_narrow_by_category_grade_town_certification_and_price(session, listed):
    assert titles(session, category="tea") == ["湄潭翠芽 一级 明前", "遵义红 特级"]
    assert titles(session, category="tea.black") == ["遵义红 特级"]
    assert titles(session, grade="special") == ["遵义红 特级"]
    assert titles(session, town="兴隆镇") == ["朝天椒 鲜", "湄潭翠芽 一级 明前"]
    assert titles(session, certification="organic") == ["朝天椒 鲜"]
    assert titles(session, min_price_fen=1000, max_price_fen=100000) == ["湄潭翠芽 一级 明前"]


def test_in_stock_leaves_out_what_cannot_meet_its_minimum_order(session, listed):
    assert "大白菜" in titles(session)
    assert "大白菜" not in titles(session, in_stock=True)


def test_sorting_by_price_and_by_newest(session):
    now = utcnow()
    ListingFactory(title="贵", price_fen=90000, published_at=now - timedelta(days=2))
    ListingFactory(title="便宜", price_fen=30000, published_at=now - timedelta(days=1))
    ListingFactory(title="中", price_fen=60000, published_at=now)

    def ordered(sort):
        return [
            item.title
            for item in market.browse(
                session, viewer_kind=None, now=now, sort=sort, with_facets=False
            ).page.items
        ]

    assert ordered("price_asc") == ["便宜", "中", "贵"]
    assert ordered("price_desc") == ["贵", "中", "便宜"]
    assert ordered("newest") == ["中", "便宜", "贵"]


def test_a_search_pages_through_its_matches_in_order_with_what_changed_since(session, monkeypatch):
    monkeypatch.setattr(market, "_WALK_STEP", 3)  # several steps of a cached order on PostgreSQL
    now = utcnow()
    cheapest_first = [
        ListingFactory(
            title=f"翠芽 {n}", price_fen=10000 * n, published_at=now - timedelta(hours=n)
        )
        for n in range(1, 10)
    ]
    ListingFactory(title="大白菜", product_code="chinese_cabbage", price_fen=100)
    cache = market.MarketCache.lasting(60)

    def page(sort, number, **filters):
        found = market.browse(
            session,
            viewer_kind=None,
            now=now,
            q="翠芽",
            sort=sort,
            page=number,
            size=4,
            cache=cache,
            with_facets=False,
            **filters,
        ).page
        return [card.title for card in found.items], found.more

    assert page("price_asc", 1) == (["翠芽 1", "翠芽 2", "翠芽 3", "翠芽 4"], True)
    assert page("price_asc", 3) == (["翠芽 9"], False)
    assert page("price_desc", 1) == (["翠芽 9", "翠芽 8", "翠芽 7", "翠芽 6"], True)
    assert page("newest", 2) == (["翠芽 5", "翠芽 6", "翠芽 7", "翠芽 8"], True)
    cheapest_first[1].status = "paused"
    cheapest_first[2].price_fen = cheapest_first[2].price_per_kg_fen = 5000
    session.flush()
    # Whatever is cached, a paused listing leaves at once and a listing shows its price now.
    assert page("price_asc", 1) == (["翠芽 3", "翠芽 1", "翠芽 4", "翠芽 5"], True)
    assert page("price_asc", 1, min_price_fen=6000) == (
        ["翠芽 1", "翠芽 4", "翠芽 5", "翠芽 6"],
        True,
    )
    # A page not found within a few steps, or a search too large to keep in order, is read plainly.
    monkeypatch.setattr(market, "_WALK_STEPS", 1)
    assert page("price_desc", 2) == (["翠芽 5", "翠芽 4", "翠芽 1", "翠芽 3"], False)
    monkeypatch.setattr(market, "_ORDERED_AT_MOST", 2)
    assert page("newest", 1, town="兴隆镇") == (["翠芽 1", "翠芽 3", "翠芽 4", "翠芽 5"], True)


def test_facets_count_what_matches(session, listed):
    facets = market.browse(session, viewer_kind=None, now=utcnow(), q="茶").facets

    assert dict(facets.categories) == {"tea.black": 1, "tea.green": 1}
    assert dict(facets.grades) == {"special": 1, "first": 1}
    assert facets.certifications["geographical_indication"] == 1
    assert facets.certifications["organic"] == 0


def test_a_listing_only_for_schools_is_hidden_from_supermarkets_and_anonymous_search(session):
    ListingFactory(
        title="学校专供 大白菜",
        product_code="chinese_cabbage",
        organic=True,
        visible_to=visibility_mask(["school"]),
    )
    ListingFactory(title="大白菜", product_code="chinese_cabbage")

    def counted(viewer_kind):
        facets = market.browse(session, viewer_kind=viewer_kind, now=utcnow(), q="大白菜").facets
        return dict(facets.categories), facets.certifications["organic"]

    assert titles(session, viewer_kind=OrgKind.school, q="大白菜") == ["大白菜", "学校专供 大白菜"]
    assert titles(session, viewer_kind=OrgKind.supermarket, q="大白菜") == ["大白菜"]
    assert titles(session, viewer_kind=None, q="大白菜") == ["大白菜"]
    assert counted(OrgKind.school) == ({"vegetables": 2}, 1)
    assert counted(OrgKind.supermarket) == counted(None) == ({"vegetables": 1}, 0)


def test_paused_draft_and_expired_listings_are_not_on_the_market(session):
    now = utcnow()
    ListingFactory(title="暂停", status="paused")
    ListingFactory(title="草稿", status="draft")
    ListingFactory(title="过期", expires_at=now - timedelta(minutes=1))
    ListingFactory(title="在售")

    assert titles(session) == ["在售"]


def test_a_batch_code_finds_its_listings(session):
    batch = BatchFactory(code="LF-CY-2026-01")
    ListingFactory(title="有批次", batch=batch)
    assert titles(session, q="LF-CY-2026-01") == ["有批次"]


def test_chinese_is_indexed_by_characters_and_pairs():
    assert document_terms("翠芽").split() == ["u07fe0", "u07fe0082bd", "u082bd"]
    assert query_terms("湄潭翠芽 cui ga") == (
        ["u06e4406f6d", "u06f6d07fe0", "u07fe0082bd", "ga"],
        ["cui"],
    )
