"""Organisations: they register, correct their details, and a platform admin verifies or turns them down."""

from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import events
from app.accounts.models import REAL_NAME_FIELDS, Membership, Organisation, User
from app.accounts.queries import membership_of
from app.auth import (
    MANAGING_ROLES,
    SELF_REGISTERING_KINDS,
    OrgKind,
    Role,
    VerificationStatus,
    hash_password,
    kind_label,
)
from app.db import utcnow
from app.errors import Conflict, NotFound, PermissionDenied, RuleViolation


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
        message = _("A %(kind)s is set up by the platform, not registered.", kind=kind_label(kind))
        raise RuleViolation(message, field="kind")
    organisation = _new_organisation(session, kind=kind, now=now, **details)
    owner = new_user(
        session,
        name=owner_name,
        phone=owner_phone,
        email=owner_email,
        password=password,
        language=language,
        now=now,
        field="owner_phone" if owner_phone else "owner_email",
    )
    membership = Membership(user=owner, organisation=organisation, role=Role.owner)
    session.add(membership)
    session.flush()  # the event names the new organisation and person by id
    record(
        session,
        "organisation.registered",
        organisation,
        owner.id,
        now,
        name=organisation.name_zh,
        kind=kind.value,
    )
    return membership


def set_up_organisation(
    session: Session, *, kind: OrgKind, now: datetime | None = None, **details: str
) -> Organisation:
    """Create an organisation on the platform's side (warehouse, exchange, platform): verified at once."""
    now = now or utcnow()
    organisation = _new_organisation(
        session, kind=kind, now=now, status=VerificationStatus.verified, reviewed_at=now, **details
    )
    session.flush()  # the event names the organisation
    record(
        session,
        "organisation.set_up",
        organisation,
        None,
        now,
        name=organisation.name_zh,
        kind=kind.value,
    )
    return organisation


def update_organisation(
    session: Session,
    *,
    actor_id: int,
    organisation_id: int,
    now: datetime | None = None,
    **details: str,
) -> Organisation:
    """Correct an organisation's details. A new name or legal representative needs verifying again."""
    organisation = managed_organisation(session, actor_id, organisation_id)
    changed = {
        name: (getattr(organisation, name), value)
        for name, value in details.items()
        if getattr(organisation, name) != value
    }
    for name, (_before, after) in changed.items():
        setattr(organisation, name, after)
    organisation.after_details_changed(real_name_changed=bool(REAL_NAME_FIELDS & changed.keys()))
    record(
        session,
        "organisation.updated",
        organisation,
        actor_id,
        now,
        changes={
            name: {"before": before, "after": after} for name, (before, after) in changed.items()
        },
        status=organisation.status.value,
    )
    return organisation


def verify_organisation(
    session: Session, *, admin_id: int, organisation_id: int, now: datetime | None = None
) -> Organisation:
    """Open trading to an organisation whose real-name details a platform admin has checked."""
    organisation = get_organisation(session, organisation_id, lock=True)
    organisation.verify(by_user_id=admin_id, now=now or utcnow())
    record(session, "organisation.verified", organisation, admin_id, now)
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
    organisation = get_organisation(session, organisation_id, lock=True)
    organisation.reject(reason=reason, by_user_id=admin_id, now=now or utcnow())
    record(session, "organisation.rejected", organisation, admin_id, now, reason=reason)
    return organisation


# --- what members.py shares with the use cases above ------------------------------------------------


def get_organisation(session: Session, organisation_id: int, *, lock: bool = False) -> Organisation:
    """The organisation; `lock` holds its row until commit, so changes to its people queue up."""
    organisation = session.get(Organisation, organisation_id, with_for_update=lock)
    if organisation is None:
        raise NotFound(_("That organisation does not exist."))
    return organisation


def managed_organisation(
    session: Session, actor_id: int, organisation_id: int, *, lock: bool = False
) -> Organisation:
    """The organisation, if `actor_id` is one of its owners or managers."""
    organisation = get_organisation(session, organisation_id, lock=lock)
    membership = membership_of(session, actor_id, organisation_id)
    if membership is None or membership.role not in MANAGING_ROLES:
        raise PermissionDenied(
            _("Only an owner or manager of %(org)s can do this.", org=organisation.name_zh)
        )
    return organisation


def new_user(
    session: Session,
    *,
    name: str,
    password: str,
    language: str,
    phone: str | None,
    email: str | None,
    now: datetime | None,
    field: str,
) -> User:
    """A person who signs in with `phone` or `email`; a login already taken is refused on `field`."""
    for column, login, message in (
        (
            User.phone,
            phone,
            _("An account with the number %(login)s already exists. Sign in with it instead."),
        ),
        (
            User.email,
            email,
            _("An account with the email %(login)s already exists. Sign in with it instead."),
        ),
    ):
        if login and session.scalar(select(User.id).where(column == login)):
            raise Conflict(message % {"login": login}, field=field)
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


def record(
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


def _new_organisation(
    session: Session, *, credit_code: str, now: datetime | None, **fields
) -> Organisation:
    if session.scalar(select(Organisation.id).where(Organisation.credit_code == credit_code)):
        raise Conflict(
            _(
                "An organisation with this credit code is already registered. Ask its owner "
                "to invite you instead."
            ),
            field="credit_code",
        )
    organisation = Organisation(credit_code=credit_code, created_at=now or utcnow(), **fields)
    session.add(organisation)
    return organisation
