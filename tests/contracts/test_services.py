from datetime import timedelta

import pytest
from sqlalchemy import select

from app.auth import OrgKind
from app.contracts import instalments, jobs, queries, services
from app.contracts import terms as contract_terms
from app.contracts.models import ContractStatus, InstalmentStatus, Remedy
from app.contracts.prices import price_source_label
from app.db import local_date, utcnow
from app.errors import Conflict, NotFound, RuleViolation
from app.orders.models import Order, OrderStatus
from app.payments import ledger
from tests.contracts.steps import (
    breach,
    claim,
    counter,
    draft,
    next_monday,
    ordered,
    school_terms,
    send,
    shipped,
    signed,
)
from tests.factories import ListingFactory, OrganisationFactory, UserFactory
from tests.helpers import ledger_problems
from tests.orders.steps import accept, checkout, credit


@pytest.fixture
def school(session):
    return OrganisationFactory(kind=OrgKind.school, name_zh="湄江中学")


@pytest.fixture
def cabbages(session):
    return ListingFactory(
        product_code="chinese_cabbage", grade_code="first", price_fen=350, quantity=10_000
    )


@pytest.fixture
def people(session):
    return UserFactory(), UserFactory()  # the school's manager, the cooperative's manager


@pytest.fixture
def active(session, school, cabbages, people):
    """The school's contract, signed by both, with ¥2,000 in the school's wallet for the deposit and more."""
    contract = signed(session, school, cabbages, people)
    session.flush()  # jobs and requests work in sessions of their own
    return contract


def books_balance(session) -> bool:
    found = ledger_problems(session)
    assert found == [], found
    return True


def in_days(days: int):
    return utcnow() + timedelta(days=days)


def test_signing_both_activates_the_contract_and_holds_the_ten_percent_deposit(
    session, active, school
):
    assert active.status == ContractStatus.active
    assert len(active.instalments) == 12
    # 2,400 kg at the ¥3.00 floor is ¥7,200; 10% of it is ¥720.
    assert active.deposit_fen == 72_000
    assert ledger.balance(session, ledger.deposit(active.id)) == 72_000
    assert ledger.balance(session, ledger.wallet(school.id)) == 500_000 - 72_000
    assert books_balance(session)


def test_a_25_percent_deposit_is_refused_citing_the_20_percent_cap(
    session, school, cabbages, people
):
    with pytest.raises(RuleViolation) as refused:
        draft(session, school, cabbages, people[0].id, deposit_bps=2500)
    assert refused.value.field == "deposit_pct"
    assert "20%" in refused.value.message and "25%" in refused.value.message


def test_instalments_that_do_not_add_up_are_refused_naming_the_gap(
    session, school, cabbages, people
):
    terms = school_terms()
    terms["instalments"] = terms["instalments"][:-1]  # 2,200 kg scheduled of 2,400
    with pytest.raises(RuleViolation) as refused:
        services.create_contract(
            session,
            organisation_id=school.id,
            actor_id=people[0].id,
            listing_id=cabbages.id,
            buyer_id=None,
            title="秋季蔬菜",
            terms=terms,
        )
    assert refused.value.field == "instalments"
    assert "2200" in refused.value.message and "200" in refused.value.message


def test_a_gap_within_the_tolerance_is_accepted(session, school, cabbages, people):
    contract = draft(
        session, school, cabbages, people[0].id, quantity=2440
    )  # 40 kg over 2,400: 1.6%
    assert contract.status == ContractStatus.draft


def test_a_counter_proposal_is_a_new_version_and_the_diff_names_what_changed(
    session, school, cabbages, people
):
    contract = draft(session, school, cabbages, people[0].id)
    send(session, contract, people[0].id)
    counter(session, contract, people[1].id, note="肥料涨价", price_fen=330, deposit_bps=1500)
    assert [version.number for version in contract.versions] == [1, 2]
    changed = contract_terms.changes(contract.versions[0].terms, contract.versions[1].terms)
    assert changed == [("price_fen", 300, 330), ("deposit_bps", 1000, 1500)]
    assert contract.versions[0].terms_hash != contract.versions[1].terms_hash


