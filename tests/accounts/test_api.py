import time

import pytest
from sqlalchemy import event, func, select, update

from app.accounts.identifiers import credit_code_check_character
from app.accounts.models import ApiToken, Organisation
from app.auth import OrgKind, Role, VerificationStatus
from app.db import utcnow
from tests.factories import (
    ApiTokenFactory,
    MembershipFactory,
    OrganisationFactory,
    UserFactory,
    member,
)
from tests.factories.accounts import PASSWORD
from tests.helpers import bearer


def _code(serial: str) -> str:
    first_17 = f"91520328MA6H{serial}"
    return first_17 + credit_code_check_character(first_17)


def _token_for(membership, secret="agl_test-token") -> dict[str, str]:
    ApiTokenFactory(user=membership.user, organisation_id=membership.organisation_id, secret=secret)
    return bearer(secret)


def test_a_supermarkets_it_team_gets_a_token_and_calls_the_api(client, session):
    buyer = member(kind=OrgKind.supermarket, role=Role.manager)
    buyer.user.phone = "13908520008"
    session.flush()

    issued = client.post(
        "/api/v1/auth/token", json={"login": "13908520008", "password": PASSWORD, "name": "ERP"}
    )
    me = client.get("/api/v1/me", headers=bearer(issued.get_json()["token"]))

    assert issued.status_code == 201
    assert issued.get_json()["organisation_id"] == buyer.organisation_id
    assert me.status_code == 200
    assert me.get_json()["memberships"][0]["role"] == "manager"
    assert me.get_json()["memberships"][0]["organisation_kind"] == "supermarket"


def test_a_wrong_password_for_a_token_is_401(client, session):
    UserFactory(phone="13908520008")
    answer = client.post("/api/v1/auth/token", json={"login": "13908520008", "password": "nope"})
    assert answer.status_code == 401
    assert answer.get_json()["type"] == "not_signed_in"


def test_five_wrong_token_requests_in_a_minute_give_429_with_retry_after(client, session):
    UserFactory(phone="13908520008")
    statuses = [
        client.post(
            "/api/v1/auth/token", json={"login": "13908520008", "password": "nope"}
        ).status_code
        for _ in range(5)
    ]
    locked = client.post("/api/v1/auth/token", json={"login": "13908520008", "password": PASSWORD})

    assert statuses == [401, 401, 401, 401, 429]
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    assert session.scalar(select(func.count()).select_from(ApiToken)) == 0


def test_a_revoked_token_is_refused_at_once(client, session):
    owner = member()
    headers = _token_for(owner)
    token_id = session.scalar(select(ApiToken.id))

    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert client.delete(f"/api/v1/auth/tokens/{token_id}", headers=headers).status_code == 204
    refused = client.get("/api/v1/me", headers=headers)

    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.fixture
def token_cache(app):
    """Tokens' holders reused for half a second, as production reuses them for API_TOKEN_CACHE_SECONDS."""
    app.config["API_TOKEN_CACHE_SECONDS"] = 0.5
    app.extensions.pop("agrilink.tokens", None)
    yield
    app.config["API_TOKEN_CACHE_SECONDS"] = 0
    app.extensions.pop("agrilink.tokens", None)


def test_a_busy_token_is_looked_up_once_and_revoked_here_is_refused_at_once(
    client, session, database, token_cache
):
    owner = member()
    headers = _token_for(owner)
    token_id = session.scalar(select(ApiToken.id))
    statements = []

    def collect(_connection, _cursor, sql, *_rest):
        statements.append(sql)

    event.listen(database.engine, "before_cursor_execute", collect)
    try:
        assert client.get("/api/v1/me", headers=headers).status_code == 200
        statements.clear()
        assert client.get("/api/v1/me", headers=headers).status_code == 200
        assert not [sql for sql in statements if "api_tokens" in sql]
        assert client.delete(f"/api/v1/auth/tokens/{token_id}", headers=headers).status_code == 204
    finally:
        event.remove(database.engine, "before_cursor_execute", collect)

    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_a_token_revoked_by_another_process_stops_within_the_cache_time(
    client, session, token_cache
):
    owner = member()
    headers = _token_for(owner)
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    session.execute(update(ApiToken).values(revoked_at=utcnow()))  # as another web process would

    still = client.get("/api/v1/me", headers=headers).status_code
    time.sleep(0.6)
    later = client.get("/api/v1/me", headers=headers).status_code

    assert (still, later) == (200, 401)


def test_an_unknown_token_is_refused_with_a_clear_message(client, session):
    answer = client.get("/api/v1/me", headers=bearer("agl_made-up"))
    assert answer.status_code == 401
    assert "API" in answer.get_json()["message"]


