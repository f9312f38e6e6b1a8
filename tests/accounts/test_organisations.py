import pytest
from sqlalchemy import select

from app.accounts import organisations
from app.accounts.models import Organisation
from app.auth import OrgKind, Role, VerificationStatus, password_matches
from app.db import utcnow
from app.errors import Conflict, PermissionDenied, RuleViolation
from app.events import Event
from tests.factories import (
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
    membership = organisations.register_organisation(session, **REGISTRATION)

    assert membership.role == Role.owner
    assert membership.organisation.status == VerificationStatus.pending
    assert password_matches(membership.user.password_hash, "a strong password")
    [event] = events_of(session, "organisation.registered")
    assert event.organisation_id == membership.organisation.id
    assert event.actor_id == membership.user.id


def test_the_same_credit_code_cannot_register_twice(session):
    OrganisationFactory(credit_code=REGISTRATION["credit_code"])

    with pytest.raises(Conflict) as refused:
        organisations.register_organisation(session, **REGISTRATION)

    assert refused.value.field == "credit_code"


def test_a_taken_mobile_number_is_refused_on_the_owner_field(session):
    UserFactory(phone=REGISTRATION["owner_phone"])

    with pytest.raises(Conflict) as refused:
        organisations.register_organisation(session, **REGISTRATION)

    assert refused.value.field == "owner_phone"


def test_the_exchange_cannot_register_itself(session):
    with pytest.raises(RuleViolation) as refused:
        organisations.register_organisation(session, **{**REGISTRATION, "kind": OrgKind.exchange})

    assert refused.value.field == "kind"


def test_an_admin_verifies_a_pending_organisation_and_the_log_says_who(session):
    organisation = OrganisationFactory(pending=True)
    admin = MembershipFactory(
        role=Role.admin, organisation=OrganisationFactory(kind=OrgKind.platform)
    )
    now = utcnow()

    organisations.verify_organisation(
        session, admin_id=admin.user_id, organisation_id=organisation.id, now=now
    )

    assert organisation.status == VerificationStatus.verified
    assert organisation.reviewed_by_id == admin.user_id
    [event] = events_of(session, "organisation.verified")
    assert event.actor_id == admin.user_id


def test_verifying_twice_is_refused(session):
    organisation = OrganisationFactory()
    with pytest.raises(Conflict):
        organisations.verify_organisation(
            session, admin_id=UserFactory().id, organisation_id=organisation.id
        )


def test_a_rejected_organisation_goes_back_to_the_queue_when_it_corrects_its_details(session):
    owner = member(status=VerificationStatus.rejected, rejection_reason="名称与营业执照不符")

    organisations.update_organisation(
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
        organisations.update_organisation(
            session,
            actor_id=staff.user_id,
            organisation_id=staff.organisation_id,
            name_zh="别的名字",
        )


def test_the_platform_sets_up_a_verified_warehouse(session):
    organisation = organisations.set_up_organisation(
        session,
        kind=OrgKind.warehouse,
        name_zh="中国茶城仓储有限公司",
        credit_code=OrganisationFactory.build().credit_code,
        legal_representative="罗斌",
        contact_phone="13908520011",
    )

    assert organisation.status == VerificationStatus.verified
    assert session.get(Organisation, organisation.id).kind == OrgKind.warehouse


def test_a_verified_organisation_that_changes_its_name_is_verified_again(session):
    owner = member(name_zh="湄潭县龙凤村茶叶专业合作社")

    organisations.update_organisation(
        session,
        actor_id=owner.user_id,
        organisation_id=owner.organisation_id,
        name_zh="完全不同的公司",
    )

    assert owner.organisation.status == VerificationStatus.pending
    [event] = events_of(session, "organisation.updated")
    assert event.payload["changes"]["name_zh"] == {
        "before": "湄潭县龙凤村茶叶专业合作社",
        "after": "完全不同的公司",
    }


def test_a_new_contact_phone_keeps_a_verified_organisation_verified(session):
    owner = member()
    organisations.update_organisation(
        session,
        actor_id=owner.user_id,
        organisation_id=owner.organisation_id,
        contact_phone="13908520055",
    )
    assert owner.organisation.status == VerificationStatus.verified
