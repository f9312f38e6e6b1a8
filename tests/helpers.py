"""What tests do the way a browser or an API client would."""

import re

from flask.testing import FlaskClient

_CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def csrf_token(client: FlaskClient) -> str:
    page = client.get("/sign-in").get_data(as_text=True)
    return _CSRF.search(page).group(1)


def post_form(client: FlaskClient, url: str, data: dict | None = None, **kwargs):
    """Submit a form the way a browser does, with the page's CSRF token."""
    return client.post(url, data={"csrf_token": csrf_token(client), **(data or {})}, **kwargs)


def sign_in(client: FlaskClient, user, organisation=None, language: str = "zh_CN") -> None:
    """Start a browser session for `user` acting for `organisation` (no password round trip)."""
    with client.session_transaction() as browser:
        browser["_user_id"] = user.get_id()
        browser["_fresh"] = True
        browser["language"] = language
        if organisation is not None:
            browser["organisation_id"] = organisation.id


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def ledger_problems(session) -> list:
    """What `flask ledger check` finds, seen from the test's session (it runs in the app's context, where
    each domain that holds money says what its accounts should hold)."""
    from app.orders.cli import problems

    with session.info["app"].app_context():
        return problems(session)
