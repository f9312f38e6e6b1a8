"""Spreadsheet files of listings, read and written: CSV (UTF-8 with or without a BOM, or GB18030 as Excel in
China saves it) and Excel .xlsx, with headers in Chinese, in English or both ("产品编码 (product)").

This module knows files, headers and cells, not the rules of a listing: it turns a file into numbered rows of
what was typed under each known column, lazily so a caller can stop early, and rows back into a file.
app/catalog/imports.py checks those rows and imports them.
"""

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import gettext as _
from marshmallow import ValidationError, fields
from openpyxl import Workbook, load_workbook

from app.catalog.models import Listing, visible_kinds
from app.errors import RuleViolation
from app.i18n import yuan_text


@dataclass(frozen=True)
class Column:
    key: str
    label_zh: str

    @property
    def header(self) -> str:
        return f"{self.label_zh} ({self.key})"


COLUMNS = (
    Column("id", "编号"),
    Column("product", "产品编码"),
    Column("grade", "等级"),
    Column("batch", "批次号"),
    Column("title", "标题"),
    Column("unit", "单位"),
    Column("price_yuan", "单价（元）"),
    Column("quantity", "库存"),
    # What an export saw, so that importing the file back changes stock only by what the seller changed
    # in it, whatever orders and adjustments did meanwhile.
    Column("stock_at_export", "导出时库存"),
    Column("min_order", "起订量"),
    Column("packaging", "包装"),
    Column("production_date", "生产日期"),
    Column("shelf_life_days", "保质期（天）"),
    Column("town", "乡镇"),
    Column("village", "村"),
    Column("organic", "有机"),
    Column("green_food", "绿色食品"),
    Column("geographical_indication", "地理标志"),
    Column("commitment_certificate", "承诺达标合格证编号"),
    Column("visible_to", "可见范围"),
    Column("status", "状态"),
    Column("description", "描述"),
)
HEADER = tuple(column.header for column in COLUMNS)
EXAMPLE_ROW = [
    "", "meitan_cuiya", "一级", "", "湄潭翠芽 一级 明前", "kg", "680.00", "50", "", "2", "500克袋装",
    "2026-04-02", "540", "兴隆镇", "龙凤村", "否", "是", "是", "520328-2026-0001", "", "active",
    "清明前采摘，一芽一叶初展。",
]  # fmt: skip
REQUIRED = ("product", "grade", "price_yuan", "quantity")

_HEADERS = {
    name: column.key for column in COLUMNS for name in (column.key, column.label_zh, column.header)
}
_YES = {"是", "有", "yes", "y", "true", "1", "✓", "√"}
_NO = {"否", "无", "no", "n", "false", "0", ""}


# --- reading a file ------------------------------------------------------------------------------