def test_signing_a_version_that_is_no_longer_the_latest_is_refused(
    session, school, cabbages, people
):
    contract = draft(session, school, cabbages, people[0].id)
    send(session, contract, people[0].id)
    counter(session, contract, people[1].id, price_fen=330)
    with pytest.raises(Conflict) as refused:
        services.sign_contract(
            session,
            organisation_id=school.id,
            actor_id=people[0].id,
            contract_id=contract.id,
            version=1,
        )
    assert "version 2" in refused.value.message
    assert contract.status == ContractStatus.negotiating


def test_a_signature_keeps_who_when_and_the_hash_of_the_exact_terms(session, active, people):
    signatures = active.signed_version.signatures
    assert {s.user_id for s in signatures} == {people[0].id, people[1].id}
    assert all(
        s.terms_hash == contract_terms.digest(active.signed_version.terms) for s in signatures
    )


def test_a_draft_is_seen_only_by_its_drafter_and_a_contract_only_by_its_parties(
    session, school, cabbages, people
):
    contract = draft(session, school, cabbages, people[0].id)
    with pytest.raises(NotFound):
        services.contract_of(session, contract.id, cabbages.organisation_id)
    send(session, contract, people[0].id)
    assert services.contract_of(session, contract.id, cabbages.organisation_id) is contract
    with pytest.raises(NotFound):
        services.contract_of(session, contract.id, OrganisationFactory(kind=OrgKind.supermarket).id)


def test_the_job_orders_each_instalment_three_days_ahead_exactly_once(app, session, active, school):
    first = active.instalments[0]
    now = in_days((first.due_on - local_date(utcnow())).days - 3)
    with app.app_context():
        assert jobs.order_due_instalments(now - timedelta(days=1)) == {
            "ordered": 0,
            "not_ordered": 0,
        }
        assert jobs.order_due_instalments(now) == {"ordered": 1, "not_ordered": 0}
        assert jobs.order_due_instalments(now) == {"ordered": 0, "not_ordered": 0}
    session.expire_all()
    order = session.get(Order, first.order_id)
    assert order.status == OrderStatus.paid  # held from the wallet: paid on acceptance
    assert order.delivery_date == first.due_on and order.delivery_point == "湄江中学食堂"
    assert [line.quantity for line in order.lines] == [200]
    orders = session.scalars(select(Order).where(Order.buyer_id == school.id)).all()
    assert len(orders) == 1
    assert books_balance(session)


def test_an_instalment_already_claimed_by_another_run_is_not_ordered_again(session, active):
    first = active.instalments[0]
    session.flush()
    assert instalments.order_instalment(session, instalment_id=first.id) is True
    assert instalments.order_instalment(session, instalment_id=first.id) is False


def test_with_no_trade_yet_the_floor_price_is_used_and_says_so(session, active):
    first = active.instalments[0]
    session.flush()
    instalments.order_instalment(session, instalment_id=first.id)
    assert first.price_fen == 300
    assert price_source_label(first.price_source) == "floor price: no market trade yet"


def test_a_market_price_above_the_floor_is_taken_from_the_last_trade(
    session, active, cabbages, people
):
    supermarket = OrganisationFactory(kind=OrgKind.supermarket)
    credit(session, supermarket.id, 100_000)
    trade = checkout(session, supermarket, people[0].id, [(cabbages, 10)]).orders[0]  # at ¥3.50
    session.flush()
    shipped(session, trade, people[1].id)
    accept(session, trade, people[0].id)
    first = active.instalments[0]
    instalments.order_instalment(session, instalment_id=first.id)
    assert first.price_fen == 350
    assert f"order #{trade.id}" in price_source_label(first.price_source)


