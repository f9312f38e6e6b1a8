"""Listings in and out of spreadsheets (CSV and Excel): every bad row named with its reason, then all or
nothing. Exporting gives the same columns, so a seller can export, edit and import again: a row with an id
updates that listing, a row without one adds a listing.

A file is read when it is uploaded; its rows are checked in chunks (in the request for a small file, by the
scheduler for a large one, so the page can show progress); importing is one transaction.
"""

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import gettext as _
from marshmallow import Schema, ValidationError, fields, validate
from openpyxl import Workbook, load_workbook
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from app import events
from app.catalog.models import (
    ImportStatus,
    Listing,
    ListingImport,
    ListingImportRow,
    ListingSearch,
    ListingStatus,
    StockKind,
    StockMovement,
    visible_kinds,
)
from app.catalog.references import References
from app.catalog.schemas import MAX_QUANTITY, PRICE_RANGE, Yuan
from app.catalog.services import expiry, new_listing, own_listing, search_document
from app.db import utcnow
from app.errors import DomainError, RuleViolation
from app.i18n import translate_validation_messages

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_ROWS = 20_000
CHECK_IN_REQUEST = (
    300  # rows; a larger file is checked by the scheduler while the page shows progress
)
CHUNK = 500


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
EXAMPLE_ROW = [
    "", "meitan_cuiya", "一级", "", "湄潭翠芽 一级 明前", "kg", "680.00", "50", "2", "500克袋装",
    "2026-04-02", "540", "兴隆镇", "龙凤村", "否", "是", "是", "520328-2026-0001", "", "active",
    "清明前采摘，一芽一叶初展。",
]  # fmt: skip
_HEADERS = {
    name: column.key for column in COLUMNS for name in (column.key, column.label_zh, column.header)
}
_REQUIRED = ("product", "grade", "price_yuan", "quantity")
_YES = {"是", "有", "yes", "y", "true", "1", "✓", "√"}
_NO = {"否", "无", "no", "n", "false", "0", ""}
_KINDS = {
    "school": "school",
    "学校": "school",
    "supermarket": "supermarket",
    "超市": "supermarket",
    "trader": "trader",
    "茶商": "trader",
    "贸易商": "trader",
}
_STATUSES = {
    "active": "active",
    "上架": "active",
    "在售": "active",
    "draft": "draft",
    "草稿": "draft",
    "paused": "paused",
    "暂停": "paused",
    "下架": "paused",
}


class _SheetBool(fields.Field):
    def _deserialize(self, value, attr, data, **kwargs) -> bool:
        text = str(value).strip().lower()
        if text in _YES or text in _NO:
            return text in _YES
        raise ValidationError(_("Write 是 or 否 (yes or no)."))


class _SheetDate(fields.Field):
    def _deserialize(self, value, attr, data, **kwargs) -> date:
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value).strip().replace("/", "-"))
        except ValueError as error:
            raise ValidationError(_("Write the date as 2026-04-12.")) from error


class _Choices(fields.Field):
    """One word from a list, in English or Chinese."""

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


class ImportRowSchema(Schema):
    """One spreadsheet row; the same rules as the listing form, in a spreadsheet's words."""

    id = fields.Integer(load_default=None, validate=validate.Range(min=1))
    product = fields.String(load_default="", validate=validate.Length(max=40))
    grade = fields.String(required=True, validate=validate.Length(min=1, max=20))
    batch = fields.String(load_default=None, validate=validate.Length(max=40))
    title = fields.String(load_default="", validate=validate.Length(max=120))
    unit = fields.String(load_default=None, validate=validate.Length(max=20))
    price_yuan = Yuan(required=True, validate=PRICE_RANGE)
    quantity = fields.Integer(required=True, validate=validate.Range(min=0, max=MAX_QUANTITY))
    min_order = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_QUANTITY))
    packaging = fields.String(load_default="", validate=validate.Length(max=100))
    production_date = _SheetDate(load_default=None)
    shelf_life_days = fields.Integer(load_default=None, validate=validate.Range(min=1, max=3650))
    town = fields.String(load_default="", validate=validate.Length(max=60))
    village = fields.String(load_default="", validate=validate.Length(max=60))
    organic = _SheetBool(load_default=False)
    green_food = _SheetBool(load_default=False)
    geographical_indication = _SheetBool(load_default=False)
    commitment_certificate = fields.String(load_default="", validate=validate.Length(max=40))
    visible_to = _Choices(_KINDS, many=True, load_default=list)
    status = _Choices(_STATUSES, load_default="active")
    description = fields.String(load_default="", validate=validate.Length(max=2000))


