from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.accounts import people
from app.accounts.models import SignInAttempt
from app.auth import password_matches
from app.db import utcnow
from app.errors import RuleViolation, TooManyRequests
from app.events import Event
from tests.factories import (
    SignInAttemptFactory,
    UserFactory,
)
from tests.factories.accounts import PASSWORD


def test_a_correct_password_signs_in_and_is_recorded(session):
    user = UserFactory(phone="13908520001")

    outcome = people.attempt_sign_in(
        session, login="13908520001", password=PASSWORD, address="10.0.0.1"
    )

    assert outcome.user is user
    assert session.scalar(select(SignInAttempt.succeeded)) is True


def test_each_wrong_password_counts_down_the_tries_left(session):
    UserFactory(phone="13908520001")
    outcomes = [
        people.attempt_sign_in(session, login="13908520001", password="wrong", address="10.0.0.1")
        for _ in range(3)
    ]
    assert [o.failures_left for o in outcomes] == [4, 3, 2]
    assert all(o.user is None for o in outcomes)


def test_the_fifth_wrong_password_in_a_minute_pauses_sign_in(session):
    UserFactory(phone="13908520001")
    now = utcnow()
    for second in range(4):
        people.attempt_sign_in(
            session,
            login="13908520001",
            password="wrong",
            address="10.0.0.1",
            now=now + timedelta(seconds=second),
        )

    fifth = people.attempt_sign_in(
        session,
        login="13908520001",
        password="wrong",
        address="10.0.0.1",
        now=now + timedelta(seconds=4),
    )
    assert (
        fifth.lockout.retry_after == 56
    )  # until the first failure, at second 0, leaves the minute

    with pytest.raises(TooManyRequests) as paused:
        people.attempt_sign_in(
            session,
            login="13908520001",
            password=PASSWORD,
            address="10.0.0.1",
            now=now + timedelta(seconds=10),
        )
    assert paused.value.retry_after == 50
    assert paused.value.headers["Retry-After"] == "50"
    assert (
        session.scalar(
            select(func.count()).select_from(Event).where(Event.kind == "user.locked_out")
        )
        == 1
    )


def test_sign_in_opens_again_when_old_failures_leave_the_window(session):
    UserFactory(phone="13908520001")
    long_ago = utcnow() - timedelta(seconds=61)
    for _ in range(5):
        SignInAttemptFactory(login="13908520001", created_at=long_ago)

    outcome = people.attempt_sign_in(
        session, login="13908520001", password=PASSWORD, address="10.0.0.1"
    )

    assert outcome.user is not None


def test_many_failures_from_one_address_pause_it_across_accounts(session):
    for n in range(20):
        SignInAttemptFactory(login=f"1390852{n:04d}", address="10.9.9.9")
    with pytest.raises(TooManyRequests, match="network"):
        people.attempt_sign_in(session, login="13908520001", password="x", address="10.9.9.9")


def test_an_unknown_login_fails_like_a_wrong_password(session):
    outcome = people.attempt_sign_in(
        session, login="nobody@example.com", password="x", address="10.0.0.1"
    )
    assert outcome.user is None
    assert outcome.failures_left == 4


def test_changing_the_password_needs_the_current_one_and_ends_other_sessions(session):
    user = UserFactory()
    before = user.get_id()
    with pytest.raises(RuleViolation) as refused:
        people.change_password(
            session, user_id=user.id, current_password="wrong", new_password="brand new password"
        )
    assert refused.value.field == "current_password"

    people.change_password(
        session, user_id=user.id, current_password=PASSWORD, new_password="brand new password"
    )

    assert password_matches(user.password_hash, "brand new password")
    assert user.get_id() != before


def test_signing_out_everywhere_changes_the_session_id(session):
    user = UserFactory()
    before = user.get_id()
    people.sign_out_everywhere(session, user_id=user.id)
    assert user.get_id() != before


def test_purging_forgets_only_attempts_older_than_a_day(session):
    SignInAttemptFactory(created_at=utcnow() - timedelta(days=2))
    recent = SignInAttemptFactory()

    assert people.purge_sign_in_attempts(session) == 1
    assert session.scalars(select(SignInAttempt.id)).all() == [recent.id]


def test_signing_in_after_someone_guessed_tells_how_many_wrong_passwords_were_tried(session):
    UserFactory(phone="13908520001")
    now = utcnow()
    people.attempt_sign_in(
        session,
        login="13908520001",
        password=PASSWORD,
        address="10.0.0.1",
        now=now - timedelta(hours=2),
    )
    for minutes in (30, 20, 10):
        SignInAttemptFactory(login="13908520001", created_at=now - timedelta(minutes=minutes))

    warned = people.attempt_sign_in(
        session, login="13908520001", password=PASSWORD, address="10.0.0.1", now=now
    )
    quiet = people.attempt_sign_in(
        session,
        login="13908520001",
        password=PASSWORD,
        address="10.0.0.1",
        now=now + timedelta(seconds=1),
    )

    assert warned.failures_since_last_sign_in == 3
    assert quiet.failures_since_last_sign_in == 0