def spot_trade(session, listing, price_fen: int, people) -> Order:
    """A supermarket buys 10 units of `listing` at `price_fen` and accepts them: the market's last trade."""

    listing.price_fen = price_fen
    supermarket = OrganisationFactory(kind=OrgKind.supermarket)
    credit(session, supermarket.id, 1_000_000)
    trade = checkout(session, supermarket, people[0].id, [(listing, 10)]).orders[0]
    session.flush()
    shipped(session, trade, people[1].id)
    return accept(session, trade, people[0].id)


@pytest.mark.parametrize(
    ("last_trade_fen", "expected_fen", "source"),
    [
        (
            50_000,
            45_000,
            "market price: last trade ¥500.00",
        ),  # ¥500 less 10% is above the ¥400 floor
        (42_000, 40_000, "floor price, above the market: last trade ¥420.00"),  # ¥378 is below it
    ],
)
def test_a_tea_contract_takes_the_last_trade_less_its_adjustment_never_below_the_floor(
    session, people, last_trade_fen, expected_fen, source
):
    tea_house = OrganisationFactory(kind=OrgKind.trader)
    cuiya = ListingFactory(product_code="meitan_cuiya", grade_code="first", quantity=1_000)
    spot_trade(session, cuiya, last_trade_fen, people)
    contract = signed(
        session,
        tea_house,
        cuiya,
        people,
        wallet_fen=10_000_000,
        weeks=2,
        each=20,
        price_rule=contract_terms.PriceRule.market_linked,
        price_fen=40_000,
        market_adjust_bps=-1000,
    )
    first = contract.instalments[0]
    session.flush()
    instalments.order_instalment(session, instalment_id=first.id)
    assert first.price_fen == expected_fen
    assert price_source_label(first.price_source).startswith(source)
    order = session.get(Order, first.order_id)
    assert order.lines[0].price_fen == expected_fen and order.total_fen == 20 * expected_fen


def test_an_instalment_without_stock_waits_and_the_seller_is_told_while_the_others_are_ordered(
    app, session, school, people
):
    from app.events import Event

    stocked = ListingFactory(product_code="chinese_cabbage", price_fen=350, quantity=10_000)
    empty = ListingFactory(product_code="potato", price_fen=250, quantity=0)
    contracts = [signed(session, school, listing, people) for listing in (stocked, empty)]
    session.flush()
    now = in_days((contracts[0].instalments[0].due_on - local_date(utcnow())).days - 3)
    with app.app_context():
        assert jobs.order_due_instalments(now) == {"ordered": 1, "not_ordered": 1}
    session.expire_all()
    made, waiting = (contract.instalments[0] for contract in contracts)
    assert made.status == InstalmentStatus.ordered and made.order_id is not None
    assert waiting.status == InstalmentStatus.scheduled and waiting.order_id is None
    assert "售罄" in waiting.problem or "sold out" in waiting.problem
    told = session.scalars(
        select(Event).where(Event.kind == "contract.instalment_not_ordered")
    ).all()
    assert [event.organisation_id for event in told] == [empty.organisation_id]
    assert books_balance(session)


def test_a_buyer_with_too_little_in_its_wallet_gets_the_order_to_pay_before_the_day(
    session, school, cabbages, people
):
    # ¥720 in the wallet: the deposit, and nothing for the first ¥600 delivery
    contract = signed(session, school, cabbages, people, wallet_fen=72_000)
    first = contract.instalments[0]
    session.flush()
    assert instalments.order_instalment(session, instalment_id=first.id) is True
    order = session.get(Order, first.order_id)
    assert order.status == OrderStatus.placed and order.expires_at is not None
    assert books_balance(session)


