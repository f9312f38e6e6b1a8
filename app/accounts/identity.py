"""Who is asking: the signed-in person (session cookie or API token) and the organisation they act for."""

from datetime import timedelta

from flask import g, session
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.accounts import tokens
from app.accounts.models import ApiToken, Membership, User
from app.auth import Actor, bearer_token, token_digest
from app.db import get_session, transaction, utcnow
from app.i18n import current_language, local_datetime

ORGANISATION_KEY = "organisation_id"


def load_user(user_id: str) -> User | None:
    """flask-login's loader: the id carries a version, so 'sign out everywhere' ends old cookies."""
    id_part, _sep, version = user_id.partition(":")
    if not id_part.isdigit() or bearer_token() is not None:
        return None  # a request that shows a token is judged by its token alone
    user = get_session().get(User, int(id_part))
    if user is None or not user.active or str(user.session_version) != version:
        return None
    return user


def load_token_user(_request) -> User | None:
    """flask-login's request loader: a bearer token, refused at once if revoked."""
    secret = bearer_token()
    if secret is None:
        return None
    # The person, their memberships and organisations come with the token: the actor needs them all.
    token = get_session().scalar(
        select(ApiToken)
        .where(ApiToken.digest == token_digest(secret))
        .options(
            joinedload(ApiToken.user)
            .selectinload(User.memberships)
            .joinedload(Membership.organisation)
        )
    )
    if token is None:
        g.auth_problem = _("This API token is not valid. Create a new one on the API tokens page.")
        return None
    if token.revoked_at is not None:
        g.auth_problem = _(
            "This API token was revoked on %(when)s.", when=local_datetime(token.revoked_at)
        )
        return None
    if not token.user.active:
        g.auth_problem = _("The account behind this API token is disabled.")
        return None
    g.api_token_id, g.api_token_organisation_id = token.id, token.organisation_id
    g.language = token.user.language
    _note_use(token)
    return token.user


def _note_use(token: ApiToken) -> None:
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=15):
        with transaction() as write:
            tokens.note_token_use(write, token_id=token.id, now=now)


def actor_of(user: User) -> Actor:
    """The person and the organisation they act for: the token's, or the one chosen in this browser."""
    via_token = "api_token_id" in g
    if (
        via_token
    ):  # a token acts only for its own organisation, and for none once its person has left
        membership = next(
            (m for m in user.memberships if m.organisation_id == g.api_token_organisation_id), None
        )
    else:
        membership = current_membership(user, session.get(ORGANISATION_KEY))
    if membership is None:
        return Actor(user_id=user.id, user_name=user.name, via_token=via_token)
    organisation = membership.organisation
    return Actor(
        user_id=user.id,
        user_name=user.name,
        organisation_id=organisation.id,
        organisation_name=organisation.display_name(current_language()),
        kind=organisation.kind,
        role=membership.role,
        status=organisation.status,
        rejection_reason=organisation.rejection_reason,
        via_token=via_token,
    )


def current_membership(user: User, organisation_id: int | None) -> Membership | None:
    memberships = sorted(user.memberships, key=lambda m: m.id)
    chosen = [m for m in memberships if m.organisation_id == organisation_id]
    return (chosen or memberships or [None])[0]
