from datetime import date, time, timedelta

import pytest
from sqlalchemy import select

from app.auth import OrgKind
from app.catalog.models import Listing, ListingStatus, StockKind, StockMovement
from app.db import local_date, utcnow
from app.errors import Conflict, NotFound, PermissionDenied, RuleViolation
from app.orders import delivery, payouts, services
from app.orders.models import OrderStatus, PaymentMethod
from app.payments import ledger
from app.payments.ledger import InsufficientFunds
from app.payments.models import Invoice
from app.payments.services import confirm_bank_transfer, set_credit_terms, set_fee_rate
from tests.factories import BatchFactory, ListingFactory, OrganisationFactory, UserFactory
from tests.helpers import ledger_problems
from tests.orders.steps import accept, checkout, credit

TOMORROW = local_date(utcnow()) + timedelta(days=1)
GATE = services.Delivery("湄江中学食堂", TOMORROW, time(6, 0), time(6, 30), "从后门进")


@pytest.fixture
def admin(session):
    return UserFactory()


@pytest.fixture
def school(session):
    return OrganisationFactory(kind=OrgKind.school, name_zh="湄江中学")


@pytest.fixture
def buyer_user(session):
    return UserFactory()


def fund(database, school, admin, yuan: int, reference: str = "BANK-001") -> None:
    """Money in the school's wallet, committed before the test's own transaction starts its work."""
    write = database.write_session()
    with write.begin():
        confirm_bank_transfer(
            write,
            actor_id=admin.id,
            organisation_id=school.id,
            reference=reference,
            amount_fen=yuan * 100,
            received_on=local_date(utcnow()),
        )


def place(session, school, user, lines, **kwargs):
    return checkout(session, school, user.id, lines, **kwargs)


def books_balance(session) -> bool:
    found = ledger_problems(session)
    assert found == [], found
    return True


def test_a_cart_from_three_cooperatives_becomes_three_paid_orders(
    session, school, buyer_user, admin
):
    credit(session, school.id, 1_000_000)
    tea, rice, chili = (
        ListingFactory(price_fen=68000),
        ListingFactory(
            product_code="meitan_rice", grade_code="grade1", price_fen=600, quantity=500
        ),
        ListingFactory(product_code="chaotian_chili", grade_code="first", price_fen=2500),
    )

    placed = place(session, school, buyer_user, [(tea, 2), (rice, 100), (chili, 10)])

    orders = placed.orders
    assert [order.seller_id for order in orders] == [
        tea.organisation_id,
        rice.organisation_id,
        chili.organisation_id,
    ]
    assert [order.total_fen for order in orders] == [136000, 60000, 25000]
    assert {order.status for order in orders} == {OrderStatus.paid}
    assert all(
        order.delivery_point == "湄江中学食堂" and order.window_start == time(6) for order in orders
    )
    assert ledger.balance(session, ledger.wallet(school.id)) == 1_000_000 - 221000
    assert [ledger.balance(session, ledger.escrow(order.id)) for order in orders] == [
        136000,
        60000,
        25000,
    ]
    for listing in (tea, rice, chili):
        session.refresh(listing)
    assert (tea.quantity, rice.quantity, chili.quantity) == (48, 400, 40)
    assert books_balance(session)


def test_lines_keep_the_price_of_the_moment_they_were_ordered(session, school, buyer_user, admin):
    credit(session, school.id, 500_000)
    tea = ListingFactory(price_fen=68000)
    [order] = place(session, school, buyer_user, [(tea, 1)]).orders
    tea.price_fen = 99000
    session.flush()
    assert order.lines[0].price_fen == 68000


def test_stock_is_taken_and_the_listing_sells_out_at_zero(session, school, buyer_user, admin):
    credit(session, school.id, 10_000_000)
    tea = ListingFactory(quantity=5)
    place(session, school, buyer_user, [(tea, 5)])
    session.refresh(tea)
    assert (tea.quantity, tea.status) == (0, ListingStatus.sold_out)
    movement = session.scalars(
        select(StockMovement)
        .where(StockMovement.listing_id == tea.id)
        .order_by(StockMovement.id.desc())
    ).first()
    assert (movement.kind, movement.delta, movement.balance) == (StockKind.ordered, -5, 0)


def test_more_than_the_stock_is_refused_and_nothing_is_taken(session, school, buyer_user):
    tea = ListingFactory(quantity=3)
    with pytest.raises(Conflict, match="Only 3 kg"):
        place(session, school, buyer_user, [(tea, 4)], payment=PaymentMethod.later)
    session.refresh(tea)
    assert tea.quantity == 3


