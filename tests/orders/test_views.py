import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.auth import OrgKind, Role
from app.db import local_date, utcnow
from app.orders import delivery
from app.orders.models import Order, OrderStatus, PaymentMethod
from app.payments import ledger
from app.payments.services import set_credit_terms
from tests.catalog.test_uploads import jpeg_with_gps
from tests.factories import BatchFactory, ListingFactory, MembershipFactory, UserFactory, member
from tests.helpers import post_form, sign_in
from tests.orders.steps import accept, checkout, checkout_form, credit

TOMORROW = (local_date(utcnow()) + timedelta(days=1)).isoformat()


@pytest.fixture
def uploads(app, tmp_path):
    app.config["UPLOAD_FOLDER"] = str(tmp_path)
    yield tmp_path
    app.config["UPLOAD_FOLDER"] = ""


def _checkout(client, **fields):
    return post_form(client, "/cart/checkout", checkout_form(client, **fields))


def _ordered_on_the_pages(client, session, buyer, listing, quantity: int) -> Order:
    """The buyer puts `quantity` of the listing in its cart and checks out: its (one) order."""
    sign_in(client, buyer.user, buyer.organisation)
    post_form(client, "/cart/lines", {"listing_id": listing.id, "quantity": quantity})
    _checkout(client)
    return session.scalar(select(Order).where(Order.buyer_id == buyer.organisation_id))


def _shipped_on_the_pages(client, seller, order: Order) -> None:
    sign_in(client, seller.user, seller.organisation)
    post_form(client, f"/orders/{order.id}/ship")


def test_a_supermarket_fills_a_cart_from_three_cooperatives_and_checks_out_once(client, session):
    buyer = member(kind=OrgKind.supermarket, role=Role.manager)
    credit(session, buyer.organisation_id, 500000)
    listings = [
        ListingFactory(price_fen=68000),
        ListingFactory(product_code="chaotian_chili", price_fen=2500),
        ListingFactory(product_code="potato", price_fen=300, min_order=20),
    ]
    sign_in(client, buyer.user, buyer.organisation)
    for listing in listings:
        post_form(
            client, "/cart/lines", {"listing_id": listing.id, "quantity": listing.min_order * 2}
        )

    cart = client.get("/cart").get_data(as_text=True)
    placed = _checkout(client)
    orders = client.get("/orders?side=buying").get_data(as_text=True)

    assert "总计：¥1,530.00" in cart  # 2 × ¥680 + 2 × ¥25 + 40 × ¥3
    assert placed.status_code == 302
    assert orders.count("已付款") == 3 and "永辉超市湄潭店收货区" in orders
    assert ledger.balance(session, ledger.wallet(buyer.organisation_id)) == 500000 - 153000
    assert "购物车是空的" in client.get("/cart").get_data(as_text=True)


def test_a_double_click_on_place_order_places_it_once(client, session):
    buyer = member(kind=OrgKind.supermarket, role=Role.manager)
    credit(session, buyer.organisation_id, 500000)
    tea = ListingFactory()
    sign_in(client, buyer.user, buyer.organisation)
    post_form(client, "/cart/lines", {"listing_id": tea.id, "quantity": 1})
    form = checkout_form(client)
    post_form(client, "/cart/checkout", form)
    post_form(client, "/cart/lines", {"listing_id": tea.id, "quantity": 1})
    post_form(client, "/cart/checkout", form)

    assert (
        len(session.scalars(select(Order).where(Order.buyer_id == buyer.organisation_id)).all())
        == 1
    )


def test_an_empty_wallet_is_explained_on_thecheckout_form(client, session):
    buyer = member(kind=OrgKind.school, role=Role.manager)
    tea = ListingFactory()
    sign_in(client, buyer.user, buyer.organisation)
    post_form(client, "/cart/lines", {"listing_id": tea.id, "quantity": 1})

    response = _checkout(client)

    assert response.status_code == 409 or response.status_code == 422
    assert "钱包余额 ¥0.00" in response.get_data(as_text=True)
    assert session.scalars(select(Order)).all() == []