def test_acceptance_at_the_gate_shows_in_the_contracts_progress(session, active, people):

    first = active.instalments[0]
    session.flush()
    order = ordered(session, first)
    shipped(session, order, people[1].id)
    accept(session, order, people[0].id, accepted={order.lines[0].id: 190})
    progress = queries.progress_of(session, [active])[active.id]
    assert (progress.ordered, progress.delivered, progress.accepted, progress.rejected) == (
        200,
        200,
        190,
        10,
    )
    assert progress.remaining == 2400 - 190
    assert books_balance(session)


def test_a_missed_instalment_is_marked_and_its_unshipped_order_cancelled(session, active):
    first = active.instalments[0]
    session.flush()
    instalments.order_instalment(session, instalment_id=first.id)
    day_after = in_days((first.due_on - local_date(utcnow())).days + 1)
    assert instalments.mark_missed(session, now=day_after) == 1
    assert first.status == InstalmentStatus.missed
    assert session.get(Order, first.order_id).status == OrderStatus.cancelled
    assert books_balance(session)


def test_a_buyer_that_defaults_loses_its_deposit_to_the_seller(
    session, active, school, cabbages, people
):
    breach(
        session,
        active,
        cabbages.organisation_id,
        people[1].id,
        Remedy.deposit,
        "学校单方面停止收货",
    )
    assert active.status == ContractStatus.breached
    assert ledger.balance(session, ledger.payable(cabbages.organisation_id)) == 72_000
    assert ledger.balance(session, ledger.deposit(active.id)) == 0
    assert books_balance(session)


def test_a_seller_that_defaults_returns_double_as_far_as_it_has_money_owed(
    session, active, school, cabbages, people
):
    recorded = breach(
        session, active, school.id, people[0].id, Remedy.deposit, "合作社连续三周未交货"
    )
    # The deposit comes back; the seller has nothing owed to it on the platform yet, so the second
    # ¥720 is recorded as still owed, for mediation.
    assert ledger.balance(session, ledger.wallet(school.id)) == 500_000
    assert (recorded.paid_fen, recorded.owed_fen) == (0, 72_000)
    assert books_balance(session)


def test_a_remedy_the_contract_did_not_agree_is_refused(session, active, school, people):
    with pytest.raises(RuleViolation) as refused:
        breach(session, active, school.id, people[0].id, Remedy.penalty, "…")
    assert refused.value.field == "remedy"


def test_an_accepted_force_majeure_claim_excuses_the_instalment(
    session, active, cabbages, school, people
):
    hail = claim(session, active, people[1].id, 2)
    services.decide_claim(
        session,
        organisation_id=school.id,
        actor_id=people[0].id,
        contract_id=active.id,
        claim_id=hail.id,
        accept=True,
    )
    assert active.instalments[1].status == InstalmentStatus.excused
    assert queries.progress_of(session, [active])[active.id].excused == 200


def test_the_buyer_cannot_claim_force_majeure_nor_the_seller_decide_it(
    session, active, school, cabbages, people
):
    from app.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        claim(session, active, people[0].id, 1, organisation_id=school.id)


def test_a_contract_with_every_instalment_accepted_or_excused_completes_and_returns_the_deposit(
    session, school, cabbages, people
):
    contract = signed(
        session, school, cabbages, people, weeks=1, first=next_monday(), deposit_bps=2000
    )
    order = ordered(session, contract.instalments[0])
    shipped(session, order, people[1].id)
    accept(session, order, people[0].id)
    assert instalments.end_finished(session) == {"completed": 1, "expired": 0}
    assert contract.status == ContractStatus.completed
    assert ledger.balance(session, ledger.deposit(contract.id)) == 0
    assert books_balance(session)


def test_a_contract_with_a_missed_delivery_expires_a_week_after_its_last_and_returns_the_deposit(
    session, school, cabbages, people
):
    contract = signed(session, school, cabbages, people, weeks=1, deposit_bps=2000)
    due_on = contract.instalments[0].due_on
    days = (due_on - local_date(utcnow())).days
    assert instalments.mark_missed(session, now=in_days(days + 1)) == 1
    assert instalments.end_finished(session, now=in_days(days + 3)) == {
        "completed": 0,
        "expired": 0,
    }
    assert instalments.end_finished(session, now=in_days(days + 8)) == {
        "completed": 0,
        "expired": 1,
    }
    assert contract.status == ContractStatus.expired
    assert ledger.balance(session, ledger.wallet(school.id)) == 500_000
    assert books_balance(session)


