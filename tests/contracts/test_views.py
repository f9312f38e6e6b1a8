from datetime import timedelta

import pytest

from app.auth import OrgKind, Role
from app.contracts.models import Contract
from tests.contracts.steps import draft, next_monday, sign_both
from tests.factories import ListingFactory, member
from tests.helpers import post_form, sign_in
from tests.orders.steps import credit


@pytest.fixture
def school(session):
    return member(kind=OrgKind.school, role=Role.manager, name_zh="湄江中学")


@pytest.fixture
def coop(session):
    return member(kind=OrgKind.cooperative, role=Role.manager, name_zh="兴隆蔬菜合作社")


@pytest.fixture
def cabbages(session, coop):
    return ListingFactory(
        seller=coop.organisation, product_code="chinese_cabbage", price_fen=350, quantity=10_000
    )


def form_fields(**changes) -> dict:
    first = next_monday()
    return {
        "title": "湄江中学秋季蔬菜",
        "quantity": "2400",
        "tolerance_pct": "2",
        "price_rule": "floor_or_market",
        "price_yuan": "3.00",
        "deposit_pct": "10",
        "payment": "on_acceptance",
        "weekly_first": first.isoformat(),
        "weekly_last": (first + timedelta(weeks=11)).isoformat(),
        "weekly_quantity": "200",
        "delivery_point": "湄江中学食堂",
        "window_start": "06:00",
        "window_end": "06:30",
        "order_days_ahead": "3",
        **changes,
    }


def test_a_school_drafts_a_contract_from_a_listing_and_sends_it(client, session, school, cabbages):
    sign_in(client, school.user, school.organisation)
    page = client.get(f"/contracts/new?listing={cabbages.id}").get_data(as_text=True)
    assert (
        "兴隆蔬菜合作社" in page and 'value="10"' in page
    )  # the seller, and the 10% deposit default
    drafted = post_form(
        client, "/contracts/new", form_fields(listing_id=cabbages.id), follow_redirects=True
    )
    text = drafted.get_data(as_text=True)
    assert "草稿已保存" in text and "发送给兴隆蔬菜合作社" in text
    assert "12 次交付" in text
    contract = session.query(Contract).one()
    sent = post_form(client, f"/contracts/{contract.id}/send", follow_redirects=True)
    assert "已发送" in sent.get_data(as_text=True)


def test_a_deposit_over_the_cap_is_shown_on_its_field(client, session, school, cabbages):
    sign_in(client, school.user, school.organisation)
    refused = post_form(
        client, "/contracts/new", form_fields(listing_id=cabbages.id, deposit_pct="25")
    )
    assert refused.status_code == 422
    assert "20%" in refused.get_data(as_text=True) and 'id="e-deposit_pct"' in refused.get_data(
        as_text=True
    )


def test_a_schedule_line_that_is_not_a_date_and_quantity_names_its_line(
    client, session, school, cabbages
):
    sign_in(client, school.user, school.organisation)
    refused = post_form(
        client,
        "/contracts/new",
        form_fields(listing_id=cabbages.id, instalments="2026-12-07 200\n下周一"),
    )
    assert refused.status_code == 422
    assert "第 2 行" in refused.get_data(as_text=True)


def test_the_cooperative_counters_and_the_diff_page_shows_only_what_changed(
    client, session, school, coop, cabbages
):
    contract = draft(session, school.organisation, cabbages, school.user_id)
    contract.status = "negotiating"
    session.flush()
    sign_in(client, coop.user, coop.organisation)
    page = client.get(f"/contracts/{contract.id}/propose").get_data(as_text=True)
    assert 'value="3.00"' in page  # the form starts from the latest terms
    countered = post_form(
        client,
        f"/contracts/{contract.id}/propose",
        {**form_fields(price_yuan="3.30"), "version": "1", "instalments": ""},
        follow_redirects=True,
    )
    assert "已提出第 2 版" in countered.get_data(as_text=True)
    diff = client.get(f"/contracts/{contract.id}/diff?before=1&after=2").get_data(as_text=True)
    assert "¥3.00/kg" in diff and "¥3.30/kg" in diff
    assert "交付地点" not in diff  # unchanged terms are left out


def test_an_active_contract_shows_progress_deliveries_and_prints_in_both_languages(
    client, session, school, coop, cabbages
):
    credit(session, school.organisation_id, 500_000)
    contract = sign_both(
        session,
        draft(session, school.organisation, cabbages, school.user_id),
        school.user_id,
        coop.user_id,
    )
    session.flush()
    sign_in(client, school.user, school.organisation, language="en")
    page = client.get(f"/contracts/{contract.id}").get_data(as_text=True)
    assert "Progress" in page and "Remaining" in page and "2400 / 2400 kg" in page
    assert "Deposit held" in page and "¥720.00" in page
    assert f"Record a breach by {coop.organisation.name_en}" in page
    printed = client.get(f"/contracts/{contract.id}/print").get_data(as_text=True)
    assert "订单合同" in printed and "Order contract" in printed
    assert contract.signed_version.terms_hash in printed


def test_a_person_from_neither_side_finds_no_contract(client, session, school, cabbages):
    contract = draft(session, school.organisation, cabbages, school.user_id)
    contract.status = "negotiating"
    session.flush()
    outsider = member(kind=OrgKind.supermarket, role=Role.manager)
    sign_in(client, outsider.user, outsider.organisation)
    assert client.get(f"/contracts/{contract.id}").status_code == 404


def test_a_listing_number_that_is_no_number_leaves_the_form_empty_not_broken(client, school):
    sign_in(client, school.user, school.organisation)
    for odd in ("²", "99999999999999999999999", "-3"):
        assert client.get(f"/contracts/new?listing={odd}").status_code == 200


def test_a_weekly_rule_ending_before_it_starts_is_shown_on_its_field(client, school, cabbages):
    sign_in(client, school.user, school.organisation)
    first = next_monday()
    refused = post_form(
        client,
        "/contracts/new",
        form_fields(listing_id=cabbages.id, weekly_last=(first - timedelta(weeks=1)).isoformat()),
    )
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422 and 'id="e-weekly_last"' in page
    assert 'value="湄江中学秋季蔬菜"' in page  # what was typed is kept