def read_rows(data: bytes) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number, {column key: what was typed}) for every non-empty row under the header.

    Rows are read one at a time, so a caller that stops early never holds the rest of the file; a file that
    cannot be read raises RuleViolation on the `file` field when its reading reaches the problem.
    """
    table = _xlsx_rows(data) if data[:2] == b"PK" else _csv_rows(data)
    header = next(table, None)
    if header is None:
        raise RuleViolation(_("The file is empty."), field="file")
    keys = _columns(header)
    for number, cells in enumerate(table, start=2):
        typed = {key: _plain(cell) for key, cell in zip(keys, cells, strict=False) if key}
        typed = {key: value for key, value in typed.items() if value != ""}  # empty is not given
        if typed:
            yield number, typed


def _csv_rows(data: bytes) -> Iterator[list[str]]:
    text = _decoded(data)
    if "\x00" in text:  # no spreadsheet writes one; a UTF-16 file read as UTF-8 is full of them
        raise _unreadable_csv(text.count("\n", 0, text.index("\x00")) + 1)
    reader = csv.reader(io.StringIO(text, newline=""))  # "" keeps old Mac files' \r line ends
    try:
        yield from reader
    except csv.Error as error:  # a cell past the csv module's field limit, mostly an unclosed quote
        raise _unreadable_csv(reader.line_num) from error


def _decoded(data: bytes) -> str:
    # Excel in China saves CSV as GB18030 unless told otherwise.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise RuleViolation(
        _("This file is neither a CSV file in UTF-8 or GB18030 nor an Excel file."), field="file"
    )


def _unreadable_csv(line: int) -> RuleViolation:
    return RuleViolation(
        _(
            "Line %(line)d of this CSV file cannot be read: a cell is far too long or holds a "
            "character no spreadsheet writes. Save the file again from Excel as CSV UTF-8 or as .xlsx.",
            line=line,
        ),
        field="file",
    )


def _xlsx_rows(data: bytes) -> Iterator[tuple]:
    # openpyxl raises many kinds of error for a damaged file, some only once the rows are read.
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
    except Exception as error:
        raise _unreadable_xlsx() from error
    try:
        yield from sheet.iter_rows(values_only=True)
    except Exception as error:
        raise _unreadable_xlsx() from error
    finally:
        workbook.close()


def _unreadable_xlsx() -> RuleViolation:
    return RuleViolation(
        _("This Excel file cannot be opened; save it again as .xlsx."), field="file"
    )


def _columns(header) -> list[str | None]:
    keys = [_HEADERS.get(str(cell or "").strip()) for cell in header]
    missing = [key for key in REQUIRED if key not in keys]
    if missing:
        names = "、".join(column.header for column in COLUMNS if column.key in missing)
        raise RuleViolation(
            _(
                "The header row lacks these columns: %(names)s. Start from the template.",
                names=names,
            ),
            field="file",
        )
    return keys


def _plain(cell) -> str:
    """A cell as the schema reads it: dates stay dates, whole numbers lose their '.0', the rest is text."""
    if isinstance(cell, datetime | date):
        return cell.isoformat()[:10]
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return "" if cell is None else str(cell).strip()


# --- cells in a spreadsheet's words --------------------------------------------------------------


class SheetBool(fields.Field):
    """是 or 否, as a spreadsheet says yes or no (an empty cell is no)."""

    def _deserialize(self, value, attr, data, **kwargs) -> bool:
        text = str(value).strip().lower()
        if text in _YES or text in _NO:
            return text in _YES
        raise ValidationError(_("Write 是 or 否 (yes or no)."))


class SheetDate(fields.Field):
    """A day as Excel keeps it or as people type it: 2026-04-12 or 2026/04/12."""

    def _deserialize(self, value, attr, data, **kwargs) -> date:
        try:
            day = value if isinstance(value, date) else _day(str(value))
        except ValueError as error:
            raise ValidationError(_("Write the date as 2026-04-12.")) from error
        return day.date() if isinstance(day, datetime) else day


def _day(text: str) -> date:
    return date.fromisoformat(text.strip().replace("/", "-"))


class Choices(fields.Field):
    """One word from a list (or several, with many=True), in English or Chinese."""

    def __init__(self, choices: dict[str, str], many: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.choices, self.many = choices, many

    def _deserialize(self, value, attr, data, **kwargs):
        words = [
            word.strip().lower()
            for word in str(value).replace("，", ",").replace("、", ",").split(",")
        ]
        words = [word for word in words if word]
        unknown = [word for word in words if word not in self.choices]
        if unknown or (not self.many and len(words) != 1):
            raise ValidationError(
                _("Use one of: %(choices)s.", choices="、".join(sorted(set(self.choices))))
            )
        found = [self.choices[word] for word in words]
        return found if self.many else found[0]


# --- writing a file ------------------------------------------------------------------------------


def to_csv(rows: Iterable[list]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode("utf-8-sig")  # the BOM lets Excel in China open it as UTF-8


def to_xlsx(rows: Iterable[list]) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("listings")
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- exporting -----------------------------------------------------------------------------------


def export_rows(listings: list[Listing]) -> Iterator[list]:
    """The header and one row per listing, in the columns an import reads back."""
    yield [column.header for column in COLUMNS]
    for listing in listings:
        visible = ",".join(visible_kinds(listing.visible_to))
        yield [
            listing.id,
            listing.product.code,
            listing.grade.name_zh,
            listing.batch.code if listing.batch else "",
            listing.title,
            listing.unit_code,
            yuan_text(listing.price_fen),
            listing.quantity,
            listing.quantity,
            listing.min_order,
            listing.packaging,
            listing.production_date.isoformat() if listing.production_date else "",
            listing.shelf_life_days or "",
            listing.town,
            listing.village,
            "是" if listing.organic else "否",
            "是" if listing.green_food else "否",
            "是" if listing.geographical_indication else "否",
            listing.commitment_certificate,
            visible,
            listing.status.value,
            listing.description,
        ]
