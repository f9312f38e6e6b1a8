"""Small helpers every page uses: safe redirects and reading a page number."""

from datetime import date
from urllib.parse import urlsplit

import flask_smorest
from flask import request
from marshmallow import EXCLUDE, Schema, validate
from werkzeug.routing import BaseConverter, IntegerConverter, ValidationError

# Ids beyond what a database integer holds cannot exist: refuse them as input instead of failing on them.
LARGEST_ID = 2**63 - 1
ID_RANGE = validate.Range(min=1, max=LARGEST_ID)
PAGE_RANGE = validate.Range(min=1, max=100_000)


class IdConverter(IntegerConverter):
    """<int:...> in every route: a number too large for the database is simply not found (404)."""

    def __init__(self, map, *args, **kwargs) -> None:
        super().__init__(map, *args, **{**kwargs, "max": LARGEST_ID})


class DayConverter(BaseConverter):
    """<day:...> in a route: a calendar day written YYYY-MM-DD; anything else is not found (404)."""

    regex = r"\d{4}-\d{2}-\d{2}"

    def to_python(self, value: str) -> date:
        try:
            return date.fromisoformat(value)
        except ValueError as error:  # 2026-02-30
            raise ValidationError() from error

    def to_url(self, value: date) -> str:
        return value.isoformat()


class ApiBlueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint, with each argument schema built once, where its route is declared: given
    a class, webargs would build the schema (deep-copying its fields) again for every request."""

    def arguments(self, schema, *args, **kwargs):
        return super().arguments(schema() if isinstance(schema, type) else schema, *args, **kwargs)


def safe_next(target: str | None) -> str | None:
    """A redirect target only if it stays on this site (a path, never another host)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def id_from(text) -> int | None:
    """A row id typed or passed in a URL, or None when it is not one (only ASCII digits, in range)."""
    text = str(text or "").strip()
    if not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if 1 <= number <= LARGEST_ID else None


def back_url(default: str) -> str:
    """Where the person came from on this site, else `default`."""
    referrer = request.referrer or ""
    parts = urlsplit(referrer)
    if parts.netloc == request.host and parts.path:
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return default


def query_args(schema: Schema) -> dict:
    """A page's filters from the query string; empty inputs mean 'any', unknown ones are ignored."""
    given = {key: value for key, value in request.args.items() if value.strip() != ""}
    return schema.load(given, unknown=EXCLUDE)


def without(mapping: dict, *keys: str) -> dict:
    """A template filter: the query arguments minus some (a pager replaces `page`)."""
    return {key: value for key, value in mapping.items() if key not in keys}
