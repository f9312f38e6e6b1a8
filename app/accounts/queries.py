"""Read-only selects for the accounts pages and API lists."""

from datetime import date, datetime, time, timedelta

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session, joinedload

from app.accounts.models import ApiToken, Invitation, Membership, Organisation
from app.auth import OrgKind, Role, VerificationStatus
from app.db import LOCAL_TIME, Page, paginate
from app.events import Event

# A date in a filter is the day as people in Meitan live it.


def membership_of(session: Session, user_id: int, organisation_id: int) -> Membership | None:
    query = select(Membership).where(
        Membership.user_id == user_id, Membership.organisation_id == organisation_id
    )
    return session.scalar(query)


def members_of(session: Session, organisation_id: int) -> list[Membership]:
    query = (
        select(Membership)
        .options(joinedload(Membership.user))
        .where(Membership.organisation_id == organisation_id)
        .order_by(Membership.id)
    )
    return list(session.scalars(query))


def open_invitations(session: Session, organisation_id: int, now: datetime) -> list[Invitation]:
    query = select(Invitation).where(
        Invitation.organisation_id == organisation_id,
        Invitation.accepted_at.is_(None),
        Invitation.revoked_at.is_(None),
        Invitation.expires_at > now,
    )
    return list(session.scalars(query.order_by(Invitation.id.desc())))


def tokens_of(session: Session, user_id: int) -> list[ApiToken]:
    query = select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id.desc())
    return list(session.scalars(query))


def organisations_page(
    session: Session,
    *,
    status: VerificationStatus | None = None,
    kind: OrgKind | None = None,
    q: str = "",
    page: int = 1,
) -> Page:
    """Organisations for the admin, pending first, then newest."""
    pending_first = case((Organisation.status == VerificationStatus.pending, 0), else_=1)
    query = select(Organisation).order_by(pending_first, Organisation.id.desc())
    if status:
        query = query.where(Organisation.status == status)
    if kind:
        query = query.where(Organisation.kind == kind)
    if q:
        pattern = f"%{q}%"
        query = query.where(
            or_(
                Organisation.name_zh.like(pattern),
                Organisation.name_en.ilike(pattern),
                Organisation.credit_code == q.upper(),
            )
        )
    return paginate(session, query, page=page)


def count_pending_organisations(session: Session) -> int:
    query = select(func.count()).where(Organisation.status == VerificationStatus.pending)
    return session.scalar(query) or 0


def count_members(session: Session, organisation_id: int) -> int:
    return (
        session.scalar(select(func.count()).where(Membership.organisation_id == organisation_id))
        or 0
    )


def managers_of(session: Session, organisation_id: int) -> list[str]:
    query = (
        select(Membership)
        .options(joinedload(Membership.user))
        .where(
            Membership.organisation_id == organisation_id,
            Membership.role.in_([Role.owner, Role.manager]),
        )
    )
    return [membership.user.name for membership in session.scalars(query)]


def events_page(
    session: Session,
    *,
    kind: str = "",
    organisation_id: int | None = None,
    actor_id: int | None = None,
    since: date | None = None,
    until: date | None = None,
    page: int = 1,
    size: int = 50,
) -> Page:
    """The event log, newest first, for the audit pages."""
    query = select(Event).order_by(Event.id.desc())
    if kind:
        query = query.where(Event.kind == kind)
    if organisation_id:
        query = query.where(Event.organisation_id == organisation_id)
    if actor_id:
        query = query.where(Event.actor_id == actor_id)
    if since:
        query = query.where(Event.created_at >= _day_start(since))
    if until:
        query = query.where(Event.created_at < _day_start(until + timedelta(days=1)))
    return paginate(session, query, page=page, size=size)


def event_kinds(session: Session) -> list[str]:
    return list(session.scalars(select(Event.kind).distinct().order_by(Event.kind)))


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=LOCAL_TIME)
