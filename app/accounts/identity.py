"""Who is asking: the signed-in person (session cookie or API token) and the organisation they act for."""

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app, g, session
from flask_babel import gettext as _
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from app.accounts import tokens
from app.accounts.models import ApiToken, Membership, User
from app.auth import Actor, bearer_token, token_digest
from app.cache import TimedCache
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


@dataclass(frozen=True)
class _TokenHolder:
    token_id: int
    organisation_id: int
    user: User  # with its memberships and their organisations loaded, in no session


def load_token_user(_request) -> User | None:
    """flask-login's request loader: a bearer token, refused if revoked.

    A token's holder is reused for API_TOKEN_CACHE_SECONDS, so that a busy client's requests do not each
    look it up: a revoked token stops working at once in the process that revoked it, and within that many
    seconds in the others (as does a disabled account, or a member who left)."""
    secret = bearer_token()
    if secret is None:
        return None
    found = _token_cache().get(
        token_digest(secret),
        lambda: _look_up_token(secret),
        keep=lambda found: isinstance(found, _TokenHolder),
    )
    if not isinstance(found, _TokenHolder):
        g.auth_problem = found
        return None
    g.api_token_id, g.api_token_organisation_id = found.token_id, found.organisation_id
    g.language = found.user.language
    return found.user


def forget_tokens() -> None:
    """Look every token up afresh (one was revoked here just now)."""
    _token_cache().clear()


def _token_cache() -> TimedCache:
    extensions = current_app.extensions
    if "agrilink.tokens" not in extensions:
        extensions["agrilink.tokens"] = TimedCache(current_app.config["API_TOKEN_CACHE_SECONDS"])
    return extensions["agrilink.tokens"]


# The person, their memberships and organisations come with the token: the actor needs them all.
_TOKEN_WITH_HOLDER = (
    select(ApiToken)
    .where(ApiToken.digest == bindparam("digest"))
    .options(
        joinedload(ApiToken.user).joinedload(User.memberships).joinedload(Membership.organisation)
    )
)


def _look_up_token(secret: str) -> _TokenHolder | str:
    """The token's holder, or why it does not sign anyone in."""
    token = (
        get_session()
        .execute(_TOKEN_WITH_HOLDER, {"digest": token_digest(secret)})
        .unique()
        .scalar_one_or_none()
    )
    if token is None:
        return _("This API token is not valid. Create a new one on the API tokens page.")
    if token.revoked_at is not None:
        return _("This API token was revoked on %(when)s.", when=local_datetime(token.revoked_at))
    if not token.user.active:
        return _("The account behind this API token is disabled.")
    # Out of the request's session, so that a write in this request (which expires what the session
    # read) or its end leaves the holder whole for the next requests.
    reads = get_session()
    for membership in token.user.memberships:
        reads.expunge(membership.organisation)
        reads.expunge(membership)
    reads.expunge(token.user)
    holder = _TokenHolder(token.id, token.organisation_id, token.user)
    _note_use(token)
    return holder


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
        organisation_name_zh=organisation.name_zh,
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
