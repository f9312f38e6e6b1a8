from datetime import timedelta

import pytest

from app.auth import OrgKind, Role
from tests.contracts.steps import next_monday
from tests.factories import ApiTokenFactory, ListingFactory, member
from tests.helpers import bearer
from tests.orders.steps import credit


def token(membership, secret: str) -> dict[str, str]:
    ApiTokenFactory(user=membership.user, organisation_id=membership.organisation_id, secret=secret)
    return bearer(secret)


@pytest.fixture
def parties(session):
    """The school's manager and the cooperative's manager, each with an API token; the cabbage listing."""
    school = member(kind=OrgKind.school, role=Role.manager)
    coop = member(kind=OrgKind.cooperative, role=Role.manager)
    listing = ListingFactory(
        seller=coop.organisation, product_code="chinese_cabbage", price_fen=350, quantity=10_000
    )
    credit(session, school.organisation_id, 500_000)
    session.flush()
    return token(school, "agl_api-school"), token(coop, "agl_api-coop"), listing


def weekly_body(listing, **changes) -> dict:
    first = next_monday()
    return {
        "listing_id": listing.id,
        "title": "湄江中学秋季蔬菜",
        "quantity": 2400,
        "price_rule": "floor_or_market",
        "price_yuan": "3.00",
        "deposit_pct": "10",
        "tolerance_pct": "2",
        "weekly_first": first.isoformat(),
        "weekly_last": (first + timedelta(weeks=11)).isoformat(),
        "weekly_quantity": 200,
        "delivery_point": "湄江中学食堂",
        "window_start": "06:00",
        "window_end": "06:30",
        **changes,
    }


def draft_and_send(client, school, listing, **changes) -> int:
    drafted = client.post("/api/v1/contracts", json=weekly_body(listing, **changes), headers=school)
    assert drafted.status_code == 201, drafted.get_json()
    contract_id = drafted.get_json()["contract"]["id"]
    assert client.post(f"/api/v1/contracts/{contract_id}/send", headers=school).status_code == 200
    return contract_id


def test_a_school_drafts_twelve_weekly_deliveries_and_the_cooperative_signs_after_a_counter(
    client, parties
):
    school, coop, listing = parties
    contract_id = draft_and_send(client, school, listing)
    countered = client.post(
        f"/api/v1/contracts/{contract_id}/versions",
        json={**weekly_body(listing, price_yuan="3.30"), "version": 1, "note": "肥料涨价"},
        headers=coop,
    )
    assert countered.status_code == 201
    diff = client.get(f"/api/v1/contracts/{contract_id}/diff/1/2", headers=school).get_json()
    assert diff == [{"field": "price_fen", "before": 300, "after": 330}]
    for side in (school, coop):
        signed = client.post(
            f"/api/v1/contracts/{contract_id}/sign", json={"version": 2}, headers=side
        )
        assert signed.status_code == 200
    body = signed.get_json()
    assert body["contract"]["status"] == "active"
    assert len(body["contract"]["instalments"]) == 12
    assert body["contract"]["deposit_fen"] == 2400 * 330 // 10
    assert body["progress"]["remaining"] == 2400
    listed = client.get("/api/v1/contracts", headers=coop).get_json()
    assert [item["contract"]["id"] for item in listed["items"]] == [contract_id]


def test_a_25_percent_deposit_is_refused_with_the_20_percent_cap_named(client, parties):
    school, _coop, listing = parties
    refused = client.post(
        "/api/v1/contracts", json=weekly_body(listing, deposit_pct="25"), headers=school
    )
    assert refused.status_code == 422
    assert "20%" in refused.get_json()["fields"]["deposit_pct"][0]


def test_a_schedule_short_of_the_quantity_is_refused_naming_the_gap(client, parties):
    school, _coop, listing = parties
    refused = client.post(
        "/api/v1/contracts", json=weekly_body(listing, quantity=3000), headers=school
    )
    assert refused.status_code == 422
    message = refused.get_json()["fields"]["instalments"][0]
    assert "2400" in message and "600" in message


def test_deliveries_missing_altogether_are_refused_on_the_instalments_field(client, parties):
    school, _coop, listing = parties
    body = weekly_body(listing)
    del body["weekly_first"]
    refused = client.post("/api/v1/contracts", json=body, headers=school)
    assert refused.status_code == 422 and "instalments" in refused.get_json()["fields"]


def test_signing_a_superseded_version_is_a_conflict(client, parties):
    school, coop, listing = parties
    contract_id = draft_and_send(client, school, listing)
    client.post(
        f"/api/v1/contracts/{contract_id}/versions",
        json={**weekly_body(listing, price_yuan="3.30"), "version": 1},
        headers=coop,
    )
    stale = client.post(
        f"/api/v1/contracts/{contract_id}/sign", json={"version": 1}, headers=school
    )
    assert stale.status_code == 409
    assert "2" in stale.get_json()["message"]


def test_only_the_two_parties_see_a_contract_and_only_managers_sign(client, session, parties):
    school, _coop, listing = parties
    contract_id = draft_and_send(client, school, listing)
    outsider = token(member(kind=OrgKind.supermarket, role=Role.manager), "agl_api-outsider")
    assert client.get(f"/api/v1/contracts/{contract_id}", headers=outsider).status_code == 404
    staff = member(kind=OrgKind.cooperative, role=Role.staff)
    staff_token = token(staff, "agl_api-staff")
    refused = client.post(
        f"/api/v1/contracts/{contract_id}/sign", json={"version": 1}, headers=staff_token
    )
    assert refused.status_code == 403


def test_the_deposit_cap_is_a_setting(app, client, parties, monkeypatch):
    school, _coop, listing = parties
    monkeypatch.setitem(app.config, "CONTRACT_DEPOSIT_CAP_PCT", 15)
    refused = client.post(
        "/api/v1/contracts", json=weekly_body(listing, deposit_pct="16"), headers=school
    )
    assert refused.status_code == 422
    assert "15%" in refused.get_json()["fields"]["deposit_pct"][0]


def test_a_contract_by_area_takes_the_expected_output_as_its_quantity(client, parties):
    school, _coop, listing = parties
    body = weekly_body(listing, area_mu="12.5", yield_per_mu=192)
    del body["quantity"]
    drafted = client.post("/api/v1/contracts", json=body, headers=school)
    assert drafted.status_code == 201, drafted.get_json()
    terms = drafted.get_json()["contract"]["versions"][0]["terms"]
    assert (terms["quantity"], terms["area_mu"], terms["yield_per_mu"]) == (2400, "12.5", 192)


def test_a_contract_with_neither_quantity_nor_area_is_refused_on_the_quantity(client, parties):
    school, _coop, listing = parties
    body = weekly_body(listing)
    del body["quantity"]
    refused = client.post("/api/v1/contracts", json=body, headers=school)
    assert refused.status_code == 422 and "quantity" in refused.get_json()["fields"]