def test_seller_ships_with_a_delivery_note_and_the_school_accepts_48_of_50_with_a_photo(
    client, session, uploads
):
    school = member(kind=OrgKind.school, role=Role.manager)
    inspector = MembershipFactory(organisation=school.organisation, role=Role.inspector)
    credit(session, school.organisation_id, 100000)
    seller = member(role=Role.manager)
    batch = BatchFactory(seller=seller.organisation)
    cabbage = ListingFactory(
        seller=seller.organisation, product_code="chinese_cabbage", price_fen=300, batch=batch
    )
    order = _ordered_on_the_pages(client, session, school, cabbage, 50)

    _shipped_on_the_pages(client, seller, order)
    note = client.get(f"/orders/{order.id}/delivery-note").get_data(as_text=True)

    sign_in(client, inspector.user, school.organisation)
    accepted = post_form(
        client,
        f"/orders/{order.id}/accept",
        {
            f"accepted-{order.lines[0].id}": "48",
            "inspectors": "李老师、王师傅",
            "weights": "48.1 kg",
            "test_outcome": "passed",
            "note": "2 kg 黄叶",
            "photos": [
                (io.BytesIO(jpeg_with_gps((800, 600))), "scales.jpg"),
                (io.BytesIO(jpeg_with_gps((640, 480))), "crate.jpg"),
            ],
        },
        content_type="multipart/form-data",
    )
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    post_form(client, "/sign-out")
    trace = client.get(f"/t/{batch.code}").get_data(as_text=True)

    assert "已向买家发出 50 千克。" in trace and "买家到货验收 48 千克。" in trace
    assert school.organisation.name_zh not in trace  # who bought stays private
    assert batch.code in note and f"/t/{batch.code}/qr.svg" in note
    assert accepted.status_code == 302
    session.refresh(order)
    assert order.status == OrderStatus.accepted and len(order.inspection.photos) == 2
    assert "李老师、王师傅" in page and "¥144.00" in page and "¥6.00" in page


def test_accepting_more_than_shipped_on_the_page_says_so_on_the_line(client, session):
    school = member(kind=OrgKind.school, role=Role.owner)
    credit(session, school.organisation_id, 100000)
    seller = member(role=Role.manager)
    tea = ListingFactory(seller=seller.organisation, price_fen=1000)
    order = _ordered_on_the_pages(client, session, school, tea, 5)
    _shipped_on_the_pages(client, seller, order)
    sign_in(client, school.user, school.organisation)

    response = post_form(
        client,
        f"/orders/{order.id}/accept",
        {
            f"accepted-{order.lines[0].id}": "6",
            "inspectors": "李老师",
            "test_outcome": "passed",
        },
    )

    assert response.status_code == 422
    assert "可验收 0 至已发货的 5 kg" in response.get_data(as_text=True)


def test_an_admin_confirms_a_transfer_resolves_a_dispute_and_downloads_the_payout_file(
    client, session
):
    admin = member(kind=OrgKind.platform, role=Role.admin)
    school = member(kind=OrgKind.school, role=Role.manager)
    seller = member(role=Role.manager)
    tea = ListingFactory(seller=seller.organisation, price_fen=10000)
    sign_in(client, admin.user, admin.organisation, language="en")

    confirmed = post_form(
        client,
        "/admin/money/transfers",
        {
            "organisation_id": school.organisation_id,
            "reference": "ICBC-20261128-0001",
            "amount_yuan": "1,000.50",
            "received_on": local_date(utcnow()).isoformat(),
        },
    )
    assert confirmed.status_code == 302
    assert ledger.balance(session, ledger.wallet(school.organisation_id)) == 100050

    order = _ordered_on_the_pages(client, session, school, tea, 1)
    _shipped_on_the_pages(client, seller, order)
    sign_in(client, school.user, school.organisation)
    post_form(client, f"/orders/{order.id}/dispute", {"reason": "茶叶受潮"})

    sign_in(client, admin.user, admin.organisation, language="en")
    overview = client.get("/admin/money").get_data(as_text=True)
    resolved = post_form(
        client,
        f"/admin/money/disputes/{order.id}/resolve",
        {"refund_yuan": "30", "resolution": "三成受潮"},
    )
    paid_out = post_form(client, "/admin/money/payouts")
    batch_page = client.get("/admin/money").get_data(as_text=True)
    batch_id = re.search(r"/admin/money/payouts/(\d+)\.csv", batch_page).group(1)
    bank_file = client.get(f"/admin/money/payouts/{batch_id}.csv").get_data(as_text=True)

    assert "茶叶受潮" in overview and "the books balance" in overview
    assert resolved.status_code == 302 and paid_out.status_code == 302
    assert f"{seller.organisation.name_zh},{seller.organisation.credit_code}" in bank_file
    assert ",68.60," in bank_file  # ¥70 for the seller less the 2% fee
    session.refresh(order)
    assert order.status == OrderStatus.completed


