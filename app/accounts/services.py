"""Accounts use cases: organisations register and get verified, people join them, sign in, and get tokens."""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from flask_babel import gettext as _
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from app import events
from app.accounts.models import ApiToken, Invitation, Membership, Organisation, SignInAttempt, User
from app.auth import (
    ROLES_BY_KIND,
    SELF_REGISTERING_KINDS,
    OrgKind,
    Role,
    VerificationStatus,
    hash_password,
    kind_label,
    new_token,
    password_matches,
    password_needs_rehash,
    role_label,
    token_digest,
)
from app.db import utcnow
from app.errors import Conflict, NotFound, PermissionDenied, RuleViolation, TooManyRequests

MANAGING_ROLES = (Role.owner, Role.manager)


# --- organisations --------------------------------------------------------------------------------


def register_organisation(
    session: Session,
    *,
    kind: OrgKind,
    name_zh: str,
    credit_code: str,
    legal_representative: str,
    contact_phone: str,
    owner_name: str,
    password: str,
    owner_phone: str | None = None,
    owner_email: str | None = None,
    name_en: str = "",
    town: str = "",
    village: str = "",
    address: str = "",
    language: str = "zh_CN",
    now: datetime | None = None,
) -> Membership:
    """Create an organisation awaiting verification, with its first person as owner."""
    if kind not in SELF_REGISTERING_KINDS:
        raise RuleViolation(
            _("A %(kind)s is set up by the platform, not registered.", kind=kind_label(kind)),
            field="kind",
        )
    _ensure_credit_code_free(session, credit_code)
    owner = _new_user(
        session,
        name=owner_name,
        phone=owner_phone,
        email=owner_email,
        password=password,
        language=language,
        now=now,
    )
    organisation = Organisation(
        kind=kind,
        name_zh=name_zh,
        name_en=name_en,
        credit_code=credit_code,
        legal_representative=legal_representative,
        contact_phone=contact_phone,
        town=town,
        village=village,
        address=address,
        created_at=now or utcnow(),
    )
    membership = Membership(user=owner, organisation=organisation, role=Role.owner)
    session.add_all([organisation, membership])
    session.flush()  # the event names the new organisation and person by id
    _record(
        session,
        "organisation.registered",
        organisation,
        owner.id,
        now,
        name=name_zh,
        kind=kind.value,
    )
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
        if _membership(session, user.id, invitation.organisation_id):
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


# --- people and sign-in ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SignInLimits:
    max_failures: int = 5
    max_failures_per_address: int = 20
    window_seconds: int = 60


@dataclass(frozen=True)
class SignInOutcome:
    user: User | None
    failures_left: int = 0
    retry_after: int = 0  # seconds; set when this failure locked the account
    # On success: wrong passwords tried on this account since its previous sign-in, so that its owner
    # hears about someone guessing.
    failures_since_last_sign_in: int = 0


def attempt_sign_in(
    session: Session,
    *,
    login: str,
    password: str,
    address: str,
    limits: SignInLimits = SignInLimits(),
    now: datetime | None = None,
) -> SignInOutcome:
    """Check a password, counting failures so that guessing soon meets a pause."""
    now = now or utcnow()
    _refuse_while_locked(session, login, address, limits, now)
    user = user_by_login(session, login)
    # Spend the same time whether or not the account exists, so timing reveals nothing.
    succeeded = password_matches(user.password_hash if user else _absent_user_hash(), password)
    succeeded = succeeded and user is not None and user.active
    session.add(SignInAttempt(login=login, address=address, succeeded=succeeded, created_at=now))
    if succeeded:
        if password_needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        return SignInOutcome(
            user=user, failures_since_last_sign_in=_failures_since_last_success(session, login, now)
        )
    session.flush()  # the count below includes this failure
    failures = _recent_failures(session, SignInAttempt.login == login, limits, now)
    if len(failures) >= limits.max_failures:
        events.record(
            session,
            "user.locked_out",
            actor_id=user.id if user else None,
            now=now,
            subject=f"login:{login}",
            payload={"address": address},
        )
        return SignInOutcome(user=None, retry_after=_seconds_until_unlocked(failures, limits, now))
    return SignInOutcome(user=None, failures_left=limits.max_failures - len(failures))


def user_by_login(session: Session, login: str) -> User | None:
    column = User.email if "@" in login else User.phone
    return session.scalar(select(User).where(column == login))