def test_token_calls_need_no_csrf_token_but_cookie_calls_do(app, client, session):
    owner = member()
    headers = _token_for(owner)

    with_token = client.patch(
        f"/api/v1/organisations/{owner.organisation_id}", json={"town": "永兴镇"}, headers=headers
    )
    assert with_token.status_code == 200

    browser = app.test_client()
    with browser.session_transaction() as cookie:
        cookie["_user_id"] = owner.user.get_id()
    with_cookie = browser.patch(
        f"/api/v1/organisations/{owner.organisation_id}", json={"town": "复兴镇"}
    )
    assert with_cookie.status_code == 400
    assert with_cookie.get_json()["type"] == "csrf_failed"


def test_registering_by_api_with_a_bad_credit_code_names_the_field(client, session):
    answer = client.post(
        "/api/v1/organisations",
        json={
            "kind": "supermarket",
            "name_zh": "遵义惠民生鲜超市",
            "credit_code": "91520328MA6H000091",
            "legal_representative": "马军",
            "contact_phone": "13908520008",
            "owner_name": "马军",
            "owner_phone": "13908520008",
            "password": "supermarket 2026",
        },
    )

    assert answer.status_code == 422
    body = answer.get_json()
    assert body["type"] == "validation_error"
    assert list(body["fields"]) == ["credit_code"]
    assert session.scalar(select(func.count()).select_from(Organisation)) == 0


def test_bad_phone_and_email_are_each_named(client, session):
    answer = client.post(
        "/api/v1/organisations",
        json={
            "kind": "school",
            "name_zh": "湄潭县求是中学",
            "credit_code": _code("00031"),
            "legal_representative": "孙红",
            "contact_phone": "12345",
            "owner_name": "孙红",
            "owner_email": "not-an-email",
            "password": "school 2026 pw",
        },
    )

    assert answer.status_code == 422
    assert set(answer.get_json()["fields"]) == {"contact_phone", "owner_email"}


def test_unknown_json_fields_are_refused(client, session):
    answer = client.post(
        "/api/v1/organisations",
        json={
            "kind": "school",
            "name_zh": "湄潭县求是中学",
            "credit_code": _code("00032"),
            "legal_representative": "孙红",
            "contact_phone": "13908520007",
            "owner_name": "孙红",
            "owner_phone": "13908520007",
            "password": "school 2026 pw",
            "is_verified": True,
        },
    )

    assert answer.status_code == 422
    assert answer.get_json()["fields"] == {"is_verified": ["未知字段。"]}


def test_errors_follow_the_callers_language(client, session):
    answer = client.post("/api/v1/auth/token", json={}, headers={"Accept-Language": "en"})
    assert answer.get_json()["fields"]["login"] == ["Missing data for required field."]


def test_registering_by_api_creates_a_pending_organisation(client, session):
    answer = client.post(
        "/api/v1/organisations",
        json={
            "kind": "school",
            "name_zh": "湄潭县求是中学",
            "credit_code": _code("00033"),
            "legal_representative": "孙红",
            "contact_phone": "0851-24221234",
            "owner_name": "孙红",
            "owner_phone": "+86 139 0852 0007",
            "password": "school 2026 pw",
        },
    )

    assert answer.status_code == 201
    body = answer.get_json()
    assert body["organisation"]["status"] == "pending"
    assert body["user"]["phone"] == "13908520007"
    assert "password" not in body["user"] and "password_hash" not in body["user"]


def test_a_pending_organisation_appears_in_the_admin_queue_and_is_verified_by_api(client, session):
    admin = member(kind=OrgKind.platform, role=Role.admin)
    waiting = OrganisationFactory(pending=True)
    headers = _token_for(admin)

    queue = client.get("/api/v1/admin/organisations?status=pending", headers=headers)
    verified = client.post(f"/api/v1/admin/organisations/{waiting.id}/verify", headers=headers)

    assert [o["id"] for o in queue.get_json()] == [waiting.id]
    assert queue.headers["X-Total-Count"] == "1"
    assert verified.get_json()["status"] == "verified"


def test_rejecting_by_api_needs_a_reason(client, session):
    admin = member(kind=OrgKind.platform, role=Role.admin)
    waiting = OrganisationFactory(pending=True)
    headers = _token_for(admin)

    answer = client.post(
        f"/api/v1/admin/organisations/{waiting.id}/reject", json={}, headers=headers
    )

    assert answer.status_code == 422
    assert "reason" in answer.get_json()["fields"]
    assert session.get(Organisation, waiting.id).status == VerificationStatus.pending


def test_a_trader_cannot_use_the_admin_api(client, session):
    trader = member(kind=OrgKind.trader)
    answer = client.get("/api/v1/admin/organisations", headers=_token_for(trader))
    assert answer.status_code == 403
    assert answer.get_json()["type"] == "permission_denied"


