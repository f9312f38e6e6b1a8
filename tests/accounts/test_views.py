from sqlalchemy import select

from app.accounts.identifiers import credit_code_check_character
from app.accounts.models import ApiToken, Organisation, User
from app.auth import OrgKind, Role, VerificationStatus
from app.db import utcnow
from tests.factories import (
    ApiTokenFactory,
    InvitationFactory,
    MembershipFactory,
    OrganisationFactory,
    UserFactory,
    member,
)
from tests.factories.accounts import PASSWORD
from tests.helpers import post_form, sign_in

REGISTRATION_FORM = {
    "kind": "cooperative",
    "name_zh": "湄潭县三联村茶叶专业合作社",
    "credit_code": "93520328MA6H00021X",
    "legal_representative": "罗明",
    "contact_phone": "0851-24221234",
    "town": "复兴镇",
    "village": "三联村",
    "owner_name": "罗明",
    "owner_phone": "139 0852 0077",
    "password": "tea garden 2026",
}


def _valid_credit_code() -> str:
    return "93520328MA6H00021" + credit_code_check_character("93520328MA6H00021")


def test_a_cooperative_registers_and_lands_on_its_dashboard_awaiting_verification(client, session):
    form = {**REGISTRATION_FORM, "credit_code": _valid_credit_code()}

    response = post_form(client, "/register", form, follow_redirects=True)

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "湄潭县三联村茶叶专业合作社" in page
    assert "等待平台审核" in page or "awaits verification" in page
    organisation = session.scalar(
        select(Organisation).where(Organisation.name_zh == form["name_zh"])
    )
    assert organisation.status == VerificationStatus.pending
    assert session.scalar(select(User.phone).where(User.name == "罗明")) == "13908520077"


def test_a_malformed_credit_code_is_shown_on_its_field_and_nothing_is_saved(client, session):
    form = {**REGISTRATION_FORM, "credit_code": "93520328MA6H000210"}

    response = post_form(client, "/register", form)

    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="e-credit_code"' in page
    assert (
        session.scalar(select(Organisation).where(Organisation.name_zh == form["name_zh"])) is None
    )


def test_the_registration_form_keeps_what_was_typed_but_never_the_password(client):
    form = {**REGISTRATION_FORM, "owner_phone": "12345"}

    page = post_form(client, "/register", form).get_data(as_text=True)

    assert 'value="湄潭县三联村茶叶专业合作社"' in page
    assert "tea garden 2026" not in page
    assert 'id="e-owner_phone"' in page


def test_sign_in_with_a_mobile_number_lands_on_the_dashboard(client, session):
    UserFactory(phone="13908520001", name="王建国")

    response = post_form(
        client, "/sign-in", {"login": "139-0852-0001", "password": PASSWORD}, follow_redirects=True
    )

    assert response.status_code == 200
    assert "王建国" in response.get_data(as_text=True)


def test_sign_in_follows_next_only_within_the_site(client, session):
    UserFactory(phone="13908520001")
    inside = post_form(
        client, "/sign-in", {"login": "13908520001", "password": PASSWORD, "next": "/account"}
    )
    assert inside.headers["Location"] == "/account"

    client.post("/sign-out", data={})
    outside = post_form(
        client,
        "/sign-in",
        {"login": "13908520001", "password": PASSWORD, "next": "https://evil.example/"},
    )
    assert outside.headers["Location"] == "/dashboard"


def test_a_wrong_password_says_how_many_tries_are_left(client, session):
    UserFactory(phone="13908520001")

    response = post_form(client, "/sign-in", {"login": "13908520001", "password": "nope"})

    assert response.status_code == 401
    assert "再错 4 次将暂停登录" in response.get_data(as_text=True)


def test_five_wrong_passwords_in_a_minute_give_429_with_retry_after(client, session):
    UserFactory(phone="13908520001")
    statuses = [
        post_form(client, "/sign-in", {"login": "13908520001", "password": "nope"}).status_code
        for _ in range(5)
    ]
    sixth = post_form(client, "/sign-in", {"login": "13908520001", "password": PASSWORD})

    assert statuses == [401, 401, 401, 401, 429]
    assert sixth.status_code == 429
    assert int(sixth.headers["Retry-After"]) > 0


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(client, session):
    user = UserFactory()
    sign_in(client, user)

    response = client.post("/account", data={"name": "改了名字", "language": "zh_CN"})

    assert response.status_code == 400
    assert session.get(User, user.id).name != "改了名字"


