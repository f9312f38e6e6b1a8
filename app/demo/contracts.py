"""Demo order contracts: the school's winter vegetables (countered, signed, its first delivery ordered) and a
tea trader's market-linked Cuiya contract waiting for the cooperative's answer."""

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import Organisation
from app.catalog.models import Listing, ListingStatus, Product
from app.contracts import instalments, services
from app.contracts import terms as contract_terms
from app.contracts.models import Contract
from app.db import local_date, utcnow
from app.demo.orders import SCHOOL, owner
from app.payments.services import confirm_bank_transfer

VEGETABLES, TEA, TEA_TRADER = 3, 2, 11


def seed_contracts(session: Session, organisations: dict[int, Organisation], admin_id: int) -> int:
    """The demo contracts, once (nothing is added if any contract exists); how many."""
    if session.scalar(select(Contract.id).limit(1)) is not None:
        return 0
    today = local_date(utcnow())
    school, coop = organisations[SCHOOL], organisations[VEGETABLES]
    confirm_bank_transfer(
        session,
        actor_id=admin_id,
        organisation_id=school.id,
        reference="BOC-20261118-1030",
        amount_fen=200_000,
        received_on=today - timedelta(days=5),
    )
    _school_contract(session, school, coop, today)
    _tea_contract(session, organisations[TEA_TRADER], organisations[TEA], today)
    return 2


def _school_contract(session, school, coop, today: date) -> None:
    """Twelve Monday deliveries of cabbage to the canteen; the cooperative raised the floor, both signed."""
    cabbage = _listing(session, coop, "chinese_cabbage", "kg")
    first = today + timedelta(days=7 - today.weekday())
    terms = _terms(
        quantity=2400,
        price_rule=contract_terms.PriceRule.floor_or_market,
        price_fen=220,
        deposit_bps=1000,
        payment=contract_terms.Payment.on_account,
        payment_days=30,
        instalments=contract_terms.weekly(first, first + timedelta(weeks=11), 200),
        delivery_point=school.address or school.name_zh,
        quality_spec="叶球紧实，无黄叶、无泥沙；每批附农残速测合格报告",
        order_days_ahead=7,
    )
    school_manager, coop_manager = owner(session, school), owner(session, coop)
    contract = services.create_contract(
        session,
        organisation_id=school.id,
        actor_id=school_manager,
        listing_id=cabbage.id,
        buyer_id=None,
        title="湄江中学 冬季食堂大白菜",
        terms=terms,
        note="按学期 12 周，每周一早 6 点到校",
    )
    services.send_contract(
        session, organisation_id=school.id, actor_id=school_manager, contract_id=contract.id
    )
    services.propose_terms(
        session,
        organisation_id=coop.id,
        actor_id=coop_manager,
        contract_id=contract.id,
        based_on=1,
        terms={**terms, "price_fen": 240},
        note="冬季菜价上涨，保底价按 2.40 元",
    )
    for organisation, person in ((school, school_manager), (coop, coop_manager)):
        services.sign_contract(
            session,
            organisation_id=organisation.id,
            actor_id=person,
            contract_id=contract.id,
            version=2,
        )
    session.flush()  # the instalments' ids, to order the first one
    instalments.order_instalments(session, instalment_ids=[contract.instalments[0].id])


def _tea_contract(session, trader, tea_coop, today: date) -> None:
    """Monthly Cuiya at the market price less 5%, floor ¥600/kg: sent by the trader, awaiting the cooperative."""
    cuiya = _listing(session, tea_coop, "meitan_cuiya", "kg")
    days = [today + timedelta(days=30 * month) for month in range(1, 5)]
    contract = services.create_contract(
        session,
        organisation_id=trader.id,
        actor_id=owner(session, trader),
        listing_id=cuiya.id,
        buyer_id=None,
        title="黔北茶贸 2027 春茶 湄潭翠芽一级",
        terms=_terms(
            quantity=40,
            price_rule=contract_terms.PriceRule.market_linked,
            price_fen=60_000,
            market_adjust_bps=-500,
            deposit_bps=2000,
            penalty_bps=1000,
            instalments=[{"due_on": day.isoformat(), "quantity": 10} for day in days],
            delivery_point="中国茶城 3 号仓",
            quality_spec="按地理标志产品湄潭翠芽一级感官指标，收购当日检测，以质论价",
            window_start="09:00",
            window_end="11:00",
        ),
    )
    services.send_contract(
        session, organisation_id=trader.id, actor_id=owner(session, trader), contract_id=contract.id
    )


def _listing(
    session, seller, product_code: str, unit: str, grade_rank: int | None = None
) -> Listing:
    query = (
        select(Listing)
        .join(Product, Product.id == Listing.product_id)
        .where(
            Listing.organisation_id == seller.id,
            Product.code == product_code,
            Listing.unit_code == unit,
            Listing.status == ListingStatus.active,
        )
        .order_by(Listing.price_fen)
    )
    return session.scalars(query).first()


def _terms(**given) -> dict:
    return {
        "area_mu": None,
        "yield_per_mu": None,
        "follows_output": False,
        "quality_spec": "",
        "market_adjust_bps": 0,
        "penalty_bps": 0,
        "payment": contract_terms.Payment.on_acceptance,
        "payment_days": 0,
        "window_start": "06:00",
        "window_end": "06:30",
        "tolerance_bps": 200,
        "order_days_ahead": 3,
        "force_majeure": "冰雹、洪涝、持续干旱等自然灾害，凭气象部门证明可免除或减少当期交付。",
        "disputes": "协商不成的，提交湄潭县人民调解委员会调解；调解不成的，向湄潭县人民法院起诉。",
        **given,
    }
