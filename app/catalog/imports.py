"""Listings in and out of spreadsheets: every bad row named with its reason, then all or nothing. Exporting
gives the same columns, so a seller can export, edit and import again: a row with an id updates that listing,
a row without one adds a listing.

A file is read when it is uploaded (app/catalog/spreadsheets.py reads and writes the files); its rows are
checked in chunks (in the request for a small file, by the scheduler for a large one, so the page can show
progress); importing is one transaction.
"""

import logging
from datetime import date, datetime
from itertools import islice

from flask_babel import gettext as _
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import delete, insert, select
from sqlalchemy.exc import SQLAlchemyError
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
)
from app.catalog.references import References
from app.catalog.schemas import MAX_QUANTITY, PRICE_RANGE, PRODUCTION_DATES, Yuan
from app.catalog.services import (
    expiry,
    new_listing,
    note_price_change,
    own_listing,
    search_document,
)
from app.catalog.spreadsheets import Choices, SheetBool, SheetDate, read_rows
from app.db import utcnow
from app.errors import Conflict, DomainError, RuleViolation
from app.i18n import translate_validation_messages
from app.web import ID_RANGE

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_ROWS = 20_000
# Rows checked while the seller waits; a larger file is checked by the scheduler as the page shows progress.
CHECK_IN_REQUEST = 300
CHUNK = 500

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
    "sold_out": "sold_out",
    "售罄": "sold_out",
    "expired": "expired",
    "已过期": "expired",
}
# Statuses the platform sets from stock and dates, as an export writes them: on a row they keep the
# listing's current status, so an exported file imports back unchanged.
_KEPT = frozenset({ListingStatus.sold_out.value, ListingStatus.expired.value})


class ImportRowSchema(Schema):
    """One spreadsheet row; the same rules as the listing form, in a spreadsheet's words."""

    id = fields.Integer(load_default=None, validate=ID_RANGE)
    product = fields.String(load_default="", validate=validate.Length(max=40))
    grade = fields.String(required=True, validate=validate.Length(min=1, max=20))
    batch = fields.String(load_default=None, validate=validate.Length(max=40))
    title = fields.String(load_default="", validate=validate.Length(max=120))
    unit = fields.String(load_default=None, validate=validate.Length(max=20))
    price_yuan = Yuan(required=True, validate=PRICE_RANGE)
    quantity = fields.Integer(required=True, validate=validate.Range(min=0, max=MAX_QUANTITY))
    stock_at_export = fields.Integer(
        load_default=None, validate=validate.Range(min=0, max=MAX_QUANTITY)
    )
    min_order = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_QUANTITY))
    packaging = fields.String(load_default="", validate=validate.Length(max=100))
    production_date = SheetDate(load_default=None, validate=PRODUCTION_DATES)
    shelf_life_days = fields.Integer(load_default=None, validate=validate.Range(min=1, max=3650))
    town = fields.String(load_default="", validate=validate.Length(max=60))
    village = fields.String(load_default="", validate=validate.Length(max=60))
    organic = SheetBool(load_default=False)
    green_food = SheetBool(load_default=False)
    geographical_indication = SheetBool(load_default=False)
    commitment_certificate = fields.String(load_default="", validate=validate.Length(max=40))
    visible_to = Choices(_KINDS, many=True, load_default=list)
    status = Choices(_STATUSES, load_default="active")
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
    rows = list(islice(read_rows(data), MAX_ROWS + 1))  # one too many is enough to refuse the file
    if not rows:
        raise RuleViolation(_("The file has a header row but no listings under it."), field="file")
    if len(rows) > MAX_ROWS:
        raise RuleViolation(
            _(
                "The file has more than %(max)d rows; import at most %(max)d at a time.",
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
    except SQLAlchemyError:
        raise  # the database refused, not the row: its transaction cannot go on, so the chunk fails whole
    except Exception:
        # A fault one row runs into must not hide what the other rows need; the log keeps it for us.
        log.exception("import %s: row %s could not be checked", job.id, row.row_number)
        row.errors = {
            "row": _(
                "This row could not be checked because of a fault on our side, which we have logged. "
                "Leave the row out, or upload the file again later."
            )
        }


def _values(
    session: Session, references: References, organisation_id: int, typed: dict, now: datetime
) -> tuple[int | None, dict]:
    """The listing this row would create or become, as plain values ready to import."""
    listing_id, status = typed.pop("id"), typed.pop("status")
    typed["price_fen"] = typed.pop("price_yuan")
    stock_at_export = typed.pop("stock_at_export")
    stock_base = None
    if listing_id is not None:
        current = own_listing(session, organisation_id, listing_id)
        typed["product"] = _product_kept(current, typed["product"])
        # The stock the file's number was written against: the export's, or else what there is now.
        stock_base = current.quantity if stock_at_export is None else stock_at_export
    elif status in _KEPT:
        raise RuleViolation(
            _(
                "Sold out and expired describe a listing already on sale here; for a new listing "
                "write active, paused or draft."
            ),
            field="status",
        )
    elif not typed["product"]:
        raise RuleViolation(_("Missing data for required field."), field="product")
    listing = new_listing(references, organisation_id=organisation_id, now=now, **typed)
    if status == ListingStatus.active:
        # The listing form's rule, in its words: produce past its shelf life is not put on sale.
        listing.publish(now)
    staged = {**_staged(listing), "status": status, "document": search_document(listing)}
    return listing_id, {**staged, "stock_base": stock_base}


def _product_kept(listing: Listing, product: str) -> str:
    """The product of the listing a row updates: an empty cell keeps it, another product is refused."""
    if product and product != listing.product.code:
        raise RuleViolation(
            _("A listing keeps its product; add a new row without an id instead."),
            field="product",
        )
    return listing.product.code


def _staged(listing: Listing) -> dict:
    """A listing not yet saved as the plain values an import row keeps until it is imported."""
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
    return columns


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
    row = {key: value for key, value in values.items() if key not in ("document", "stock_base")}
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
    # Stock moves by what the seller changed in the file, on top of whatever orders and adjustments did
    # since it was exported: a file imported back unchanged never undoes a sale.
    change = values["quantity"] - values["stock_base"]
    if listing.quantity + change < 0:
        raise Conflict(
            _(
                "Listing %(id)d has %(now)d in stock now; the file takes away %(taken)d. Export the "
                "listings again and redo this change.",
                id=listing.id,
                now=listing.quantity,
                taken=-change,
            )
        )
    price_before = listing.price_fen
    for key in _STAGED - {"organisation_id", "product_id", "category_id", "quantity"}:
        setattr(listing, key, values[key])
    note_price_change(session, listing, price_before, now)
    listing.production_date = (
        date.fromisoformat(values["production_date"]) if values["production_date"] else None
    )
    listing.expires_at = expiry(listing.production_date, listing.shelf_life_days)
    listing.quantity += change
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
    """Pause or put on sale as the row asks; any other status keeps the listing's, true to stock and date."""
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


def fail_import(session: Session, *, import_id: int, now: datetime | None = None) -> None:
    """Give up an import that could not be checked: its page says it failed, and nothing is imported."""
    job = session.get(ListingImport, import_id, with_for_update=True)
    if job is not None and job.status == ImportStatus.checking:
        job.status, job.finished_at = ImportStatus.failed, now or utcnow()