def test_switching_to_english_translates_the_page_and_is_remembered(client, session):
    user = UserFactory(language="zh_CN")
    sign_in(client, user)

    assert "工作台" in client.get("/dashboard").get_data(as_text=True)
    post_form(client, "/language/en", {"next": "/dashboard"})
    page = client.get("/dashboard").get_data(as_text=True)

    assert "Dashboard" in page and "工作台" not in page
    session.expire_all()
    assert session.get(User, user.id).language == "en"


def test_signing_out_everywhere_ends_other_browsers(app, client, session):
    user = UserFactory()
    other_browser = app.test_client()
    sign_in(client, user)
    sign_in(other_browser, user)

    post_form(client, "/account/sign-out-everywhere")

    assert other_browser.get("/dashboard").status_code == 302


def test_a_token_is_shown_once_and_then_only_its_prefix(client, session):
    owner = member(kind=OrgKind.supermarket)
    sign_in(client, owner.user, owner.organisation)

    created = post_form(client, "/account/tokens", {"name": "ERP production"}).get_data(
        as_text=True
    )
    listed = client.get("/account/tokens").get_data(as_text=True)

    assert "agl_" in created and "ERP production" in listed
    secret = created.split('id="new-token">')[1].split("<")[0]
    assert secret not in listed
    assert secret[:12] in listed


def test_revoking_a_token_on_the_page_stops_it_at_once(client, session):
    owner = member()
    ApiTokenFactory(
        user=owner.user, organisation_id=owner.organisation_id, secret="agl_page-revoked"
    )
    token_id = session.scalar(select(ApiToken.id).where(ApiToken.user_id == owner.user_id))
    sign_in(client, owner.user, owner.organisation)

    post_form(client, f"/account/tokens/{token_id}/revoke")

    answer = client.get("/api/v1/me", headers={"Authorization": "Bearer agl_page-revoked"})
    assert answer.status_code == 401
    assert "revoked" in answer.get_json()["message"] or "吊销" in answer.get_json()["message"]


def test_a_manager_invites_by_mobile_and_the_invitee_joins_with_a_new_account(app, client, session):
    manager = member(role=Role.manager, kind=OrgKind.school)
    sign_in(client, manager.user, manager.organisation)

    page = post_form(
        client,
        "/organisation/members",
        {"contact": "13908520088", "role": "inspector", "name": "吴敏"},
    ).get_data(as_text=True)
    link = page.split('id="invite-link">')[1].split("<")[0]

    invitee = app.test_client()
    joined = post_form(
        invitee,
        link.replace("http://localhost", ""),
        {"name": "吴敏", "password": "inspect 0630"},
        follow_redirects=True,
    )

    assert joined.status_code == 200
    assert "吴敏" in joined.get_data(as_text=True)
    members = client.get("/organisation/members").get_data(as_text=True)
    assert "13908520088" in members


def test_staff_see_members_but_cannot_invite(client, session):
    staff = member(role=Role.staff)
    sign_in(client, staff.user, staff.organisation)

    page = client.get("/organisation/members").get_data(as_text=True)
    invite = post_form(client, "/organisation/members", {"contact": "13908520088", "role": "staff"})

    assert "Create invitation link" not in page and "生成邀请链接" not in page
    assert invite.status_code == 403


def test_an_admin_verifies_a_pending_cooperative_from_the_queue(client, session):
    admin = member(kind=OrgKind.platform, role=Role.admin)
    waiting = MembershipFactory(
        organisation__status=VerificationStatus.pending,
        organisation__name_zh="湄潭县新建村果蔬专业合作社",
    )
    sign_in(client, admin.user, admin.organisation)

    queue = client.get("/admin/organisations?status=pending").get_data(as_text=True)
    assert "湄潭县新建村果蔬专业合作社" in queue

    post_form(client, f"/admin/organisations/{waiting.organisation_id}/verify")

    session.expire_all()
    assert session.get(Organisation, waiting.organisation_id).status == VerificationStatus.verified


def test_rejecting_needs_a_reason_that_the_organisation_then_sees(app, client, session):
    admin = member(kind=OrgKind.platform, role=Role.admin)
    waiting = MembershipFactory(organisation__status=VerificationStatus.pending)
    sign_in(client, admin.user, admin.organisation)

    without = post_form(
        client, f"/admin/organisations/{waiting.organisation_id}/reject", {"reason": ""}
    )
    assert without.status_code == 422
    post_form(
        client,
        f"/admin/organisations/{waiting.organisation_id}/reject",
        {"reason": "法定代表人与营业执照不一致"},
    )

    owner_browser = app.test_client()
    sign_in(owner_browser, waiting.user, waiting.organisation)
    assert "法定代表人与营业执照不一致" in owner_browser.get("/dashboard").get_data(as_text=True)


