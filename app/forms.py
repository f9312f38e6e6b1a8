"""HTML forms validated by the same marshmallow schemas as the JSON API.

A view reads: form = Form(SomeSchema()); if form.validate_on_submit(): result = form.submit(lambda s: ...);
then renders the template with `form` and `form.status` (422 when a field needs correcting). A small form
inside a bigger page uses post_step, which says what happened on the page it redirects to.
"""

from collections.abc import Callable
from typing import Any

from flask import flash, request
from marshmallow import Schema, ValidationError, fields
from sqlalchemy.orm import Session

from app.db import transaction
from app.errors import DomainError
from app.i18n import translate_validation_messages

FORM_ERROR = "_form"
_PASSED_THROUGH = (401, 403, 404, 429)  # not about the form: the error page says it better


class Form:
    def __init__(self, schema: Schema, *, values: dict[str, Any] | None = None) -> None:
        self.schema = schema
        self.values: dict[str, Any] = dict(values or {})
        self.errors: dict[str, list[str]] = {}
        self.data: dict[str, Any] = {}

    @property
    def status(self) -> int:
        return 422 if self.errors else 200

    def validate_on_submit(self) -> bool:
        """On a POST, load the submitted fields; keep what was typed so the page can show it again."""
        if request.method != "POST":
            return False
        submitted = self._submitted_values()
        self.values.update(submitted)
        try:
            self.data = self.schema.load(submitted)
        except ValidationError as error:
            self.errors = _flatten(translate_validation_messages(error.messages))
            return False
        return True

    def submit(self, action: Callable[[Session], Any]) -> Any:
        """Run `action` in one transaction; a refusal about the input becomes an error on the form."""
        try:
            with transaction() as session:
                return action(session)
        except DomainError as error:
            if error.status in _PASSED_THROUGH:
                raise
            self.errors.setdefault(error.field or FORM_ERROR, []).append(error.message)
            return None

    def flash_problems(self) -> None:
        """Say what was wrong as messages on the next page (a one-button form, or a small form inside a
        page that shows many things, has no fields of its own to show them beside)."""
        for messages in self.errors.values():
            for problem in messages:
                flash(problem, "error")

    def _submitted_values(self) -> dict[str, Any]:
        # An empty input means "not given", so optional fields fall back to their defaults. Values are
        # passed on as typed: the schema decides what to trim (never a password).
        submitted: dict[str, Any] = {}
        for key in request.form:
            if key == "csrf_token":
                continue
            given = [value for value in request.form.getlist(key) if value.strip() != ""]
            if isinstance(self.schema.fields.get(key), fields.List):
                submitted[key] = given
            elif given:
                submitted[key] = given[-1]
        return submitted


def post_step(
    schema: Schema, action: Callable[[Session, dict], Any], told: Callable[[Any], str]
) -> Any:
    """A small form (or a lone button) posted from a page that shows many things: validate it, run
    `action(session, data)` in one transaction, and say on the next page what was done (`told(result)`)
    or what was wrong. The result, or None when it was refused."""
    form = Form(schema)
    done = None
    if form.validate_on_submit():
        done = form.submit(lambda session: action(session, dict(form.data)))
        if done is not None:
            flash(told(done), "success")
    form.flash_problems()
    return done


def _flatten(messages: dict) -> dict[str, list[str]]:
    flat: dict[str, list[str]] = {}
    for key, value in messages.items():
        name = FORM_ERROR if key == "_schema" else key
        if isinstance(
            value, dict
        ):  # a nested or list field: show its first problems under its name
            value = [message for nested in value.values() for message in _as_list(nested)]
        flat[name] = _as_list(value)
    return flat


def _as_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(item) for item in value]
    return [str(value)]