def test_less_than_the_minimum_order_is_refused(session, school, buyer_user):
    tea = ListingFactory(min_order=10)
    with pytest.raises(RuleViolation, match="at least 10") as refused:
        place(session, school, buyer_user, [(tea, 2)], payment=PaymentMethod.later)
    assert refused.value.field == "lines.0.quantity"


def test_a_listing_for_schools_only_cannot_be_ordered_by_a_supermarket(session, buyer_user):
    from app.catalog.models import visibility_mask

    tea = ListingFactory(visible_to=visibility_mask(["school"]))
    market = OrganisationFactory(kind=OrgKind.supermarket)
    with pytest.raises(NotFound):
        place(session, market, buyer_user, [(tea, 1)], payment=PaymentMethod.later)


def test_an_empty_wallet_refuses_the_whole_checkout_and_gives_the_stock_back(
    session, school, buyer_user, admin, database
):
    fund(database, school, admin, 100)  # ¥100, committed before the checkout
    tea, rice = (
        ListingFactory(quantity=10),
        ListingFactory(product_code="meitan_rice", grade_code="grade1", price_fen=600),
    )
    write = database.write_session()
    with (
        pytest.raises(InsufficientFunds, match=r"come to ¥686\.00; your wallet holds ¥100\.00"),
        write.begin(),
    ):
        place(write, school, buyer_user, [(rice, 1), (tea, 1)])
    session.expire_all()
    assert (session.get(Listing, tea.id).quantity, session.get(Listing, rice.id).quantity) == (
        10,
        50,
    )
    assert ledger.balance(session, ledger.wallet(school.id)) == 10000


def test_the_same_idempotency_key_three_times_makes_one_order(session, school, buyer_user, admin):
    credit(session, school.id, 500_000)
    tea = ListingFactory()
    results = [
        place(session, school, buyer_user, [(tea, 2)], idempotency_key="cart-7") for _ in range(3)
    ]
    assert [result.replayed for result in results] == [False, True, True]
    assert len({result.orders[0].id for result in results}) == 1
    session.refresh(tea)
    assert tea.quantity == 48
    assert ledger.balance(session, ledger.wallet(school.id)) == 500_000 - 136000


def test_reusing_a_key_for_a_different_order_is_refused(session, school, buyer_user):
    tea = ListingFactory()
    place(session, school, buyer_user, [(tea, 2)], idempotency_key="k", payment=PaymentMethod.later)
    with pytest.raises(Conflict, match="different order"):
        place(
            session,
            school,
            buyer_user,
            [(tea, 3)],
            idempotency_key="k",
            payment=PaymentMethod.later,
        )


def _paid_and_shipped(session, school, buyer_user, admin, *, quantity=50, price=1200):
    credit(session, school.id, 1_000_000)
    cabbage = ListingFactory(
        product_code="chinese_cabbage",
        grade_code="first",
        price_fen=price,
        quantity=200,
        batch=BatchFactory(),
    )
    [order] = place(session, school, buyer_user, [(cabbage, quantity)]).orders
    delivery.ship_order(
        session, seller_id=order.seller_id, actor_id=UserFactory().id, order_id=order.id
    )
    return order, cabbage


def test_accepting_48_of_50_kg_pays_the_seller_for_48_less_the_fee_and_refunds_2(
    session, school, buyer_user, admin
):
    order, _ = _paid_and_shipped(session, school, buyer_user, admin, price=1234)  # ¥12.34 a kg
    inspector = UserFactory()

    accept(
        session,
        order,
        inspector.id,
        {order.lines[0].id: 48},
        inspectors="李老师、王师傅",
        weights="48.2 kg on the canteen scale",
        note="2 kg wilted",
    )

    seller_gross = 48 * 1234  # 59232 fen
    fee = 59232 * 200 // 10_000  # 1184 fen: 1184.64 rounded down, the 0.64 to the seller
    assert order.status == OrderStatus.accepted
    assert ledger.balance(session, ledger.payable(order.seller_id)) == seller_gross - fee == 58048
    assert ledger.balance(session, ledger.FEES) == 1184
    assert ledger.balance(session, ledger.wallet(school.id)) == 1_000_000 - 50 * 1234 + 2 * 1234
    assert ledger.balance(session, ledger.escrow(order.id)) == 0
    assert (order.inspection.inspectors, order.inspection.signed_by_id) == (
        "李老师、王师傅",
        inspector.id,
    )
    assert books_balance(session)


def test_accepting_more_than_was_shipped_is_refused(session, school, buyer_user, admin):
    order, _ = _paid_and_shipped(session, school, buyer_user, admin)
    with pytest.raises(RuleViolation, match="from 0 to the 50 kg"):
        accept(session, order, buyer_user.id, {order.lines[0].id: 51})


