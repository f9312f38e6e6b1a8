from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.accounts import members
from app.accounts.models import Membership, User
from app.auth import OrgKind, Role
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


def test_an_invited_person_joins_with_the_role_of_the_invitation(session):
    owner = member()
    invitation, secret = members.invite_member(
        session,
        actor_id=owner.user_id,
        organisation_id=owner.organisation_id,
        contact="13908520099",
        role=Role.inspector,
    )

    joined = members.accept_invitation(
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
    members.accept_invitation(session, secret="agl_once", name="周强", password="inspector pass")

    with pytest.raises(RuleViolation, match="already been used"):
        members.accept_invitation(session, secret="agl_once", user_id=UserFactory().id)
    assert invitation.accepted_at is not None


def test_an_expired_invitation_is_refused(session):
    InvitationFactory(secret="agl_old", expires_at=utcnow() - timedelta(minutes=1))
    with pytest.raises(RuleViolation, match="expired"):
        members.accept_invitation(session, secret="agl_old", name="周强", password="inspector pass")


def test_an_unknown_invitation_link_is_not_found(session):
    with pytest.raises(NotFound):
        members.find_invitation(session, "agl_nobody-made-this")


def test_a_school_has_no_live_stream_host_role(session):
    owner = member(kind=OrgKind.school)
    with pytest.raises(RuleViolation) as refused:
        members.invite_member(
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
        members.invite_member(
            session,
            actor_id=manager.user_id,
            organisation_id=manager.organisation_id,
            contact="13908520097",
            role=Role.owner,
        )


def test_staff_cannot_invite(session):
    staff = member(role=Role.staff)
    with pytest.raises(PermissionDenied):
        members.invite_member(
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
        members.invite_member(
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
        members.remove_member(
            session,
            actor_id=owner.user_id,
            organisation_id=owner.organisation_id,
            membership_id=owner.id,
        )
    with pytest.raises(RuleViolation, match="needs an owner"):
        members.change_member_role(
            session,
            actor_id=owner.user_id,
            organisation_id=owner.organisation_id,
            membership_id=owner.id,
            role=Role.manager,
        )


def test_a_manager_removes_a_member(session):
    manager = member(role=Role.manager)
    staff = MembershipFactory(organisation=manager.organisation, role=Role.staff)

    members.remove_member(
        session,
        actor_id=manager.user_id,
        organisation_id=manager.organisation_id,
        membership_id=staff.id,
    )
    session.flush()

    assert session.get(Membership, staff.id) is None


def test_operators_add_a_member_straight_in(session):
    exchange = OrganisationFactory(kind=OrgKind.exchange)
    membership = members.add_member(
        session,
        organisation_id=exchange.id,
        name="郑洁",
        phone="13908520012",
        password="officer password",
        role=Role.officer,
    )
    assert membership.user.phone == "13908520012"
    with pytest.raises(RuleViolation):
        members.add_member(
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


def test_a_manager_can_neither_demote_nor_remove_an_owner(session):
    owner = member()
    manager = MembershipFactory(organisation=owner.organisation, role=Role.manager)
    organisation_id = owner.organisation_id

    with pytest.raises(PermissionDenied, match="owner"):
        members.change_member_role(
            session,
            actor_id=manager.user_id,
            organisation_id=organisation_id,
            membership_id=owner.id,
            role=Role.staff,
        )
    with pytest.raises(PermissionDenied, match="owner"):
        members.remove_member(
            session,
            actor_id=manager.user_id,
            organisation_id=organisation_id,
            membership_id=owner.id,
        )
    assert owner.role == Role.owner


def test_an_owner_hands_over_to_another_owner_and_then_steps_down(session):
    owner = member()
    successor = MembershipFactory(organisation=owner.organisation, role=Role.manager)
    organisation_id = owner.organisation_id

    members.change_member_role(
        session,
        actor_id=owner.user_id,
        organisation_id=organisation_id,
        membership_id=successor.id,
        role=Role.owner,
    )
    members.change_member_role(
        session,
        actor_id=owner.user_id,
        organisation_id=organisation_id,
        membership_id=owner.id,
        role=Role.manager,
    )

    assert (successor.role, owner.role) == (Role.owner, Role.manager)


def test_a_membership_is_only_reached_through_its_own_organisation(session):
    owner = member()
    stranger = MembershipFactory(role=Role.staff)
    with pytest.raises(NotFound):
        members.remove_member(
            session,
            actor_id=owner.user_id,
            organisation_id=owner.organisation_id,
            membership_id=stranger.id,
        )
