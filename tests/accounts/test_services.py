from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.accounts import services
from app.accounts.models import Membership, Organisation, User
from app.auth import OrgKind, Role, VerificationStatus, password_matches
from app.db import utcnow
from app.errors import Conflict, NotFound, PermissionDenied, RuleViolation
from app.events import Event
from tests.factories import (
    InvitationFactory,
    MembershipFactory,
    OrganisationFactory,
    UserFactory,
    member,
)

REGISTRATION = dict(
    kind=OrgKind.school,
    name_zh="湄潭县湄江中学",
    credit_code="12520328MA6H000071",
    legal_representative="张丽",
    contact_phone="13908520006",
    owner_name="张丽",
    owner_phone="13908520006",
    password="a strong password",
)


def events_of(session, kind: str) -> list[Event]:
    return list(session.scalars(select(Event).where(Event.kind == kind)))


def test_a_registered_organisation_waits_for_verification_with_its_owner(session):
    membership = services.register_organisation(session, **REGISTRATION)

    assert membership.role == Role.owner
    assert membership.organisation.status == VerificationStatus.pending
    assert password_matches(membership.user.password_hash, "a strong password")
    [event] = events_of(session, "organisation.registered")
    assert event.organisation_id == membership.organisation.id
    assert event.actor_id == membership.user.id


def test_the_same_credit_code_cannot_register_twice(session):
    OrganisationFactory(credit_code=REGISTRATION["credit_code"])

    with pytest.raises(Conflict) as refused:
        services.register_organisation(session, **REGISTRATION)

    assert refused.value.field == "credit_code"


def test_a_taken_mobile_number_is_refused_on_the_owner_field(session):
    UserFactory(phone=REGISTRATION["owner_phone"])

    with pytest.raises(Conflict) as refused:
        services.register_organisation(session, **REGISTRATION)

    assert refused.value.field == "owner_phone"


def test_the_exchange_cannot_register_itself(session):
    with pytest.raises(RuleViolation) as refused:
        services.register_organisation(session, **{**REGISTRATION, "kind": OrgKind.exchange})

    assert refused.value.field == "kind"


def test_an_admin_verifies_a_pending_organisation_and_the_log_says_who(session):
    organisation = OrganisationFactory(pending=True)
    admin = MembershipFactory(
        role=Role.admin, organisation=OrganisationFactory(kind=OrgKind.platform)
    )
    now = utcnow()

    services.verify_organisation(
        session, admin_id=admin.user_id, organisation_id=organisation.id, now=now
    )

    assert organisation.status == VerificationStatus.verified
    assert organisation.reviewed_by_id == admin.user_id
    [event] = events_of(session, "organisation.verified")
    assert event.actor_id == admin.user_id


def test_verifying_twice_is_refused(session):
    organisation = OrganisationFactory()
    with pytest.raises(Conflict):
        services.verify_organisation(
            session, admin_id=UserFactory().id, organisation_id=organisation.id
        )


def test_a_rejected_organisation_goes_back_to_the_queue_when_it_corrects_its_details(session):
    owner = member(status=VerificationStatus.rejected, rejection_reason="名称与营业执照不符")

    services.update_organisation(
        session,
        actor_id=owner.user_id,
        organisation_id=owner.organisation_id,
        name_zh="湄潭县龙凤村茶叶专业合作社",
    )

    assert owner.organisation.status == VerificationStatus.pending
    assert owner.organisation.name_zh == "湄潭县龙凤村茶叶专业合作社"


def test_staff_cannot_change_the_organisation_details(session):
    staff = member(role=Role.staff)
    with pytest.raises(PermissionDenied):
        services.update_organisation(
            session,
            actor_id=staff.user_id,
            organisation_id=staff.organisation_id,
            name_zh="别的名字",
        )


def test_an_invited_person_joins_with_the_role_of_the_invitation(session):
    owner = member()
    invitation, secret = services.invite_member(
        session,
        actor_id=owner.user_id,
        organisation_id=owner.organisation_id,
        contact="13908520099",
        role=Role.inspector,
    )

    joined = services.accept_invitation(
        session, secret=secret, name="周强", password="inspector pass"
    )

    assert joined.role == Role.inspector
    assert joined.user.phone == "13908520099"
    assert invitation.accepted_by_id == joined.user.id
    assert [e.kind for e in session.scalars(select(Event).order_by(Event.id))][-2:] == [
        "member.invited",
        "member.joined",
    ]