# --- reading a file ------------------------------------------------------------------------------


def start_import(
    session: Session,
    *,
    organisation_id: int,
    actor_id: int,
    filename: str,
    data: bytes,
    now: datetime | None = None,
) -> ListingImport:
    """Read an uploaded CSV or Excel file into rows waiting to be checked; a file we cannot read is refused."""
    if len(data) > MAX_FILE_BYTES:
        raise RuleViolation(
            _("The file is larger than 10 MB; split it into several."), field="file"
        )
    rows = list(_read_rows(filename, data))
    if not rows:
        raise RuleViolation(_("The file has a header row but no listings under it."), field="file")
    if len(rows) > MAX_ROWS:
        raise RuleViolation(
            _(
                "The file has %(n)d rows; import at most %(max)d at a time.",
                n=len(rows),
                max=MAX_ROWS,
            ),
            field="file",
        )
    job = ListingImport(
        organisation_id=organisation_id,
        actor_id=actor_id,
        filename=filename[:200],
        total_rows=len(rows),
        created_at=now or utcnow(),
    )
    session.add(job)
    session.flush()  # the rows name their import
    session.execute(
        insert(ListingImportRow),
        [{"import_id": job.id, "row_number": number, "typed": typed} for number, typed in rows],
    )
    return job


def _read_rows(filename: str, data: bytes) -> Iterator[tuple[int, dict]]:
    """(row number, {column key: what was typed}) for every non-empty row under the header."""
    table = _xlsx_rows(data) if data[:2] == b"PK" else _csv_rows(data)
    header = next(table, None)
    if header is None:
        raise RuleViolation(_("The file is empty."), field="file")
    keys = _columns(header)
    for number, cells in enumerate(table, start=2):
        typed = {key: _plain(cell) for key, cell in zip(keys, cells, strict=False) if key}
        typed = {
            key: value for key, value in typed.items() if value != ""
        }  # an empty cell is not given
        if typed:
            yield number, typed


def _csv_rows(data: bytes) -> Iterator[list]:
    for encoding in (
        "utf-8-sig",
        "gb18030",
    ):  # Excel in China saves CSV as GB18030 unless told otherwise
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise RuleViolation(
            _("This file is neither a CSV file in UTF-8 or GB18030 nor an Excel file."),
            field="file",
        )
    return iter(csv.reader(io.StringIO(text)))


def _xlsx_rows(data: bytes) -> Iterator[tuple]:
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a damaged file
        raise RuleViolation(
            _("This Excel file cannot be opened; save it again as .xlsx."), field="file"
        ) from error
    return workbook.worksheets[0].iter_rows(values_only=True)


def _columns(header) -> list[str | None]:
    keys = [_HEADERS.get(str(cell or "").strip()) for cell in header]
    missing = [key for key in _REQUIRED if key not in keys]
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


def _plain(cell):
    """A cell as the schema reads it: dates stay dates, whole numbers lose their '.0', the rest is text."""
    if isinstance(cell, datetime | date):
        return cell.isoformat()[:10]
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return "" if cell is None else str(cell).strip()


# --- checking rows -------------------------------------------------------------------------------


def check_rows(
    session: Session, *, import_id: int, limit: int = CHUNK, now: datetime | None = None
) -> bool:
    """Check the next `limit` rows of an import; returns True once every row is checked."""
    now = now or utcnow()
    job = session.get(ListingImport, import_id, with_for_update=True)
    if job is None or job.status != ImportStatus.checking:
        return True
    rows = session.scalars(
        select(ListingImportRow)
        .where(ListingImportRow.import_id == job.id, ListingImportRow.checked.is_(False))
        .order_by(ListingImportRow.row_number)
        .limit(limit)
    ).all()
    references = References(session, job.organisation_id)
    for row in rows:
        _check(session, references, job, row, now)
    job.checked_rows += len(rows)
    job.bad_rows += sum(1 for row in rows if row.errors)
    if job.checked_rows >= job.total_rows:
        job.status = ImportStatus.invalid if job.bad_rows else ImportStatus.ready
        job.finished_at = now
        return True
    return False


