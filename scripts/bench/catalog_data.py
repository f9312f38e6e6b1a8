"""Fill a database with realistic listings for the catalog benchmark (scripts/bench/catalog.py)."""

import random
from datetime import timedelta

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app.accounts.identifiers import credit_code_check_character
from app.accounts.models import Organisation
from app.auth import OrgKind, VerificationStatus
from app.catalog.models import Category, Grade, Listing, ListingSearch, ListingStatus, Product, Unit
from app.catalog.search import document_terms
from app.catalog.services import per_kg
from app.db import utcnow

TOWNS = {
    "兴隆镇": ["龙凤村", "回龙村", "永胜村"],
    "湄江街道": ["两路口村", "金花村"],
    "永兴镇": ["中华村", "茅坝村"],
    "复兴镇": ["新建村", "三联村"],
    "西河镇": ["西坪村", "石家寨村"],
    "新南镇": ["新南村"],
    "石莲镇": ["牛场村"],
    "茅坪镇": ["河江村"],
    "高台镇": ["高台村"],
}
WORDS = [
    "明前",
    "雨前",
    "高山",
    "生态",
    "新鲜",
    "精选",
    "散装",
    "礼盒",
    "产地直供",
    "农家",
    "基地直采",
    "当季",
]
BASE_PRICE_FEN = {  # per kg
    "meitan_cuiya": 60000,
    "meijiang_cuipian": 50000,
    "zunyi_hong": 70000,
    "meitan_rice": 750,
    "chaotian_chili": 1000,
    "dried_chili": 3600,
    "chinese_cabbage": 240,
    "potato": 300,
    "tomato": 560,
    "green_pepper": 600,
    "lettuce": 500,
    "kiwifruit": 1600,
    "blueberry": 5000,
    "pear": 650,
}


def fill(session: Session, *, listings: int, sellers: int = 200, seed: int = 2026) -> None:
    """Add `sellers` verified cooperatives and `listings` listings spread over the whole catalogue."""
    rng = random.Random(seed)
    seller_ids = organisations(session, sellers)
    products = session.scalars(select(Product)).all()
    categories = {c.id: c for c in session.scalars(select(Category))}
    grades = {}
    for grade in session.scalars(select(Grade)):
        grades.setdefault(grade.scale_id, []).append(grade)
    units = {u.code: u for u in session.scalars(select(Unit))}
    now = utcnow()
    batch: list[dict] = []
    documents: list[str] = []
    for n in range(listings):
        row, document = _listing(
            rng, n, rng.choice(seller_ids), rng.choice(products), grades, units, categories, now
        )
        batch.append(row)
        documents.append(document)
        if len(batch) == 5000:
            _insert(session, batch, documents)
            batch, documents = [], []
    if batch:
        _insert(session, batch, documents)


_KIND_NAMES = {OrgKind.cooperative: "专业合作社"}


def organisations(
    session: Session, count: int, *, kind: OrgKind = OrgKind.cooperative, series: str = "9B"
) -> list[int]:
    """`count` verified organisations of `kind`, their credit codes numbered within `series`."""
    rows = []
    for n in range(count):
        first_17 = f"93520328MA{series}{n:05d}"
        town = list(TOWNS)[n % len(TOWNS)]
        rows.append(
            {
                "kind": kind,
                "name_zh": f"湄潭县{TOWNS[town][0]}第{n}{_KIND_NAMES.get(kind, '号采购单位')}",
                "name_en": "",
                "credit_code": first_17 + credit_code_check_character(first_17),
                "legal_representative": "王建国",
                "contact_phone": "13908520001",
                "town": town,
                "village": TOWNS[town][0],
                "address": "",
                "status": VerificationStatus.verified,
                "rejection_reason": "",
                "created_at": utcnow(),
            }
        )
    return list(
        session.scalars(
            insert(Organisation).returning(Organisation.id, sort_by_parameter_order=True), rows
        )
    )


def _listing(rng, n, seller_id, product, grades, units, categories, now):
    grade = rng.choice(grades[product.grade_scale_id])
    unit = units[product.default_unit_code if rng.random() < 0.8 else rng.choice(["kg", "jin"])]
    per_kg_price = int(
        BASE_PRICE_FEN[product.code] * rng.uniform(0.7, 1.6) * (1.4 - 0.2 * grade.rank)
    )
    price = max(1, per_kg_price * unit.grams // 1000)
    town = rng.choice(list(TOWNS))
    village = rng.choice(TOWNS[town])
    title = f"{product.name_zh} {grade.name_zh} {rng.choice(WORDS)}"
    status = (
        ListingStatus.active
        if rng.random() < 0.92
        else rng.choice([ListingStatus.paused, ListingStatus.sold_out])
    )
    quantity = 0 if status == ListingStatus.sold_out else rng.randint(1, 5000)
    category = categories[product.category_id]
    parent = categories.get(category.parent_id)
    row = {
        "organisation_id": seller_id,
        "product_id": product.id,
        "category_id": product.category_id,
        "grade_id": grade.id,
        "title": title,
        "description": "",
        "unit_code": unit.code,
        "price_fen": price,
        "price_per_kg_fen": per_kg(price, unit.grams),
        "quantity": quantity,
        "min_order": rng.choice([1, 1, 2, 5, 10, 50]),
        "packaging": "",
        "town": town,
        "village": village,
        "organic": rng.random() < 0.1,
        "green_food": rng.random() < 0.2,
        "geographical_indication": product.category_id in (2, 3) and rng.random() < 0.5,
        "commitment_certificate": f"520328-2026-{n:05d}" if rng.random() < 0.3 else "",
        "status": status,
        "visible_to": 0 if rng.random() < 0.9 else rng.choice([1, 2, 3]),
        "created_at": now,
        "updated_at": now,
        "published_at": now - timedelta(minutes=n),
    }
    document = document_terms(
        title,
        product.name_zh,
        product.name_en,
        product.aliases,
        category.name_zh,
        category.name_en,
        parent.name_zh if parent else "",
        parent.name_en if parent else "",
        grade.name_zh,
        grade.name_en,
        town,
        village,
    )
    return row, document


def _insert(session: Session, rows: list[dict], documents: list[str]) -> None:
    ids = session.scalars(
        insert(Listing).returning(Listing.id, sort_by_parameter_order=True), rows
    ).all()
    session.execute(
        insert(ListingSearch),
        [{"listing_id": i, "document": d} for i, d in zip(ids, documents, strict=True)],
    )
