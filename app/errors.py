"""Domain errors and how every error reaches a person (an HTML page) or a system (JSON).

Services raise a DomainError kind with a message a person can act on; entry points never catch them to
re-word them. JSON errors look like {"type": ..., "message": ..., "fields": {...}, "request_id": ...}.
"""

import logging
import uuid
from typing import Any

from flask import Flask, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import Schema, ValidationError
from marshmallow import fields as ma_fields
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from app.i18n import translate_validation_messages

log = logging.getLogger(__name__)


class DomainError(Exception):
    """A refusal the person can understand and act on."""

    status = 400
    type = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.headers = headers or {}

    def fields(self) -> dict[str, list[str]]:
        return {self.field: [self.message]} if self.field else {}


class NotSignedIn(DomainError):
    status = 401
    type = "not_signed_in"


class PermissionDenied(DomainError):
    status = 403
    type = "permission_denied"


class NotFound(DomainError):
    status = 404
    type = "not_found"


class Conflict(DomainError):
    status = 409
    type = "conflict"


class RuleViolation(DomainError):
    status = 422
    type = "rule_violation"


class TooManyRequests(DomainError):
    status = 429
    type = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


class ErrorSchema(Schema):
    """The shape of every JSON error (documented in OpenAPI)."""

    type = ma_fields.String(
        metadata={"description": "A stable code: validation_error, conflict, ..."}
    )
    message = ma_fields.String(
        metadata={"description": "What went wrong and what to do, for a person."}
    )
    field_errors = ma_fields.Dict(
        data_key="fields",
        keys=ma_fields.String(),
        values=ma_fields.List(ma_fields.String()),
        metadata={"description": "Per field, the rules the input broke."},
    )
    request_id = ma_fields.String(metadata={"description": "Quote it when reporting a problem."})


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def render_error(status: int, type_: str, message: str, fields: dict | None = None, headers=None):
    """Answer with JSON for systems and a page in the layout for people."""
    fields = fields or {}
    if wants_json():
        body = jsonify(type=type_, message=message, fields=fields, request_id=g.get("request_id"))
    else:
        body = render_template("errors/error.html", status=status, message=message, fields=fields)
    return body, status, headers or {}


def handle_domain_error(error: DomainError):
    if isinstance(error, NotSignedIn) and not wants_json():
        return redirect(url_for("accounts.sign_in", next=request.full_path.rstrip("?")))
    headers = dict(error.headers)
    if isinstance(error, NotSignedIn):
        headers["WWW-Authenticate"] = 'Bearer realm="agrilink"'
    return render_error(error.status, error.type, error.message, error.fields(), headers)


def handle_validation_error(error: ValidationError):
    return render_validation_failure(error.messages)


def render_validation_failure(messages: Any):
    fields = translate_validation_messages(
        messages if isinstance(messages, dict) else {"_schema": messages}
    )
    return render_error(422, "validation_error", _("Some fields need correcting."), fields)


def handle_http_exception(error: HTTPException):
    data = getattr(error, "data", None) or {}
    if error.code == 422 and "messages" in data:  # webargs parsing an API request
        return render_validation_failure(_without_locations(data["messages"]))
    if error.code and error.code >= 500:
        return handle_unexpected_error(error)
    return render_error(
        error.code or 500, _http_type(error), _http_message(error.code), {}, data.get("headers")
    )


def handle_integrity_error(error: IntegrityError):
    """Two requests wrote the same unique thing at once; the later one is told to look again."""
    log.warning("integrity error in request %s: %s", g.get("request_id"), error.orig)
    message = _(
        "Someone else saved the same thing at the same moment. Reload the page and try again."
    )
    return render_error(409, "conflict", message)


def handle_unexpected_error(error: Exception):
    log.exception("unexpected error in request %s", g.get("request_id"), exc_info=error)
    message = _(
        "Something went wrong on our side. We have logged it; please try again, and quote %(id)s "
        "if you contact us.",
        id=g.get("request_id", "-"),
    )
    return render_error(500, "internal_error", message)


def _without_locations(messages: dict) -> dict:
    """webargs nests errors by location ({"json": {...}}); a person only needs the fields."""
    merged: dict = {}
    for location_errors in messages.values():
        if isinstance(location_errors, dict):
            merged.update(location_errors)
    return merged


def _http_type(error: HTTPException) -> str:
    return (error.name or "error").lower().replace(" ", "_")


def _http_message(code: int | None) -> str:
    messages = {
        400: _("The request could not be understood. Please check it and try again."),
        404: _("We could not find that page or record."),
        405: _("That action is not available here."),
        413: _("The upload is too large."),
        415: _("That kind of content is not accepted here."),
    }
    return messages.get(code or 0, _("The request could not be completed."))


def assign_request_id() -> None:
    supplied = request.headers.get("X-Request-ID", "")
    g.request_id = supplied if supplied.isalnum() and len(supplied) <= 64 else uuid.uuid4().hex[:16]


def add_request_id_header(response):
    response.headers.setdefault("X-Request-ID", g.get("request_id", ""))
    return response


def init_app(app: Flask) -> None:
    app.before_request(assign_request_id)
    app.after_request(add_request_id_header)
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(ValidationError, handle_validation_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(IntegrityError, handle_integrity_error)
    app.register_error_handler(Exception, handle_unexpected_error)
