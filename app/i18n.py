"""Languages (zh_CN first, English second), and numbers and times shown the way a person reads them."""

import re
from datetime import datetime
from typing import Any

from flask import Flask, current_app, g, has_request_context, request, session
from flask_babel import Babel, format_datetime, get_locale
from flask_babel import gettext as _


def N_(message: str) -> str:
    """Mark a string for the catalog without translating it now."""
    return message


# marshmallow's own messages, so that a validation error reads in the person's language.
VALIDATION_MESSAGES = (
    N_("Missing data for required field."),
    N_("Field may not be null."),
    N_("Unknown field."),
    N_("Invalid input type."),
    N_("Invalid input."),
    N_("Invalid value."),
    N_("Invalid type."),
    N_("Not a valid string."),
    N_("Not a valid integer."),
    N_("Not a valid number."),
    N_("Not a valid boolean."),
    N_("Not a valid email address."),
    N_("Not a valid URL."),
    N_("Not a valid date."),
    N_("Not a valid datetime."),
    N_("Not a valid time."),
    N_("Not a valid list."),
    N_("Not a valid mapping type."),
    N_("Not a valid UUID."),
    N_("Number too large."),
    N_("Special numeric values (nan or infinity) are not permitted."),
    N_("String does not match expected pattern."),
    N_("Must be one of: {choices}."),
    N_("Length must be between {min} and {max}."),
    N_("Length must be {equal}."),
    N_("Shorter than minimum length {min}."),
    N_("Longer than maximum length {max}."),
    N_("Must be greater than or equal to {min} and less than or equal to {max}."),
    N_("Must be greater than or equal to {min}."),
    N_("Must be less than or equal to {max}."),
    N_("Must be greater than {min}."),
    N_("Must be less than {max}."),
)


def _template_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", template)
    regex = "".join(
        f"(?P<{part}>.+?)" if index % 2 else re.escape(part) for index, part in enumerate(parts)
    )
    return re.compile(regex)


_PARAMETERISED = [(t, _template_pattern(t)) for t in VALIDATION_MESSAGES if "{" in t]


def translate_message(message: str) -> str:
    """Translate one marshmallow message, including those it has already filled in (lengths, ranges)."""
    for template, pattern in _PARAMETERISED:
        match = pattern.fullmatch(message)
        if match:
            return _(template).format(**match.groupdict())
    return _(message)


def translate_validation_messages(messages: Any) -> Any:
    if isinstance(messages, dict):
        return {key: translate_validation_messages(value) for key, value in messages.items()}
    if isinstance(messages, list):
        return [translate_validation_messages(item) for item in messages]
    return translate_message(str(messages)) if isinstance(messages, str) else messages


def select_locale() -> str:
    """The chosen language: this request's (token users), the session's, else Chinese."""
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # commands and jobs speak the default language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    for choice in (g.get("language"), session.get("language")):
        if choice in languages:
            return choice
    if request.path.startswith("/api/"):
        return request.accept_languages.best_match(languages, default=languages[0])
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def current_language() -> str:
    """The language of this request, as the platform names it: "zh_CN" or "en"."""
    return "en" if get_locale().language == "en" else "zh_CN"


def html_lang() -> str:
    return "en" if current_language() == "en" else "zh-CN"


def money(fen: int | None, currency: str = "CNY") -> str:
    """Integer fen as a person reads it: ¥1,234.50 (grouped by thousands in Chinese and English alike)."""
    if fen is None:
        return "—"
    symbol = "¥" if currency == "CNY" else f"{currency} "
    sign, yuan, cents = _yuan_parts(fen)
    return f"{sign}{symbol}{yuan:,}.{cents:02d}"


def yuan_text(fen: int) -> str:
    """Integer fen as a yuan amount to type or read back: 1234.50 (a form's value, a spreadsheet cell)."""
    sign, yuan, cents = _yuan_parts(fen)
    return f"{sign}{yuan}.{cents:02d}"


def _yuan_parts(fen: int) -> tuple[str, int, int]:
    yuan, cents = divmod(abs(fen), 100)
    return ("-" if fen < 0 else ""), yuan, cents


def local_datetime(value: datetime | None, format: str = "medium") -> str:
    return format_datetime(value, format) if value else "—"


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=select_locale)
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["datetime"] = local_datetime
    app.jinja_env.globals.update(html_lang=html_lang, current_language=current_language)
