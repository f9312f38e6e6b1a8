"""Accounts use cases: organisations register and get verified, people join them, sign in, and get tokens."""

from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import events
from app.accounts.models import Invitation, Membership, Organisation, User
from app.accounts.queries import membership_of
from app.auth import (
    MANAGING_ROLES,
    ROLES_BY_KIND,
    SELF_REGISTERING_KINDS,
    OrgKind,
    Role,
    VerificationStatus,
    hash_password,
    kind_label,
    new_token,
    role_label,
    token_digest,
)
from app.db import utcnow
from app.errors import Conflict, NotFound, PermissionDenied, RuleViolation

# --- organisations --------------------------------------------------------------------------------


def register_organisation(
    session: Session,
    *,
    kind: OrgKind,
    owner_name: str,
    password: str,
    owner_phone: str | None = None,
    owner_email: str | None = None,
    language: str = "zh_CN",
    now: datetime | None = None,
    **details: str,
) -> Membership:
    """Create an organisation awaiting verification, with its first person as owner.

    `details` are the organisation's registered particulars: name_zh, credit_code, legal_representative,
    contact_phone, and optionally name_en, town, village, address.
    """
    if kind not in SELF_REGISTERING_KINDS:
        raise RuleViolation(
            _("A %(kind)s is set up by the platform, not registered.", kind=kind_label(kind)),
            field="kind",
        )
    organisation = _new_organisation(session, kind=kind, now=now, **details)
    owner = _new_user(
        session,
        name=owner_name,
        phone=owner_phone,
        email=owner_email,
        password=password,
        language=language,
        now=now,
    )
    membership = Membership(user=owner, organisation=organisation, role=Role.owner)
    session.add(membership)
    session.flush()  # the event names the new organisation and person by id
    _record(session, "organisation.registered", organisation, owner.id, now,
            name=organisation.name_zh, kind=kind.value)  # fmt: skip
    return membership


def update_organisation(
    session: Session,
    *,
    actor_id: int,
    organisation_id: int,
    now: datetime | None = None,
    **details: str,
) -> Organisation:
    """Correct an organisation's details; a turned-down one goes back for verification."""
    organisation = _managed_organisation(session, actor_id, organisation_id)
    for name, value in details.items():
        setattr(organisation, name, value)
    organisation.resubmit()
    _record(session, "organisation.updated", organisation, actor_id, now, fields=sorted(details))
    return organisation


def verify_organisation(
    session: Session, *, admin_id: int, organisation_id: int, now: datetime | None = None
) -> Organisation:
    """Open trading to an organisation whose real-name details a platform admin has checked."""
    organisation = _get_organisation(session, organisation_id, for_update=True)
    organisation.verify(by_user_id=admin_id, now=now or utcnow())
    _record(session, "organisation.verified", organisation, admin_id, now)
    return organisation


def reject_organisation(
    session: Session,
    *,
    admin_id: int,
    organisation_id: int,
    reason: str,
    now: datetime | None = None,
) -> Organisation:
    """Turn an organisation down, telling it what to correct."""
    organisation = _get_organisation(session, organisation_id, for_update=True)
    organisation.reject(reason=reason, by_user_id=admin_id, now=now or utcnow())
    _record(session, "organisation.rejected", organisation, admin_id, now, reason=reason)
    return organisation


# --- members and invitations ----------------------------------------------------------------------


def invite_member(
    session: Session,
    *,
    actor_id: int,
    organisation_id: int,
    contact: str,
    role: Role,
    name: str = "",
    valid_days: int = 7,
    now: datetime | None = None,
) -> tuple[Invitation, str]:
    """Make a one-time link that lets a person join with `role`; returns it with its secret."""
    now = now or utcnow()
    organisation = _managed_organisation(session, actor_id, organisation_id)
    _ensure_role_fits(session, organisation, actor_id, role)
    if _member_with_contact(session, organisation_id, contact):
        raise Conflict(_("%(contact)s is already a member.", contact=contact), field="contact")
    secret = new_token()
    invitation = Invitation(
        organisation=organisation,
        role=role,
        name=name,
        contact=contact,
        digest=token_digest(secret),
        invited_by_id=actor_id,
        created_at=now,
        expires_at=now + timedelta(days=valid_days),
    )
    session.add(invitation)
    session.flush()  # the event names the invitation
    _record(
        session,
        "member.invited",
        organisation,
        actor_id,
        now,
        invitation_id=invitation.id,
        contact=contact,
        role=role.value,
    )
    return invitation, secret


