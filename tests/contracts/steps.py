"""Contract steps as tests take them: the school's 12-week vegetable terms, drafting, sending, signing."""

from datetime import date, timedelta

from app.contracts import instalments, services
from app.contracts import terms as contract_terms
from app.db import local_date, utcnow
from app.orders import delivery
from app.orders.models import Order


def next_monday(after: date | None = None) -> date:
    today = after or local_date(utcnow())
    return today + timedelta(days=7 - today.weekday())


def school_terms(**changes) -> dict:
    """12 weekly Monday deliveries of 200 kg at the canteen 06:00-06:30, floor ¥3.00/kg with the market
    price if higher, a 10% deposit, paid on acceptance."""
    first = changes.pop("first", next_monday())
    weeks = changes.pop("weeks", 12)
    each = changes.pop("each", 200)
    terms = {
        "quantity": weeks * each,
        "area_mu": None,
        "yield_per_mu": None,
        "follows_output": False,
        "quality_spec": "无黄叶、无泥沙，农残快检合格",
        "price_rule": contract_terms.PriceRule.floor_or_market,
        "price_fen": 300,
        "market_adjust_bps": 0,
        "deposit_bps": 1000,
        "penalty_bps": 0,
        "payment": contract_terms.Payment.on_acceptance,
        "payment_days": 0,
        "instalments": contract_terms.weekly(first, first + timedelta(weeks=weeks - 1), each),
        "delivery_point": "湄江中学食堂",
        "window_start": "06:00",
        "window_end": "06:30",
        "tolerance_bps": 200,
        "order_days_ahead": 3,
        "force_majeure": "冰雹、洪水等自然灾害，凭气象证明可免除当期交付。",
        "disputes": "协商不成的，提交湄潭县人民调解委员会调解。",
    }
    return {**terms, **changes}


def draft(session, buyer, listing, user_id: int, **changes):
    """The buyer drafts a contract for the seller's listing."""
    return services.create_contract(
        session,
        organisation_id=buyer.id,
        actor_id=user_id,
        listing_id=listing.id,
        buyer_id=None,
        title="湄江中学秋季蔬菜",
        terms=school_terms(**changes),
    )


def sign_both(session, contract, buyer_user_id: int, seller_user_id: int):
    """Send the draft, then both sides sign its latest version."""
    send(session, contract, buyer_user_id)
    version = contract.latest.number
    for organisation_id, user_id in (
        (contract.buyer_id, buyer_user_id),
        (contract.seller_id, seller_user_id),
    ):
        services.sign_contract(
            session,
            organisation_id=organisation_id,
            actor_id=user_id,
            contract_id=contract.id,
            version=version,
        )
    return contract


def send(session, contract, user_id: int) -> None:
    """The drafter sends its draft to the other side."""
    services.send_contract(
        session,
        organisation_id=contract.drafted_by_org_id,
        actor_id=user_id,
        contract_id=contract.id,
    )


def counter(session, contract, user_id: int, note: str = "", **changes):
    """The seller answers the latest version with the school's terms, changed by `changes`."""
    return services.propose_terms(
        session,
        organisation_id=contract.seller_id,
        actor_id=user_id,
        contract_id=contract.id,
        based_on=contract.latest.number,
        terms=school_terms(**changes),
        note=note,
    )


def breach(session, contract, wronged_id: int, user_id: int, remedy, reason: str = "对方违约"):
    """The wronged side (`wronged_id`) records that the other side defaulted."""
    return services.record_breach(
        session,
        organisation_id=wronged_id,
        actor_id=user_id,
        contract_id=contract.id,
        reason=reason,
        remedy=remedy,
    )


def claim(session, contract, user_id: int, instalment: int, organisation_id=None):
    """The seller (or whoever `organisation_id` names) claims force majeure: a hailstorm."""
    return services.claim_force_majeure(
        session,
        organisation_id=organisation_id or contract.seller_id,
        actor_id=user_id,
        contract_id=contract.id,
        instalment=instalment,
        reason="10月3日冰雹，菜地受灾",
    )


def shipped(session, order, seller_user_id: int):
    """The seller sends the order on its way."""
    return delivery.ship_order(
        session, seller_id=order.seller_id, actor_id=seller_user_id, order_id=order.id
    )


def ordered(session, instalment):
    """The scheduler orders the instalment now: its order."""
    session.flush()  # the claim reads the instalment from the database
    instalments.order_instalment(session, instalment_id=instalment.id)
    return session.get(Order, instalment.order_id) if instalment.order_id else None


def signed(session, buyer, listing, people, *, wallet_fen: int = 500_000, **changes):
    """A contract the buyer drafted, both signed, with `wallet_fen` in the buyer's wallet first for its
    deposit; `people` are the buyer's and the seller's managers."""
    from tests.orders.steps import credit

    credit(session, buyer.id, wallet_fen)
    contract = draft(session, buyer, listing, people[0].id, **changes)
    return sign_both(session, contract, people[0].id, people[1].id)