def test_a_defaulting_buyer_pays_the_agreed_penalty_when_the_seller_picks_it(
    session, school, cabbages, people
):
    contract = signed(session, school, cabbages, people, penalty_bps=500)
    recorded = breach(
        session, contract, cabbages.organisation_id, people[1].id, Remedy.penalty, "学校中途解约"
    )
    # 5% of ¥7,200 is ¥360, from the school's wallet (its ¥720 deposit came back to it first).
    assert (recorded.paid_fen, recorded.owed_fen) == (36_000, 0)
    assert ledger.balance(session, ledger.payable(cabbages.organisation_id)) == 36_000
    assert ledger.balance(session, ledger.wallet(school.id)) == 500_000 - 36_000
    assert books_balance(session)


def test_a_breach_cancels_the_contracts_unshipped_orders_and_returns_their_money(
    session, active, school, cabbages, people
):
    first = active.instalments[0]
    instalments.order_instalment(session, instalment_id=first.id)
    breach(session, active, school.id, people[0].id, Remedy.deposit, "合作社停止供货")
    assert session.get(Order, first.order_id).status == OrderStatus.cancelled
    session.refresh(cabbages)
    assert cabbages.quantity == 10_000  # the 200 kg went back on sale
    assert books_balance(session)


def test_a_contract_on_account_invoices_each_delivery_within_its_agreed_days(
    session, school, cabbages, people
):
    from app.payments.models import Invoice
    from app.payments.services import set_credit_terms

    set_credit_terms(
        session, actor_id=people[0].id, organisation_id=school.id, limit_fen=1_000_000, days=30
    )
    contract = signed(
        session,
        school,
        cabbages,
        people,
        wallet_fen=100_000,
        payment=contract_terms.Payment.on_account,
        payment_days=15,
    )
    order = ordered(session, contract.instalments[0])
    assert order.payment == "account" and order.status == OrderStatus.paid
    shipped(session, order, people[1].id)
    accept(session, order, people[0].id)
    bill = session.scalar(select(Invoice).where(Invoice.order_id == order.id))
    assert (bill.due_on - bill.issued_on).days == 15  # the contract's 15 days, not the school's 30
    assert books_balance(session)


def test_a_checkout_key_taken_by_another_order_never_stands_in_for_an_instalment(
    session, active, school
):
    from app.orders.models import Checkout

    first = active.instalments[0]
    session.add(
        Checkout(buyer_id=school.id, idempotency_key=f"contract:{active.id}:1", request_hash="x")
    )
    session.flush()
    assert instalments.order_instalment(session, instalment_id=first.id) is False
    assert first.order_id is None and first.status == InstalmentStatus.scheduled
    assert first.problem  # the seller is told it could not be ordered


def test_no_instalment_of_a_breached_contract_is_ordered(session, active, school, people):
    breach(session, active, school.id, people[0].id, Remedy.deposit, "合作社停止供货")
    session.flush()
    assert instalments.order_instalment(session, instalment_id=active.instalments[1].id) is False


def test_a_force_majeure_claim_cannot_be_accepted_once_the_goods_are_on_their_way(
    session, active, school, cabbages, people
):
    first = active.instalments[0]
    hail = claim(session, active, people[1].id, 1)
    instalments.order_instalment(session, instalment_id=first.id)
    shipped(session, session.get(Order, first.order_id), people[1].id)
    with pytest.raises(Conflict):
        services.decide_claim(
            session,
            organisation_id=school.id,
            actor_id=people[0].id,
            contract_id=active.id,
            claim_id=hail.id,
            accept=True,
        )
