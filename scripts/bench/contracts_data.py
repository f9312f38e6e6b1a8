"""Fill a fresh database for the contracts benchmark (scripts/bench/contracts.py): schools with funded
wallets, cooperatives with deep stock, and active contracts whose first instalment is due for ordering."""

from datetime import timedelta

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.auth import OrgKind, hash_password
from app.contracts import terms as contract_terms
from app.contracts.models import Contract, ContractStatus, ContractVersion, Instalment
from app.db import local_date, utcnow
from app.payments.services import confirm_bank_transfer
from scripts.bench.catalog_data import organisations
from scripts.bench.orders_data import PRICE_FEN, deep_listings

QUANTITY = 10  # kg per instalment


def fill(session: Session, *, contracts: int) -> None:
    buyers = organisations(session, max(1, contracts // 100), kind=OrgKind.school, series="9D")
    listings = deep_listings(session, max(1, contracts // 50))
    user = session.scalar(
        insert(User)
        .values(name="基准", phone="13700099999", password_hash=hash_password("benchmark only"))
        .returning(User.id)
    )
    today = local_date(utcnow())
    due = today + timedelta(days=3)
    terms = _terms(due)
    sellers = dict(session.execute(select(_listing_seller(listings))).all())
    ids = list(
        session.scalars(
            insert(Contract).returning(Contract.id, sort_by_parameter_order=True),
            [
                {
                    "buyer_id": buyers[n % len(buyers)],
                    "seller_id": sellers[listings[n % len(listings)]],
                    "listing_id": listings[n % len(listings)],
                    "title": f"基准合同 {n}",
                    "status": ContractStatus.active,
                    "drafted_by_org_id": buyers[n % len(buyers)],
                    "created_by_id": user,
                    "created_at": utcnow(),
                    "activated_at": utcnow(),
                    "signed_version_number": 1,
                }
                for n in range(contracts)
            ],
        )
    )
    session.execute(
        insert(ContractVersion),
        [
            {
                "contract_id": contract_id,
                "number": 1,
                "terms": terms,
                "terms_hash": contract_terms.digest(terms),
                "proposed_by_org_id": buyers[0],
                "proposed_by_id": user,
                "proposed_at": utcnow(),
            }
            for contract_id in ids
        ],
    )
    session.execute(
        insert(Instalment),
        [
            {
                "contract_id": contract_id,
                "number": 1,
                "due_on": due,
                "order_from": today,
                "quantity": QUANTITY,
            }
            for contract_id in ids
        ],
    )
    for buyer_id in buyers:
        confirm_bank_transfer(
            session,
            actor_id=user,
            organisation_id=buyer_id,
            reference=f"BENCH-{buyer_id}",
            amount_fen=10**12,
            received_on=today,
        )


def _listing_seller(listings):
    from app.catalog.models import Listing

    return select(Listing.id, Listing.organisation_id).where(Listing.id.in_(listings)).subquery()


def _terms(due) -> dict:
    return {
        "quantity": QUANTITY,
        "area_mu": None,
        "yield_per_mu": None,
        "follows_output": False,
        "quality_spec": "",
        "price_rule": contract_terms.PriceRule.fixed,
        "price_fen": PRICE_FEN,
        "market_adjust_bps": 0,
        "deposit_bps": 0,
        "penalty_bps": 0,
        "payment": contract_terms.Payment.on_acceptance,
        "payment_days": 0,
        "instalments": [{"due_on": due.isoformat(), "quantity": QUANTITY}],
        "delivery_point": "食堂",
        "window_start": "06:00",
        "window_end": "06:30",
        "tolerance_bps": 0,
        "order_days_ahead": 3,
        "force_majeure": "",
        "disputes": "",
    }