def find_invitation(session: Session, secret: str) -> Invitation:
    invitation = session.scalar(select(Invitation).where(Invitation.digest == token_digest(secret)))
    if invitation is None:
        raise NotFound(_("This invitation link is not valid. Check that it was copied whole."))
    return invitation


def accept_invitation(
    session: Session,
    *,
    secret: str,
    user_id: int | None = None,
    name: str = "",
    password: str = "",
    language: str = "zh_CN",
    now: datetime | None = None,
) -> Membership:
    """Join the organisation behind an invitation, as the signed-in person or as a new account."""
    now = now or utcnow()
    invitation = find_invitation(session, secret)
    if user_id is None:
        is_email = "@" in invitation.contact
        user = _new_user(
            session,
            name=name or invitation.name,
            password=password,
            language=language,
            phone=None if is_email else invitation.contact,
            email=invitation.contact if is_email else None,
            now=now,
            field="name",
        )
        session.flush()  # the invitation records who accepted it
    else:
        user = session.get_one(User, user_id)
        if membership_of(session, user.id, invitation.organisation_id):
            raise Conflict(
                _("You are already a member of %(org)s.", org=invitation.organisation.name_zh)
            )
    invitation.accept(user_id=user.id, now=now)
    membership = Membership(
        user=user, organisation_id=invitation.organisation_id, role=invitation.role
    )
    session.add(membership)
    _record(
        session,
        "member.joined",
        invitation.organisation,
        user.id,
        now,
        role=invitation.role.value,
        invitation_id=invitation.id,
    )
    return membership


def revoke_invitation(
    session: Session, *, actor_id: int, invitation_id: int, now: datetime | None = None
) -> Invitation:
    """Withdraw an invitation that has not been used yet."""
    invitation = session.get(Invitation, invitation_id)
    if invitation is None:
        raise NotFound(_("That invitation does not exist."))
    _managed_organisation(session, actor_id, invitation.organisation_id)
    if invitation.state(now or utcnow()) == "open":
        invitation.revoked_at = now or utcnow()
        _record(
            session,
            "member.invitation_revoked",
            invitation.organisation,
            actor_id,
            now,
            invitation_id=invitation.id,
        )
    return invitation


def change_member_role(
    session: Session, *, actor_id: int, membership_id: int, role: Role, now: datetime | None = None
) -> Membership:
    """Give a member another role in the same organisation."""
    membership = _get_membership(session, membership_id)
    organisation = _managed_organisation(session, actor_id, membership.organisation_id)
    _ensure_role_fits(session, organisation, actor_id, role)
    if membership.role == Role.owner and role != Role.owner:
        _ensure_not_last_owner(session, membership)
    before = membership.role
    membership.role = role
    _record(
        session,
        "member.role_changed",
        organisation,
        actor_id,
        now,
        user_id=membership.user_id,
        before=before.value,
        after=role.value,
    )
    return membership


def remove_member(
    session: Session, *, actor_id: int, membership_id: int, now: datetime | None = None
) -> None:
    """Take a person out of an organisation (or let them leave it)."""
    membership = _get_membership(session, membership_id)
    if membership.user_id != actor_id:
        _managed_organisation(session, actor_id, membership.organisation_id)
    if membership.role == Role.owner:
        _ensure_not_last_owner(session, membership)
    _record(
        session,
        "member.removed",
        membership.organisation,
        actor_id,
        now,
        user_id=membership.user_id,
    )
    session.delete(membership)


# --- rules shared by the use cases above ----------------------------------------------------------


def _record(
    session: Session,
    event_kind: str,
    organisation: Organisation,
    actor_id: int | None,
    now: datetime | None,
    **payload,
) -> None:
    events.record(
        session,
        event_kind,
        organisation_id=organisation.id,
        actor_id=actor_id,
        subject=f"organisation:{organisation.id}",
        payload=payload,
        now=now,
    )


def _new_user(
    session: Session,
    *,
    name: str,
    password: str,
    language: str,
    phone: str | None,
    email: str | None,
    now: datetime | None,
    field: str | None = None,
) -> User:
    if phone and session.scalar(select(User.id).where(User.phone == phone)):
        raise Conflict(
            _(
                "An account with the number %(phone)s already exists. Sign in with it instead.",
                phone=phone,
            ),
            field=field or "owner_phone",
        )
    if email and session.scalar(select(User.id).where(User.email == email)):
        raise Conflict(
            _(
                "An account with the email %(email)s already exists. Sign in with it instead.",
                email=email,
            ),
            field=field or "owner_email",
        )
    user = User(
        name=name,
        phone=phone,
        email=email,
        password_hash=hash_password(password),
        language=language,
        created_at=now or utcnow(),
    )
    session.add(user)
    return user