def test_members_of_another_organisation_are_not_visible(client, session):
    owner = member()
    stranger = member(kind=OrgKind.school)
    answer = client.get(
        f"/api/v1/organisations/{owner.organisation_id}/members", headers=_token_for(stranger)
    )
    assert answer.status_code == 404


def test_a_manager_invites_by_api_and_gets_a_link(client, session):
    manager = member(kind=OrgKind.school, role=Role.manager)
    answer = client.post(
        f"/api/v1/organisations/{manager.organisation_id}/invitations",
        json={"contact": "Inspector@School.example", "role": "inspector"},
        headers=_token_for(manager),
    )

    assert answer.status_code == 201
    assert answer.get_json()["contact"] == "inspector@school.example"
    assert "/organisation/join/agl_" in answer.get_json()["link"]


def test_changing_a_role_by_api(client, session):
    owner = member()
    staff = MembershipFactory(organisation=owner.organisation, role=Role.staff)
    answer = client.patch(
        f"/api/v1/organisations/{owner.organisation_id}/members/{staff.id}",
        json={"role": "host"},
        headers=_token_for(owner),
    )
    assert answer.status_code == 200
    assert answer.get_json()["role"] == "host"


def test_the_audit_trail_api_lists_events_newest_first(client, session):
    admin = member(kind=OrgKind.platform, role=Role.admin)
    first, second = OrganisationFactory(pending=True), OrganisationFactory(pending=True)
    headers = _token_for(admin)
    client.post(f"/api/v1/admin/organisations/{first.id}/verify", headers=headers)
    client.post(f"/api/v1/admin/organisations/{second.id}/verify", headers=headers)

    events = client.get(
        "/api/v1/admin/events?kind=organisation.verified", headers=headers
    ).get_json()

    assert [e["organisation_id"] for e in events] == [second.id, first.id]


def test_the_openapi_document_describes_the_token_endpoint_and_bearer_auth(client, session):
    spec = client.get("/api/v1/openapi.json").get_json()

    assert "/api/v1/auth/token" in spec["paths"]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert spec["paths"]["/api/v1/auth/token"]["post"]["security"] == []


def test_the_api_docs_page_loads_the_openapi_document(client, session):
    page = client.get("/api/v1/docs").get_data(as_text=True)
    assert 'data-spec="/api/v1/openapi.json"' in page
    assert "swagger-ui-bundle.js" in page


def test_a_token_acts_only_for_its_own_organisation(client, session):
    manager = member(role=Role.manager)
    elsewhere = MembershipFactory(
        user=manager.user,
        role=Role.owner,
        organisation=OrganisationFactory(kind=OrgKind.school, town="复兴镇"),
    )
    headers = _token_for(manager)

    patched = client.patch(
        f"/api/v1/organisations/{elsewhere.organisation_id}",
        json={"town": "永兴镇"},
        headers=headers,
    )
    listed = client.get(
        f"/api/v1/organisations/{elsewhere.organisation_id}/members", headers=headers
    )

    assert patched.status_code == 404 and listed.status_code == 404
    assert session.get(Organisation, elsewhere.organisation_id).town == "复兴镇"


def test_a_member_of_another_organisation_cannot_be_changed_through_this_one(client, session):
    owner = member()
    stranger = MembershipFactory(role=Role.staff)
    answer = client.patch(
        f"/api/v1/organisations/{owner.organisation_id}/members/{stranger.id}",
        json={"role": "manager"},
        headers=_token_for(owner),
    )
    assert answer.status_code == 404
    assert stranger.role == Role.staff


def test_an_owner_who_registered_with_capitals_in_the_email_signs_in_with_any_case(client, session):
    registered = client.post(
        "/api/v1/organisations",
        json={
            "kind": "trader",
            "name_zh": "遵义黔北茶叶贸易有限公司",
            "credit_code": _code("00034"),
            "legal_representative": "徐峰",
            "contact_phone": "13908520010",
            "owner_name": "徐峰",
            "owner_email": "Xu.Feng@Example.com",
            "password": " spaces count ",
        },
    )
    token = client.post(
        "/api/v1/auth/token", json={"login": "XU.FENG@example.com", "password": " spaces count "}
    )

    assert registered.get_json()["user"]["email"] == "xu.feng@example.com"
    assert token.status_code == 201


def test_an_id_too_large_for_the_database_is_not_found_rather_than_a_crash(client, session):
    admin = member(kind=OrgKind.platform, role=Role.admin)
    headers = _token_for(admin)

    by_path = client.get("/api/v1/organisations/99999999999999999999", headers=headers)
    by_filter = client.get(
        "/api/v1/admin/events?organisation_id=99999999999999999999", headers=headers
    )

    assert by_path.status_code == 404
    assert by_filter.status_code == 422
    assert "organisation_id" in by_filter.get_json()["fields"]