def test_only_the_seller_ships_and_nobody_ships_someone_elses_order(
    session, school, buyer_user, admin
):
    credit(session, school.id, 1_000_000)
    [order] = place(session, school, buyer_user, [(ListingFactory(), 1)]).orders
    with pytest.raises(PermissionDenied, match="Only the seller"):
        delivery.ship_order(session, seller_id=school.id, actor_id=buyer_user.id, order_id=order.id)
    with pytest.raises(NotFound):
        delivery.ship_order(
            session, seller_id=OrganisationFactory().id, actor_id=buyer_user.id, order_id=order.id
        )


def test_paying_a_cancelled_order_is_refused(session, school, buyer_user, admin):
    [order] = place(
        session, school, buyer_user, [(ListingFactory(), 1)], payment=PaymentMethod.later
    ).orders
    services.cancel_order(
        session, organisation_id=school.id, actor_id=buyer_user.id, order_id=order.id
    )
    with pytest.raises(Conflict, match="cancelled"):
        services.pay_order(
            session,
            buyer_id=school.id,
            actor_id=buyer_user.id,
            order_id=order.id,
            payment=PaymentMethod.wallet,
        )


def test_cancelling_a_paid_order_returns_stock_and_money(session, school, buyer_user, admin):
    credit(session, school.id, 1_000_000)
    tea = ListingFactory(quantity=2)
    [order] = place(session, school, buyer_user, [(tea, 2)]).orders
    services.cancel_order(
        session, organisation_id=order.seller_id, actor_id=None, order_id=order.id, reason="冰雹"
    )
    session.refresh(tea)
    assert (tea.quantity, tea.status) == (2, ListingStatus.active)
    assert ledger.balance(session, ledger.wallet(school.id)) == 1_000_000
    assert (order.status, order.cancel_reason) == (OrderStatus.cancelled, "冰雹")
    assert books_balance(session)


def test_unpaid_orders_expire_and_give_their_stock_back(session, school, buyer_user):
    tea = ListingFactory(quantity=10)
    now = utcnow()
    [order] = place(
        session,
        school,
        buyer_user,
        [(tea, 4)],
        payment=PaymentMethod.later,
        unpaid_minutes=30,
        now=now,
    ).orders
    assert services.expire_unpaid_orders(session, now=now + timedelta(minutes=29)) == 0
    assert services.expire_unpaid_orders(session, now=now + timedelta(minutes=31)) == 1
    session.refresh(tea)
    assert (order.status, tea.quantity) == (OrderStatus.cancelled, 10)
    assert services.expire_unpaid_orders(session, now=now + timedelta(minutes=40)) == 0


def test_a_dispute_resolved_with_a_partial_refund_shares_the_money(
    session, school, buyer_user, admin
):
    order, _ = _paid_and_shipped(session, school, buyer_user, admin, quantity=10, price=1000)
    delivery.open_dispute(
        session, buyer_id=school.id, actor_id=buyer_user.id, order_id=order.id, reason="叶子发黄"
    )
    assert ledger.balance(session, ledger.escrow(order.id)) == 10000
    delivery.resolve_dispute(
        session, actor_id=admin.id, order_id=order.id, refund_fen=4000, resolution="一半不合格"
    )
    assert order.status == OrderStatus.resolved
    assert ledger.balance(session, ledger.payable(order.seller_id)) == 6000 - 120
    assert ledger.balance(session, ledger.wallet(school.id)) == 1_000_000 - 10000 + 4000
    assert books_balance(session)


def test_a_school_pays_on_account_is_invoiced_with_its_terms_and_reminded(
    session, school, buyer_user, admin
):
    set_credit_terms(
        session, actor_id=admin.id, organisation_id=school.id, limit_fen=100_000, days=30
    )
    cabbage = ListingFactory(product_code="chinese_cabbage", price_fen=1000, quantity=500)
    [order] = place(
        session, school, buyer_user, [(cabbage, 50)], payment=PaymentMethod.account
    ).orders
    assert ledger.balance(session, ledger.receivable(school.id)) == -50000
    # The entry point rolls the refused checkout back; the savepoint does that here.
    with pytest.raises(InsufficientFunds, match="credit limit"), session.begin_nested():
        place(session, school, buyer_user, [(cabbage, 60)], payment=PaymentMethod.account)
    delivery.ship_order(session, seller_id=order.seller_id, actor_id=admin.id, order_id=order.id)
    now = utcnow()
    accept(session, order, buyer_user.id, now=now)
    bill = session.scalar(select(Invoice).where(Invoice.order_id == order.id))
    assert (bill.amount_fen, bill.due_on) == (50000, local_date(now) + timedelta(days=30))
    assert payouts.remind_due_invoices(session, now=now) == 0
    assert payouts.remind_due_invoices(session, now=now + timedelta(days=28)) == 1
    assert payouts.remind_due_invoices(session, now=now + timedelta(days=29)) == 0
    credit(session, school.id, 60000)
    assert bill.paid_at is not None
    assert ledger.balance(session, ledger.receivable(school.id)) == 0
    assert ledger.balance(session, ledger.wallet(school.id)) == 10000
    assert books_balance(session)