def test_the_audit_trail_filters_by_kind(client, session):
    admin = member(kind=OrgKind.platform, role=Role.admin)
    owner = member(status=VerificationStatus.pending)
    sign_in(client, admin.user, admin.organisation)
    post_form(client, f"/admin/organisations/{owner.organisation_id}/verify")
    post_form(client, "/account/sign-out-everywhere")
    session.refresh(admin.user)  # its session version moved on
    sign_in(client, admin.user, admin.organisation)

    everything = client.get("/admin/events").get_data(as_text=True)
    filtered = client.get("/admin/events?kind=organisation.verified").get_data(as_text=True)

    assert "<code>user.signed_out_everywhere</code>" in everything
    assert "<code>organisation.verified</code>" in filtered
    assert "<code>user.signed_out_everywhere</code>" not in filtered
    assert "共 1 条记录" in filtered


def test_each_role_lands_on_a_dashboard_made_for_it(client, session):
    cases = [
        (member(kind=OrgKind.cooperative), "出售您的农产品"),
        (member(kind=OrgKind.school), "让学生吃上本地农场的菜"),
        (member(kind=OrgKind.supermarket), "从源头进货"),
        (member(kind=OrgKind.trader), "在交易所交易茶叶"),
        (member(kind=OrgKind.exchange, role=Role.officer), "维护公平的市场"),
        (member(kind=OrgKind.platform, role=Role.admin), "审核队列"),
    ]
    for membership, headline in cases:
        sign_in(client, membership.user, membership.organisation)
        assert headline in client.get("/dashboard").get_data(as_text=True), headline


def test_a_pending_organisation_is_told_it_cannot_trade_yet(client, session):
    owner = member(status=VerificationStatus.pending)
    sign_in(client, owner.user, owner.organisation)

    page = client.get("/dashboard").get_data(as_text=True)

    assert "等待审核" in page
    assert "但还不能交易" in page


def test_an_invitation_that_was_withdrawn_says_so(client, session):
    InvitationFactory(secret="agl_withdrawn", revoked_at=utcnow())

    page = client.get("/organisation/join/agl_withdrawn").get_data(as_text=True)

    assert "已撤回" in page or "withdrawn" in page


def test_the_owner_hears_about_wrong_passwords_at_the_next_sign_in(client, session):
    UserFactory(phone="13908520001")
    for _ in range(2):
        post_form(client, "/sign-in", {"login": "13908520001", "password": "guess"})

    page = post_form(
        client, "/sign-in", {"login": "13908520001", "password": PASSWORD}, follow_redirects=True
    ).get_data(as_text=True)

    assert "输错了 2 次密码" in page


def test_changing_the_password_keeps_this_browser_signed_in_and_signs_out_the_others(
    app, client, session
):
    user = UserFactory()
    other_browser = app.test_client()
    sign_in(client, user)
    sign_in(other_browser, user)

    changed = post_form(
        client,
        "/account/password",
        {"current_password": PASSWORD, "new_password": "a new password 2026"},
    )

    assert changed.status_code == 302
    assert client.get("/account").status_code == 200
    assert other_browser.get("/account").status_code == 302


def test_joining_another_organisation_while_signed_in_acts_for_it_at_once(client, session):
    school_buyer = member(kind=OrgKind.school, name_zh="湄潭县湄江中学")
    InvitationFactory(
        secret="agl_join-the-cooperative",
        role=Role.staff,
        organisation=OrganisationFactory(name_zh="湄潭县龙凤村茶叶专业合作社"),
    )
    sign_in(client, school_buyer.user, school_buyer.organisation)

    page = post_form(client, "/organisation/join/agl_join-the-cooperative", follow_redirects=True)

    header = page.get_data(as_text=True).split('<div class="who">')[1].split("</div>")[0]
    assert "湄潭县龙凤村茶叶专业合作社" in header


def test_signing_out_everywhere_can_also_revoke_api_tokens(client, session):
    owner = member()
    ApiTokenFactory(user=owner.user, organisation_id=owner.organisation_id, secret="agl_erp-token")
    sign_in(client, owner.user, owner.organisation)

    post_form(client, "/account/sign-out-everywhere", {"revoke_tokens": "true"})

    assert (
        client.get("/api/v1/me", headers={"Authorization": "Bearer agl_erp-token"}).status_code
        == 401
    )
