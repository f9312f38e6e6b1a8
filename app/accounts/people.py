"""Sign-in, and what a person changes about themselves: profile, password, sessions."""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from flask_babel import gettext as _
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from app import events
from app.accounts.models import ApiToken, SignInAttempt, User
from app.auth import hash_password, password_matches, password_needs_rehash
from app.db import utcnow
from app.errors import RuleViolation, TooManyRequests


@dataclass(frozen=True)
class SignInLimits:
    max_failures: int = 5
    max_failures_per_address: int = 20
    window_seconds: int = 60

    @classmethod
    def from_config(cls, config: Mapping) -> "SignInLimits":
        return cls(
            max_failures=config["SIGN_IN_MAX_FAILURES"],
            max_failures_per_address=config["SIGN_IN_MAX_FAILURES_PER_ADDRESS"],
            window_seconds=config["SIGN_IN_WINDOW_SECONDS"],
        )


DEFAULT_LIMITS = SignInLimits()


@dataclass(frozen=True)
class SignInOutcome:
    user: User | None
    failures_left: int = 0
    lockout: TooManyRequests | None = None  # set when this failure paused sign-in for the account
    # On success: wrong passwords tried on this account since its previous sign-in, so that its owner
    # hears about someone guessing.
    failures_since_last_sign_in: int = 0


def attempt_sign_in(
    session: Session,
    *,
    login: str,
    password: str,
    address: str,
    limits: SignInLimits = DEFAULT_LIMITS,
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
        wait = _seconds_until_unlocked(failures, limits, now)
        lockout = TooManyRequests(
            _(
                "That was %(n)d wrong passwords in a row. For the account's safety, sign-in is paused for "
                "%(seconds)d seconds.",
                n=len(failures),
                seconds=wait,
            ),
            retry_after=wait,
        )
        return SignInOutcome(user=None, lockout=lockout)
    return SignInOutcome(user=None, failures_left=limits.max_failures - len(failures))


def user_by_login(session: Session, login: str) -> User | None:
    """The person who signs in with this mobile number or (lower-case) email address."""
    column = User.email if "@" in login else User.phone
    return session.scalar(select(User).where(column == login))


def update_profile(session: Session, *, user_id: int, name: str, language: str) -> User:
    """Change how a person is named and which language they read."""
    user = session.get_one(User, user_id)
    user.name, user.language = name, language
    return user


def choose_language(session: Session, *, user_id: int, language: str) -> User:
    """Remember the language a person reads the platform in."""
    user = session.get_one(User, user_id)
    user.language = language
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


def sign_out_everywhere(
    session: Session, *, user_id: int, revoke_tokens: bool = False, now: datetime | None = None
) -> User:
    """End every signed-in browser session of this person, and if asked every API token of theirs."""
    now = now or utcnow()
    user = session.get_one(User, user_id)
    user.session_version += 1
    revoked = 0
    if revoke_tokens:
        revoked = session.execute(
            update(ApiToken)
            .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=now)
        ).rowcount
    events.record(
        session,
        "user.signed_out_everywhere",
        actor_id=user.id,
        subject=f"user:{user.id}",
        payload={"tokens_revoked": revoked},
        now=now,
    )
    return user


def purge_sign_in_attempts(session: Session, *, now: datetime | None = None) -> int:
    """Forget sign-in attempts older than a day; they only matter for a few minutes."""
    cutoff = (now or utcnow()) - timedelta(days=1)
    result = session.execute(delete(SignInAttempt).where(SignInAttempt.created_at < cutoff))
    return result.rowcount


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
