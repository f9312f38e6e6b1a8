"""Every visible string has its Chinese translation, with the same placeholders."""

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from app.i18n import money, translate_message

KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "lazy_gettext": None,
    "_l": None,
    "N_": None,
}
_PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w+\}")


def _extracted(root: Path) -> set[str]:
    found = set()
    methods = [("app/**.py", "python"), ("templates/**.html", "jinja2")]
    for _file, _line, message, _comments, _context in extract_from_dir(
        root, method_map=methods, keywords=KEYWORDS
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def _catalog(root: Path):
    with open(root / "translations/zh/LC_MESSAGES/messages.po", "rb") as po:
        return read_po(po, locale="zh")


def test_every_string_in_the_code_has_a_chinese_translation(project_root):
    catalog = _catalog(project_root)
    missing = []
    for msgid in sorted(_extracted(project_root)):
        entry = catalog.get(msgid)
        translated = (
            entry is not None
            and entry.string
            and all(entry.string if isinstance(entry.string, tuple) else [entry.string])
        )
        if not translated or entry.fuzzy:
            missing.append(msgid)
    assert missing == [], "run `make messages` and translate these in translations/zh"


def test_translations_keep_every_placeholder(project_root):
    broken = []
    for entry in _catalog(project_root):
        if not entry.id:
            continue
        source = entry.id[0] if isinstance(entry.id, tuple) else entry.id
        target = entry.string[0] if isinstance(entry.string, tuple) else entry.string
        if sorted(_PLACEHOLDER.findall(source)) != sorted(_PLACEHOLDER.findall(target)):
            broken.append(source)
    assert broken == []


def test_a_filled_in_validation_message_is_translated(app):
    with app.test_request_context():
        assert translate_message("Length must be between 1 and 60.") == "长度须在 1 到 60 之间。"
        assert translate_message("Missing data for required field.") == "此项必填。"
        assert translate_message("Something we never wrote.") == "Something we never wrote."


def test_money_is_shown_in_yuan_with_two_decimals(app):
    with app.test_request_context():
        assert money(123456) == "¥1,234.56"
        assert money(-5) == "-¥0.05"
        assert money(None) == "—"
