"""API tokens: bearer secrets for systems acting as one member of one organisation."""

from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from app import events
from app.accounts.models import ApiToken
from app.accounts.people import DEFAULT_LIMITS, SignInLimits, SignInOutcome, attempt_sign_in
from app.accounts.queries import membership_of
from app.auth import MANAGING_ROLES, new_token, token_digest
from app.db import utcnow
from app.errors import NotFound, PermissionDenied


def create_api_token(
    session: Session,
    *,
    user_id: int,
    organisation_id: int | None,
    name: str,
    now: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Issue a bearer token acting as this person in this organisation; the secret is returned once."""
    if organisation_id is not None and membership_of(session, user_id, organisation_id) is None:
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
    limits: SignInLimits = DEFAULT_LIMITS,
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


def _may_revoke(session: Session, actor_id: int, token: ApiToken) -> bool:
    if token.user_id == actor_id:
        return True
    if token.organisation_id is None:
        return False
    membership = membership_of(session, actor_id, token.organisation_id)
    return membership is not None and membership.role in MANAGING_ROLES