def _check(
    session: Session, references: References, job: ListingImport, row: ListingImportRow, now
) -> None:
    row.checked = True
    try:
        typed = ImportRowSchema().load(row.typed)
        row.listing_id, row.values = _values(session, references, job.organisation_id, typed, now)
    except ValidationError as error:
        messages = translate_validation_messages(error.messages)
        row.errors = {field: " ".join(map(str, problems)) for field, problems in messages.items()}
    except DomainError as error:
        row.errors = {error.field or "row": error.message}


def _values(
    session: Session, references: References, organisation_id: int, typed: dict, now: datetime
):
    """The listing this row would create or become, as plain values ready to import."""
    listing_id, status = typed.pop("id"), typed.pop("status")
    typed["price_fen"] = typed.pop("price_yuan")
    if listing_id is not None:
        current = own_listing(session, organisation_id, listing_id)
        typed["product"] = typed["product"] or current.product.code
        if typed["product"] != current.product.code:
            raise RuleViolation(
                _("A listing keeps its product; add a new row without an id instead."),
                field="product",
            )
    elif not typed["product"]:
        raise RuleViolation(_("Missing data for required field."), field="product")
    listing = new_listing(references, organisation_id=organisation_id, now=now, **typed)
    columns = {
        column.key: getattr(listing, column.key)
        for column in Listing.__table__.columns
        if column.key in _STAGED
    }
    columns.update(  # a listing not yet saved knows what it refers to only through its relationships
        product_id=listing.product.id,
        grade_id=listing.grade.id,
        unit_code=listing.unit.code,
        batch_id=listing.batch.id if listing.batch else None,
        production_date=listing.production_date.isoformat() if listing.production_date else None,
    )
    return listing_id, {**columns, "status": status, "document": search_document(listing)}


_STAGED = frozenset(
    {
        "organisation_id",
        "product_id",
        "category_id",
        "grade_id",
        "batch_id",
        "title",
        "description",
        "unit_code",
        "price_fen",
        "price_per_kg_fen",
        "quantity",
        "min_order",
        "packaging",
        "production_date",
        "shelf_life_days",
        "town",
        "village",
        "organic",
        "green_food",
        "geographical_indication",
        "commitment_certificate",
        "visible_to",
    }
)


# --- importing -----------------------------------------------------------------------------------


def apply_import(
    session: Session,
    *,
    organisation_id: int,
    actor_id: int,
    import_id: int,
    now: datetime | None = None,
) -> ListingImport:
    """Import every row of a checked file in one go: all of them, or none if anything goes wrong."""
    now = now or utcnow()
    job = session.get(ListingImport, import_id, with_for_update=True)
    if job is None or job.organisation_id != organisation_id:
        raise RuleViolation(_("That import does not exist."))
    if job.status != ImportStatus.ready:
        raise RuleViolation(
            _("Only a file whose every row is fine can be imported."), field="status"
        )
    rows = session.scalars(
        select(ListingImportRow)
        .where(ListingImportRow.import_id == job.id)
        .order_by(ListingImportRow.row_number)
    ).all()
    job.created_count = _create_all(
        session, [row.values for row in rows if row.listing_id is None], actor_id, now
    )
    for row in rows:
        if row.listing_id is not None:
            _update_one(session, organisation_id, actor_id, row.listing_id, row.values, now)
    job.updated_count = sum(1 for row in rows if row.listing_id is not None)
    job.status, job.finished_at = ImportStatus.done, now
    session.execute(delete(ListingImportRow).where(ListingImportRow.import_id == job.id))
    events.record(
        session,
        "listing.imported",
        organisation_id=organisation_id,
        actor_id=actor_id,
        subject=f"listing_import:{job.id}",
        now=now,
        payload={"created": job.created_count, "updated": job.updated_count, "file": job.filename},
    )
    return job