def test_paying_on_account_without_terms_says_to_ask_for_them(session, school, buyer_user):
    with pytest.raises(RuleViolation, match="credit terms"):
        place(session, school, buyer_user, [(ListingFactory(), 1)], payment=PaymentMethod.account)


def test_a_payout_batch_pays_every_seller_and_completes_their_orders(
    session, school, buyer_user, admin
):
    order, _ = _paid_and_shipped(session, school, buyer_user, admin, quantity=10, price=1000)
    accept(session, order, buyer_user.id)
    batch = payouts.run_payout_batch(session, actor_id=admin.id)
    session.refresh(order)
    assert [(payout.organisation_id, payout.amount_fen) for payout in batch.payouts] == [
        (order.seller_id, 9800)
    ]
    assert order.status == OrderStatus.completed
    assert ledger.balance(session, ledger.payable(order.seller_id)) == 0
    assert ",98.00,AgriLink payout" in payouts.bank_file(batch)
    with pytest.raises(Conflict, match="nothing to pay out"):
        payouts.run_payout_batch(session, actor_id=admin.id)
    assert books_balance(session)


def test_the_fee_set_by_the_admin_applies_to_new_orders_only(session, school, buyer_user, admin):
    credit(session, school.id, 1_000_000)
    [before] = place(session, school, buyer_user, [(ListingFactory(), 1)]).orders
    set_fee_rate(session, actor_id=admin.id, basis_points=350)
    [after] = place(session, school, buyer_user, [(ListingFactory(), 1)]).orders
    assert (before.fee_bps, after.fee_bps) == (200, 350)


def test_a_bank_reference_is_confirmed_once(session, school, admin):
    def confirm():
        confirm_bank_transfer(
            session,
            actor_id=admin.id,
            organisation_id=school.id,
            reference="ICBC-0001",
            amount_fen=100,
            received_on=TOMORROW,
        )

    confirm()
    with pytest.raises(Conflict, match="confirmed already"):
        confirm()
    assert ledger.balance(session, ledger.wallet(school.id)) == 100


def test_the_ledger_check_names_a_tampered_balance(session, school, admin):
    from sqlalchemy import update

    from app.payments.models import LedgerAccount

    credit(session, school.id, 100)
    session.execute(
        update(LedgerAccount)
        .where(LedgerAccount.code == ledger.wallet(school.id))
        .values(balance_fen=999)
    )
    [problem] = ledger_problems(session)
    assert problem.what == "balance" and f"wallet:{school.id} shows 999" in problem.detail


def test_the_delivery_date_must_not_have_passed(session, school, buyer_user):
    yesterday = services.Delivery("x", date(2020, 1, 1), time(6), time(7))
    with pytest.raises(RuleViolation) as refused:
        place(session, school, buyer_user, [(ListingFactory(), 1)], delivery=yesterday)
    assert refused.value.field == "delivery_date"


def test_flask_ledger_check_passes_on_balanced_books_and_names_what_is_wrong(
    app, session, school, admin
):
    from sqlalchemy import update

    from app.payments.models import LedgerAccount

    credit(session, school.id, 500)
    session.flush()
    runner = app.test_cli_runner()
    balanced = runner.invoke(args=["ledger", "check"])
    session.execute(update(LedgerAccount).where(LedgerAccount.code == "bank").values(balance_fen=0))
    session.flush()
    broken = runner.invoke(args=["ledger", "check"])

    assert (balanced.exit_code, balanced.output.strip()) == (0, "ledger: the books balance")
    assert broken.exit_code == 1
    assert "balance: bank shows 0 fen but its entries sum to -500" in broken.output


def test_a_transfer_while_an_order_on_account_awaits_delivery_funds_the_wallet(
    session, school, buyer_user, admin
):
    set_credit_terms(
        session, actor_id=admin.id, organisation_id=school.id, limit_fen=100_000, days=30
    )
    cabbage = ListingFactory(product_code="chinese_cabbage", price_fen=1000, quantity=500)
    place(session, school, buyer_user, [(cabbage, 10)], payment=PaymentMethod.account)

    credit(session, school.id, 10000)

    assert ledger.balance(session, ledger.wallet(school.id)) == 10000  # nothing is invoiced yet
    assert ledger.balance(session, ledger.receivable(school.id)) == -10000
    assert books_balance(session)
