"""Fill a fresh database for the orders benchmark (scripts/bench/orders.py): sellers with deep stock, buyers
with money in their wallets and an API token each."""

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app.accounts.models import ApiToken, Membership, User
from app.auth import OrgKind, Role, hash_password, token_digest
from app.catalog.models import Listing, ListingStatus, Product
from app.db import local_date, utcnow
from app.payments.services import confirm_bank_transfer
from scripts.bench.catalog_data import organisations

STOCK = 100_000_000  # more than any run can take
PRICE_FEN = 1000


def fill(session: Session, *, buyers: int, listings: int) -> tuple[list[str], list[int]]:
    """The buyers' API tokens and the listings' ids."""
    return _buyers(session, buyers), deep_listings(session, listings)


def deep_listings(session: Session, count: int) -> list[int]:
    """`count` cabbage listings, 20 per cooperative, each with more stock than any run takes."""
    seller_ids = organisations(session, max(1, count // 20))
    product = session.scalar(select(Product).where(Product.code == "chinese_cabbage"))
    grade_id = product.grade_scale.grades[0].id
    listing_ids = list(
        session.scalars(
            insert(Listing).returning(Listing.id, sort_by_parameter_order=True),
            [
                {
                    "organisation_id": seller_ids[n % len(seller_ids)],
                    "product_id": product.id,
                    "category_id": product.category_id,
                    "grade_id": grade_id,
                    "title": f"大白菜 {n}",
                    "unit_code": "kg",
                    "price_fen": PRICE_FEN,
                    "price_per_kg_fen": PRICE_FEN,
                    "quantity": STOCK,
                    "status": ListingStatus.active,
                    "published_at": utcnow(),
                }
                for n in range(count)
            ],
        )
    )
    return listing_ids


def _buyers(session: Session, count: int) -> list[str]:
    buyer_ids = organisations(session, count, kind=OrgKind.supermarket, series="9C")
    password = hash_password("benchmark only")
    user_ids = list(
        session.scalars(
            insert(User).returning(User.id, sort_by_parameter_order=True),
            [
                {"name": f"采购员{n}", "phone": f"1370000{n:04d}", "password_hash": password}
                for n in range(count)
            ],
        )
    )
    tokens = [f"agl_bench-buyer-{n:05d}-token" for n in range(count)]
    session.execute(
        insert(Membership),
        [
            {"user_id": user_id, "organisation_id": buyer_id, "role": Role.manager}
            for user_id, buyer_id in zip(user_ids, buyer_ids, strict=True)
        ],
    )
    session.execute(
        insert(ApiToken),
        [
            {
                "user_id": user_id,
                "organisation_id": buyer_id,
                "name": "bench",
                "prefix": token[:12],
                "digest": token_digest(token),
            }
            for user_id, buyer_id, token in zip(user_ids, buyer_ids, tokens, strict=True)
        ],
    )
    for buyer_id in buyer_ids:
        confirm_bank_transfer(
            session,
            actor_id=user_ids[0],
            organisation_id=buyer_id,
            reference=f"BENCH-{buyer_id}",
            amount_fen=10**12,
            received_on=local_date(utcnow()),
        )
    return tokens