def _create_all(session: Session, staged: list[dict], actor_id: int, now: datetime) -> int:
    """New listings in a few statements, however many rows: thousands import in about a second."""
    if not staged:
        return 0
    listings = [_listing_row(values, now) for values in staged]
    ids = session.scalars(
        insert(Listing).returning(Listing.id, sort_by_parameter_order=True), listings
    ).all()
    session.execute(
        insert(ListingSearch),
        [
            {"listing_id": listing_id, "document": values["document"]}
            for listing_id, values in zip(ids, staged, strict=True)
        ],
    )
    session.execute(
        insert(StockMovement),
        [
            {
                "listing_id": listing_id,
                "kind": StockKind.imported,
                "delta": row["quantity"],
                "balance": row["quantity"],
                "reason": _("Imported from a spreadsheet"),
                "actor_id": actor_id,
                "created_at": now,
            }
            for listing_id, row in zip(ids, listings, strict=True)
        ],
    )
    for listing_id, row in zip(ids, listings, strict=True):
        if row["status"] == ListingStatus.active:
            events.record(
                session,
                "listing.published",
                organisation_id=row["organisation_id"],
                actor_id=actor_id,
                subject=f"listing:{listing_id}",
                payload={"title": row["title"], "imported": True},
                now=now,
            )
    return len(ids)


def _listing_row(values: dict, now: datetime) -> dict:
    row = {key: value for key, value in values.items() if key != "document"}
    row["production_date"] = (
        date.fromisoformat(row["production_date"]) if row["production_date"] else None
    )
    row["expires_at"] = expiry(row["production_date"], row["shelf_life_days"])
    if row["status"] == "active" and row["quantity"] == 0:
        row["status"] = ListingStatus.sold_out
    row.update(
        created_at=now, updated_at=now, published_at=now if row["status"] != "draft" else None
    )
    return row


def _update_one(
    session: Session, organisation_id: int, actor_id: int, listing_id: int, values: dict, now
) -> None:
    listing = own_listing(session, organisation_id, listing_id, lock=True)
    change = values["quantity"] - listing.quantity
    for key in _STAGED - {"organisation_id", "product_id", "category_id", "quantity"}:
        setattr(listing, key, values[key])
    listing.production_date = (
        date.fromisoformat(values["production_date"]) if values["production_date"] else None
    )
    listing.expires_at = expiry(listing.production_date, listing.shelf_life_days)
    listing.quantity = values["quantity"]
    if change:
        session.add(
            StockMovement(
                listing_id=listing.id,
                kind=StockKind.imported,
                delta=change,
                balance=listing.quantity,
                reason=_("Imported from a spreadsheet"),
                actor_id=actor_id,
                created_at=now,
            )
        )
    _set_status(listing, values["status"], now)
    session.get(ListingSearch, listing.id).document = values["document"]
    events.record(
        session,
        "listing.updated",
        organisation_id=organisation_id,
        actor_id=actor_id,
        subject=f"listing:{listing.id}",
        payload={"imported": True},
        now=now,
    )


def _set_status(listing: Listing, wanted: str, now: datetime) -> None:
    if wanted == "paused" and listing.status in (ListingStatus.active, ListingStatus.sold_out):
        listing.pause()
    elif wanted == "active" and listing.status in (
        ListingStatus.draft,
        ListingStatus.paused,
        ListingStatus.expired,
    ):
        listing.publish(now)
    else:
        listing.settle_status(now)


def pending_imports(session: Session) -> list[int]:
    """Imports the scheduler still has rows to check for."""
    query = select(ListingImport.id).where(ListingImport.status == ImportStatus.checking)
    return list(session.scalars(query.order_by(ListingImport.id)))


def bad_rows(session: Session, import_id: int, *, limit: int = 500) -> list[ListingImportRow]:
    query = (
        select(ListingImportRow)
        .where(ListingImportRow.import_id == import_id, ListingImportRow.errors.is_not(None))
        .order_by(ListingImportRow.row_number)
        .limit(limit)
    )
    return list(session.scalars(query))


def preview_rows(session: Session, import_id: int, *, limit: int = 100) -> list[ListingImportRow]:
    query = (
        select(ListingImportRow)
        .where(ListingImportRow.import_id == import_id)
        .order_by(ListingImportRow.row_number)
        .limit(limit)
    )
    return list(session.scalars(query))


def count_rows(session: Session, import_id: int) -> int:
    return session.scalar(select(func.count()).where(ListingImportRow.import_id == import_id)) or 0


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
            f"{listing.price_fen / 100:.2f}",
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


def to_csv(rows: Iterator[list]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode("utf-8-sig")  # the BOM lets Excel in China open it as UTF-8


def to_xlsx(rows: Iterator[list]) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("listings")
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