def test_an_invitation_works_only_once(session):
    invitation = InvitationFactory(secret="agl_once")
    services.accept_invitation(session, secret="agl_once", name="周强", password="inspector pass")

    with pytest.raises(RuleViolation, match="already been used"):
        services.accept_invitation(session, secret="agl_once", user_id=UserFactory().id)
    assert invitation.accepted_at is not None


def test_an_expired_invitation_is_refused(session):
    InvitationFactory(secret="agl_old", expires_at=utcnow() - timedelta(minutes=1))
    with pytest.raises(RuleViolation, match="expired"):
        services.accept_invitation(
            session, secret="agl_old", name="周强", password="inspector pass"
        )


def test_an_unknown_invitation_link_is_not_found(session):
    with pytest.raises(NotFound):
        services.find_invitation(session, "agl_nobody-made-this")


def test_a_school_has_no_live_stream_host_role(session):
    owner = member(kind=OrgKind.school)
    with pytest.raises(RuleViolation) as refused:
        services.invite_member(
            session,
            actor_id=owner.user_id,
            organisation_id=owner.organisation_id,
            contact="13908520098",
            role=Role.host,
        )
    assert refused.value.field == "role"


def test_a_manager_cannot_make_someone_owner(session):
    manager = member(role=Role.manager)
    with pytest.raises(RuleViolation, match="owner"):
        services.invite_member(
            session,
            actor_id=manager.user_id,
            organisation_id=manager.organisation_id,
            contact="13908520097",
            role=Role.owner,
        )


def test_staff_cannot_invite(session):
    staff = member(role=Role.staff)
    with pytest.raises(PermissionDenied):
        services.invite_member(
            session,
            actor_id=staff.user_id,
            organisation_id=staff.organisation_id,
            contact="13908520096",
            role=Role.staff,
        )


def test_inviting_an_existing_member_is_refused_on_the_contact_field(session):
    owner = member()
    colleague = MembershipFactory(organisation=owner.organisation, role=Role.staff)
    with pytest.raises(Conflict) as refused:
        services.invite_member(
            session,
            actor_id=owner.user_id,
            organisation_id=owner.organisation_id,
            contact=colleague.user.phone,
            role=Role.staff,
        )
    assert refused.value.field == "contact"


def test_the_last_owner_can_neither_leave_nor_be_demoted(session):
    owner = member()
    with pytest.raises(RuleViolation, match="needs an owner"):
        services.remove_member(session, actor_id=owner.user_id, membership_id=owner.id)
    with pytest.raises(RuleViolation, match="needs an owner"):
        services.change_member_role(
            session, actor_id=owner.user_id, membership_id=owner.id, role=Role.manager
        )


def test_a_manager_removes_a_member(session):
    manager = member(role=Role.manager)
    staff = MembershipFactory(organisation=manager.organisation, role=Role.staff)

    services.remove_member(session, actor_id=manager.user_id, membership_id=staff.id)
    session.flush()

    assert session.get(Membership, staff.id) is None


def test_the_platform_sets_up_a_verified_warehouse(session):
    organisation = services.set_up_organisation(
        session,
        kind=OrgKind.warehouse,
        name_zh="中国茶城仓储有限公司",
        credit_code=OrganisationFactory.build().credit_code,
        legal_representative="罗斌",
        contact_phone="13908520011",
    )

    assert organisation.status == VerificationStatus.verified
    assert session.get(Organisation, organisation.id).kind == OrgKind.warehouse


def test_operators_add_a_member_straight_in(session):
    exchange = OrganisationFactory(kind=OrgKind.exchange)
    membership = services.add_member(
        session,
        organisation_id=exchange.id,
        name="郑洁",
        phone="13908520012",
        password="officer password",
        role=Role.officer,
    )
    assert membership.user.phone == "13908520012"
    with pytest.raises(RuleViolation):
        services.add_member(
            session,
            organisation_id=exchange.id,
            name="x",
            phone="13908520013",
            password="officer password",
            role=Role.host,
        )
    assert (
        session.scalar(select(func.count()).select_from(User).where(User.phone == "13908520013"))
        == 0
    )