def _new_organisation(
    session: Session, *, credit_code: str, now: datetime | None, **fields
) -> Organisation:
    _ensure_credit_code_free(session, credit_code)
    organisation = Organisation(credit_code=credit_code, created_at=now or utcnow(), **fields)
    session.add(organisation)
    return organisation


def _ensure_credit_code_free(session: Session, credit_code: str) -> None:
    if session.scalar(select(Organisation.id).where(Organisation.credit_code == credit_code)):
        raise Conflict(
            _(
                "An organisation with this credit code is already registered. Ask its owner "
                "to invite you instead."
            ),
            field="credit_code",
        )


def _get_organisation(
    session: Session, organisation_id: int, *, for_update: bool = False
) -> Organisation:
    organisation = session.get(Organisation, organisation_id, with_for_update=for_update)
    if organisation is None:
        raise NotFound(_("That organisation does not exist."))
    return organisation


def _get_membership(session: Session, membership_id: int) -> Membership:
    membership = session.get(Membership, membership_id)
    if membership is None:
        raise NotFound(_("That member does not exist."))
    return membership


def _managed_organisation(session: Session, actor_id: int, organisation_id: int) -> Organisation:
    """The organisation, if `actor_id` is one of its owners or managers."""
    organisation = _get_organisation(session, organisation_id)
    membership = membership_of(session, actor_id, organisation_id)
    if membership is None or membership.role not in MANAGING_ROLES:
        raise PermissionDenied(
            _("Only an owner or manager of %(org)s can do this.", org=organisation.name_zh)
        )
    return organisation


def _ensure_role_fits(
    session: Session, organisation: Organisation, actor_id: int, role: Role
) -> None:
    if not organisation.allows_role(role):
        allowed = "、".join(role_label(r) for r in ROLES_BY_KIND[organisation.kind])
        raise RuleViolation(
            _(
                "A %(kind)s has these roles: %(roles)s.",
                kind=kind_label(organisation.kind),
                roles=allowed,
            ),
            field="role",
        )
    actor = membership_of(session, actor_id, organisation.id)
    if role == Role.owner and (actor is None or actor.role != Role.owner):
        raise RuleViolation(_("Only an owner can make someone an owner."), field="role")


def _ensure_not_last_owner(session: Session, membership: Membership) -> None:
    owners = session.scalar(
        select(func.count()).where(
            Membership.organisation_id == membership.organisation_id, Membership.role == Role.owner
        )
    )
    if owners <= 1:
        raise RuleViolation(_("An organisation needs an owner. Make someone else owner first."))


def _member_with_contact(session: Session, organisation_id: int, contact: str) -> bool:
    column = User.email if "@" in contact else User.phone
    return (
        session.scalar(
            select(func.count())
            .select_from(Membership)
            .join(User)
            .where(Membership.organisation_id == organisation_id, column == contact)
        )
        > 0
    )


def set_up_organisation(
    session: Session, *, kind: OrgKind, now: datetime | None = None, **details: str
) -> Organisation:
    """Create an organisation on the platform's side (warehouse, exchange, platform): verified at once."""
    now = now or utcnow()
    organisation = _new_organisation(
        session, kind=kind, now=now, status=VerificationStatus.verified, reviewed_at=now, **details
    )
    session.flush()  # the event names the organisation
    _record(session, "organisation.set_up", organisation, None, now,
            name=organisation.name_zh, kind=kind.value)  # fmt: skip
    return organisation


def add_member(
    session: Session,
    *,
    organisation_id: int,
    name: str,
    password: str,
    role: Role,
    phone: str | None = None,
    email: str | None = None,
    language: str = "zh_CN",
    now: datetime | None = None,
) -> Membership:
    """Create a person straight into an organisation (operators' tooling; people use invitations)."""
    organisation = _get_organisation(session, organisation_id)
    if not organisation.allows_role(role):
        raise RuleViolation(
            _(
                "A %(kind)s has no role %(role)s.",
                kind=kind_label(organisation.kind),
                role=role_label(role),
            ),
            field="role",
        )
    user = _new_user(
        session,
        name=name,
        phone=phone,
        email=email,
        password=password,
        language=language,
        now=now,
        field="phone" if phone else "email",
    )
    membership = Membership(user=user, organisation=organisation, role=role)
    session.add(membership)
    session.flush()  # the event names the new person
    _record(session, "member.added", organisation, None, now, user_id=user.id, role=role.value)
    return membership
