"""Small helpers every page uses: safe redirects and reading a page number."""

from urllib.parse import urlsplit

from flask import request
from marshmallow import EXCLUDE, Schema


def safe_next(target: str | None) -> str | None:
    """A redirect target only if it stays on this site (a path, never another host)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


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
