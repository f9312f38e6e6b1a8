"""How errors reach people and systems: in their language, with a request id, never a bare traceback."""

import logging

import pytest
from flask import Blueprint
from sqlalchemy.exc import IntegrityError

from app import create_app
from app.auth import PUBLIC, requires
from config import TestConfig


@pytest.fixture
def failing_app(database_url):
    app = create_app(TestConfig, {"DATABASE_URL": database_url})
    broken = Blueprint("broken", __name__)

    @broken.get("/broken")
    @broken.get("/api/v1/broken")
    @requires(PUBLIC)
    def explode():
        raise RuntimeError("a bug")

    app.register_blueprint(broken)
    return app


def test_an_unexpected_error_is_a_polite_page_with_the_request_id_that_was_logged(
    failing_app, caplog
):
    with caplog.at_level(logging.ERROR):
        response = failing_app.test_client().get("/broken", headers={"X-Request-ID": "abc123"})

    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "abc123" in page and "Traceback" not in page
    assert any("abc123" in record.getMessage() for record in caplog.records)


def test_an_unexpected_api_error_is_json_with_the_request_id(failing_app):
    response = failing_app.test_client().get("/api/v1/broken")

    body = response.get_json()
    assert response.status_code == 500
    assert body["type"] == "internal_error"
    assert body["request_id"] == response.headers["X-Request-ID"]


def test_an_unknown_api_path_is_a_json_404(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.get_json()["type"] == "not_found"


def test_pages_carry_security_headers_and_the_session_cookie_is_guarded(client):
    response = client.get("/sign-in")

    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_a_unique_clash_between_two_writers_is_a_409_not_a_500(failing_app):
    @failing_app.get("/api/v1/clash")
    @requires(PUBLIC)
    def clash():
        raise IntegrityError("INSERT ...", {}, Exception("duplicate key value"))

    response = failing_app.test_client().get("/api/v1/clash")

    assert response.status_code == 409
    assert response.get_json()["type"] == "conflict"