def test_a_buyer_sees_its_wallet_in_english(client, session):
    school = member(kind=OrgKind.school, role=Role.manager)
    credit(session, school.organisation_id, 25000)
    sign_in(client, school.user, school.organisation, language="en")
    page = client.get("/wallet").get_data(as_text=True)
    assert "¥250.00" in page and "Bank transfer in" in page


def test_an_unverified_buyer_can_look_but_not_check_out(client, session):
    buyer = member(kind=OrgKind.supermarket, role=Role.manager, pending=True)
    sign_in(client, buyer.user, buyer.organisation)
    response = post_form(client, "/cart/lines", {"listing_id": ListingFactory().id, "quantity": 1})
    assert response.status_code == 403
    assert "等待平台审核" in response.get_data(as_text=True)


def test_dashboards_say_what_to_ship_and_what_to_accept(client, session):
    school = member(kind=OrgKind.school, role=Role.inspector)
    seller = member(role=Role.manager)
    credit(session, school.organisation_id, 100000)
    tea = ListingFactory(seller=seller.organisation, price_fen=1000)
    [order] = checkout(session, school.organisation, school.user_id, [(tea, 1)]).orders

    sign_in(client, seller.user, seller.organisation, language="en")
    seller_page = client.get("/dashboard").get_data(as_text=True)
    post_form(client, f"/orders/{order.id}/ship")
    sign_in(client, school.user, school.organisation, language="en")
    school_page = client.get("/dashboard").get_data(as_text=True)

    assert re.search(r"Orders to ship.*?<[^>]*>\s*1\s*<", seller_page, re.S)
    assert re.search(r"Deliveries to accept.*?<[^>]*>\s*1\s*<", school_page, re.S)
    assert (
        "Wallet: ¥990.00." in school_page
        and "/cart" not in school_page.split("Deliveries to accept")[1]
    )


def test_a_line_left_blank_at_the_gate_is_refused_not_taken_as_all_of_it(client, session):
    school = member(kind=OrgKind.school, role=Role.owner)
    credit(session, school.organisation_id, 100000)
    seller = member(role=Role.manager)
    tea = ListingFactory(seller=seller.organisation, price_fen=1000)
    chili = ListingFactory(seller=seller.organisation, product_code="chaotian_chili", price_fen=100)
    placed = checkout(session, school.organisation, school.user_id, [(tea, 50), (chili, 10)])
    [order] = placed.orders
    delivery.ship_order(
        session, seller_id=seller.organisation_id, actor_id=seller.user_id, order_id=order.id
    )
    session.flush()  # the page reads through its own session
    tea_line, chili_line = order.lines
    sign_in(client, school.user, school.organisation)

    response = post_form(
        client,
        f"/orders/{order.id}/accept",
        {
            f"accepted-{tea_line.id}": "",
            f"accepted-{chili_line.id}": "10",
            "inspectors": "李老师",
            "test_outcome": "passed",
        },
    )

    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "请填写这一行验收的数量" in page
    session.refresh(order)
    assert order.status == OrderStatus.shipped and order.accepted_fen is None


def test_a_school_sees_an_invoice_falling_due_on_its_dashboard(client, session):
    school = member(kind=OrgKind.school, role=Role.owner)
    seller = member(role=Role.manager)
    set_credit_terms(
        session,
        actor_id=UserFactory().id,
        organisation_id=school.organisation_id,
        limit_fen=100_000,
        days=2,
    )
    cabbage = ListingFactory(
        seller=seller.organisation, product_code="chinese_cabbage", price_fen=300
    )
    [order] = checkout(
        session, school.organisation, school.user_id, [(cabbage, 10)], payment=PaymentMethod.account
    ).orders
    delivery.ship_order(
        session, seller_id=seller.organisation_id, actor_id=seller.user_id, order_id=order.id
    )
    accept(session, order, school.user_id)
    session.flush()
    sign_in(client, school.user, school.organisation, language="en")

    page = client.get("/dashboard").get_data(as_text=True)

    due = (local_date(utcnow()) + timedelta(days=2)).isoformat()
    assert f"¥30.00 due on {due}." in page
    assert "Owed on account: ¥30.00 of a ¥1,000.00 limit." in page