def update_profile(session: Session, *, user_id: int, name: str, language: str) -> User:
    """Change how a person is named and which language they read."""
    user = session.get_one(User, user_id)
    user.name, user.language = name, language
    return user


def change_password(
    session: Session,
    *,
    user_id: int,
    current_password: str,
    new_password: str,
    now: datetime | None = None,
) -> User:
    """Set a new password and sign out every other browser."""
    user = session.get_one(User, user_id)
    if not password_matches(user.password_hash, current_password):
        raise RuleViolation(_("That is not your current password."), field="current_password")
    user.password_hash = hash_password(new_password)
    user.session_version += 1
    events.record(
        session, "user.password_changed", actor_id=user.id, subject=f"user:{user.id}", now=now
    )
    return user


def sign_out_everywhere(session: Session, *, user_id: int, now: datetime | None = None) -> User:
    """End every signed-in browser session of this person (API tokens are revoked separately)."""
    user = session.get_one(User, user_id)
    user.session_version += 1
    events.record(
        session, "user.signed_out_everywhere", actor_id=user.id, subject=f"user:{user.id}", now=now
    )
    return user


# --- API tokens -----------------------------------------------------------------------------------


def create_api_token(
    session: Session,
    *,
    user_id: int,
    organisation_id: int | None,
    name: str,
    now: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Issue a bearer token acting as this person in this organisation; the secret is returned once."""
    if organisation_id is not None and _membership(session, user_id, organisation_id) is None:
        raise PermissionDenied(_("You can only create tokens for an organisation you belong to."))
    secret = new_token()
    token = ApiToken(
        user_id=user_id,
        organisation_id=organisation_id,
        name=name or _("API token"),
        prefix=secret[:12],
        digest=token_digest(secret),
        created_at=now or utcnow(),
    )
    session.add(token)
    session.flush()  # the event names the token
    events.record(
        session,
        "api_token.created",
        organisation_id=organisation_id,
        actor_id=user_id,
        subject=f"api_token:{token.id}",
        payload={"name": token.name},
        now=now,
    )
    return token, secret


def issue_token_for_credentials(
    session: Session,
    *,
    login: str,
    password: str,
    name: str,
    address: str,
    limits: SignInLimits = SignInLimits(),
    now: datetime | None = None,
) -> tuple[ApiToken, str] | SignInOutcome:
    """POST /auth/token: a token for a correct login and password, else the failed outcome."""
    outcome = attempt_sign_in(
        session, login=login, password=password, address=address, limits=limits, now=now
    )
    if outcome.user is None:
        return outcome
    first = next(iter(sorted(outcome.user.memberships, key=lambda m: m.id)), None)
    return create_api_token(
        session,
        user_id=outcome.user.id,
        name=name,
        now=now,
        organisation_id=first.organisation_id if first else None,
    )


def revoke_api_token(
    session: Session, *, actor_id: int, token_id: int, now: datetime | None = None
) -> ApiToken:
    """Stop a token working, at once. Its owner, or a manager of its organisation, may do this."""
    token = session.get(ApiToken, token_id)
    if token is None or not _may_revoke(session, actor_id, token):
        raise NotFound(_("That token does not exist or is not yours."))
    if token.revoked_at is None:
        token.revoked_at = now or utcnow()
        events.record(
            session,
            "api_token.revoked",
            organisation_id=token.organisation_id,
            actor_id=actor_id,
            subject=f"api_token:{token.id}",
            now=now,
        )
    return token


def purge_sign_in_attempts(session: Session, *, now: datetime | None = None) -> int:
    """Forget sign-in attempts older than a day; they only matter for a few minutes."""
    cutoff = (now or utcnow()) - timedelta(days=1)
    result = session.execute(delete(SignInAttempt).where(SignInAttempt.created_at < cutoff))
    return result.rowcount


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


def _membership(session: Session, user_id: int, organisation_id: int) -> Membership | None:
    return session.scalar(
        select(Membership).where(
            Membership.user_id == user_id, Membership.organisation_id == organisation_id
        )
    )


def _managed_organisation(session: Session, actor_id: int, organisation_id: int) -> Organisation:
    """The organisation, if `actor_id` is one of its owners or managers."""
    organisation = _get_organisation(session, organisation_id)
    membership = _membership(session, actor_id, organisation_id)
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
    actor = _membership(session, actor_id, organisation.id)
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


def _may_revoke(session: Session, actor_id: int, token: ApiToken) -> bool:
    if token.user_id == actor_id:
        return True
    if token.organisation_id is None:
        return False
    membership = _membership(session, actor_id, token.organisation_id)
    return membership is not None and membership.role in MANAGING_ROLES


def _refuse_while_locked(
    session: Session, login: str, address: str, limits: SignInLimits, now: datetime
) -> None:
    failures = _recent_failures(session, SignInAttempt.login == login, limits, now)
    if len(failures) >= limits.max_failures:
        wait = _seconds_until_unlocked(failures, limits, now)
        raise TooManyRequests(
            _(
                "Too many wrong passwords for this account. For its safety, sign-in is paused; try "
                "again in %(seconds)d seconds.",
                seconds=wait,
            ),
            retry_after=wait,
        )
    failures = _recent_failures(session, SignInAttempt.address == address, limits, now)
    if len(failures) >= limits.max_failures_per_address:
        wait = _seconds_until_unlocked(failures, limits, now, limits.max_failures_per_address)
        raise TooManyRequests(
            _(
                "Too many failed sign-ins from your network. Try again in %(seconds)d seconds.",
                seconds=wait,
            ),
            retry_after=wait,
        )


def _recent_failures(
    session: Session, condition, limits: SignInLimits, now: datetime
) -> list[datetime]:
    """Times of failures within the window and after the last success, oldest first."""
    since = now - timedelta(seconds=limits.window_seconds)
    last_success = session.scalar(
        select(func.max(SignInAttempt.created_at)).where(
            condition, SignInAttempt.succeeded.is_(True), SignInAttempt.created_at >= since
        )
    )
    query = select(SignInAttempt.created_at).where(
        condition,
        SignInAttempt.succeeded.is_(False),
        SignInAttempt.created_at >= (last_success or since),
    )
    return list(session.scalars(query.order_by(SignInAttempt.created_at)))


def _failures_since_last_success(session: Session, login: str, now: datetime) -> int:
    previous_success = session.scalar(
        select(func.max(SignInAttempt.created_at)).where(
            SignInAttempt.login == login,
            SignInAttempt.succeeded.is_(True),
            SignInAttempt.created_at < now,
        )
    )
    query = select(func.count()).where(
        SignInAttempt.login == login, SignInAttempt.succeeded.is_(False)
    )
    if previous_success is not None:
        query = query.where(SignInAttempt.created_at > previous_success)
    return session.scalar(query) or 0


def _seconds_until_unlocked(
    failures: list[datetime], limits: SignInLimits, now: datetime, limit: int | None = None
) -> int:
    # Enough of the oldest failures must leave the window for the count to drop below the limit.
    limit = limit or limits.max_failures
    deciding = failures[len(failures) - limit]
    remaining = limits.window_seconds - (now - deciding).total_seconds()
    return max(1, math.ceil(remaining))


@cache
def _absent_user_hash() -> str:
    return hash_password("no account has this password")


def note_token_use(session: Session, *, token_id: int, now: datetime | None = None) -> None:
    """Remember roughly when a token was last used (to the quarter hour, to keep API calls cheap)."""
    now = now or utcnow()
    session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id)
        .where(
            or_(
                ApiToken.last_used_at.is_(None), ApiToken.last_used_at < now - timedelta(minutes=15)
            )
        )
        .values(last_used_at=now)
    )


def set_up_organisation(
    session: Session,
    *,
    kind: OrgKind,
    name_zh: str,
    credit_code: str,
    legal_representative: str,
    contact_phone: str,
    name_en: str = "",
    town: str = "",
    village: str = "",
    address: str = "",
    now: datetime | None = None,
) -> Organisation:
    """Create an organisation on the platform's side (warehouse, exchange, platform): verified at once."""
    _ensure_credit_code_free(session, credit_code)
    now = now or utcnow()
    organisation = Organisation(
        kind=kind,
        name_zh=name_zh,
        name_en=name_en,
        credit_code=credit_code,
        legal_representative=legal_representative,
        contact_phone=contact_phone,
        town=town,
        village=village,
        address=address,
        status=VerificationStatus.verified,
        reviewed_at=now,
        created_at=now,
    )
    session.add(organisation)
    session.flush()  # the event names the organisation
    _record(session, "organisation.set_up", organisation, None, now, name=name_zh, kind=kind.value)
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
