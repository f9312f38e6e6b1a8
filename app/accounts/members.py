"""The people of an organisation: invitations, joining, roles, leaving."""

from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts.models import Invitation, Membership, Organisation, User
from app.accounts.organisations import get_organisation, managed_organisation, new_user, record
from app.accounts.queries import membership_of
from app.auth import ROLES_BY_KIND, Role, kind_label, new_token, role_label, token_digest
from app.db import utcnow
from app.errors import Conflict, NotFound, PermissionDenied, RuleViolation


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
    organisation = managed_organisation(session, actor_id, organisation_id)
    _ensure_role_allowed(organisation, role)
    _ensure_owner_acts_for_owners(session, organisation, actor_id, role)
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
    record(
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


def find_invitation(session: Session, secret: str, *, lock: bool = False) -> Invitation:
    """The invitation behind a link's secret."""
    query = select(Invitation).where(Invitation.digest == token_digest(secret))
    invitation = session.scalar(query.with_for_update() if lock else query)
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
    invitation = find_invitation(
        session, secret, lock=True
    )  # two people racing for one link: one joins
    invitation.ensure_open(now)
    if user_id is None:
        contact = invitation.contact
        user = new_user(
            session,
            name=name or invitation.name,
            password=password,
            language=language,
            phone=None if "@" in contact else contact,
            email=contact if "@" in contact else None,
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
    record(
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
    session: Session,
    *,
    actor_id: int,
    organisation_id: int,
    invitation_id: int,
    now: datetime | None = None,
) -> Invitation:
    """Withdraw an invitation that has not been used yet."""
    organisation = managed_organisation(session, actor_id, organisation_id)
    invitation = session.get(Invitation, invitation_id)
    if invitation is None or invitation.organisation_id != organisation.id:
        raise NotFound(_("That invitation does not exist."))
    if invitation.state(now or utcnow()) == "open":
        invitation.revoked_at = now or utcnow()
        record(
            session,
            "member.invitation_revoked",
            organisation,
            actor_id,
            now,
            invitation_id=invitation.id,
        )
    return invitation


def change_member_role(
    session: Session,
    *,
    actor_id: int,
    organisation_id: int,
    membership_id: int,
    role: Role,
    now: datetime | None = None,
) -> Membership:
    """Give a member another role in the same organisation."""
    organisation = managed_organisation(session, actor_id, organisation_id, lock=True)
    membership = _member_of(session, organisation, membership_id)
    _ensure_role_allowed(organisation, role)
    _ensure_owner_acts_for_owners(session, organisation, actor_id, role, membership.role)
    if membership.role == Role.owner and role != Role.owner:
        _ensure_not_last_owner(session, membership)
    before, membership.role = membership.role, role
    record(
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
    session: Session,
    *,
    actor_id: int,
    organisation_id: int,
    membership_id: int,
    now: datetime | None = None,
) -> None:
    """Take a person out of an organisation (or let them leave it)."""
    organisation = get_organisation(session, organisation_id, lock=True)
    membership = _member_of(session, organisation, membership_id)
    if membership.user_id != actor_id:
        managed_organisation(session, actor_id, organisation_id)
        _ensure_owner_acts_for_owners(
            session, organisation, actor_id, membership.role, membership.role
        )
    if membership.role == Role.owner:
        _ensure_not_last_owner(session, membership)
    record(session, "member.removed", organisation, actor_id, now, user_id=membership.user_id)
    session.delete(membership)


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
    organisation = get_organisation(session, organisation_id)
    _ensure_role_allowed(organisation, role)
    user = new_user(
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
    record(session, "member.added", organisation, None, now, user_id=user.id, role=role.value)
    return membership


def _member_of(session: Session, organisation: Organisation, membership_id: int) -> Membership:
    membership = session.get(Membership, membership_id)
    if membership is None or membership.organisation_id != organisation.id:
        raise NotFound(_("That member does not exist."))
    return membership


def _ensure_role_allowed(organisation: Organisation, role: Role) -> None:
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


def _ensure_owner_acts_for_owners(
    session: Session,
    organisation: Organisation,
    actor_id: int,
    granted: Role,
    current: Role | None = None,
) -> None:
    """Only an owner may make someone owner, or change or remove an owner."""
    if Role.owner not in (granted, current):
        return
    actor = membership_of(session, actor_id, organisation.id)
    if actor is not None and actor.role == Role.owner:
        return
    if current == Role.owner:
        raise PermissionDenied(_("Only an owner can change or remove another owner."))
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
    query = (
        select(func.count())
        .select_from(Membership)
        .join(User)
        .where(Membership.organisation_id == organisation_id, column == contact)
    )
    return session.scalar(query) > 0
