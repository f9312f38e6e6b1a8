"""Sellers' spreadsheet pages: upload, watch the rows being checked, import all or nothing, export."""

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import Schema
from sqlalchemy import select

from app.auth import SELLERS, current_actor, requires
from app.catalog import imports, queries, spreadsheets
from app.catalog.models import ListingImport
from app.db import get_session, transaction
from app.errors import NotFound
from app.forms import Form

bp = Blueprint("imports", __name__, url_prefix="/selling")

_FORMATS = {
    "csv": ("text/csv; charset=utf-8", spreadsheets.to_csv),
    "xlsx": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        spreadsheets.to_xlsx,
    ),
}


@bp.route("/import", methods=["GET", "POST"])
@requires(SELLERS)
def upload():
    """Upload a CSV or Excel file of listings; small files are checked at once, large ones in the background."""
    actor = current_actor()
    form = Form(Schema())  # the file is the only input: its rows are checked one by one afterwards
    if request.method == "POST":
        file = request.files.get("file")
        if file is None or not file.filename:
            form.errors["file"] = [_("Choose a CSV or Excel file.")]
        else:
            job = form.submit(
                lambda s: imports.start_import(
                    s,
                    organisation_id=actor.organisation_id,
                    actor_id=actor.user_id,
                    filename=file.filename,
                    data=file.read(imports.MAX_FILE_BYTES + 1),  # enough to refuse a larger one
                )
            )
            if job is not None:
                _check_small_file(job)
                return redirect(url_for("imports.status", import_id=job.id))
    recent = (
        get_session()
        .scalars(
            select(ListingImport)
            .where(ListingImport.organisation_id == actor.organisation_id)
            .order_by(ListingImport.id.desc())
            .limit(10)
        )
        .all()
    )
    return render_template(
        "catalog/import.html", form=form, recent=recent, columns=spreadsheets.COLUMNS
    ), form.status


def _check_small_file(job: ListingImport) -> None:
    if job.total_rows <= imports.CHECK_IN_REQUEST:
        with transaction() as write:
            imports.check_rows(write, import_id=job.id, limit=imports.CHECK_IN_REQUEST)


@bp.get("/import/<int:import_id>")
@requires(SELLERS)
def status(import_id: int):
    """An import's progress, then its preview: every bad row with its reason, or the button to import."""
    reads = get_session()
    job = _own_import(import_id)
    return render_template(
        "catalog/import_status.html",
        job=job,
        bad=queries.bad_rows(reads, job.id),
        preview=queries.preview_rows(reads, job.id),
        columns=spreadsheets.COLUMNS,
    )


@bp.get("/import/<int:import_id>/progress")
@requires(SELLERS)
def progress(import_id: int):
    """How far the checking has come, for the page's progress bar."""
    job = _own_import(import_id)
    return {
        "status": job.status.value,
        "checked": job.checked_rows,
        "total": job.total_rows,
        "bad": job.bad_rows,
        "percent": job.progress,
    }


@bp.post("/import/<int:import_id>/apply")
@requires(SELLERS)
def apply(import_id: int):
    """Import every row of a checked file, all or nothing."""
    actor = current_actor()
    _own_import(import_id)
    with transaction() as write:
        job = imports.apply_import(
            write,
            organisation_id=actor.organisation_id,
            actor_id=actor.user_id,
            import_id=import_id,
        )
    flash(
        _(
            "Imported: %(created)d new listings, %(updated)d updated.",
            created=job.created_count,
            updated=job.updated_count,
        ),
        "success",
    )
    return redirect(url_for("selling.listings"))


@bp.get("/export.<fmt>")
@requires(SELLERS)
def export(fmt: str):
    """Every listing of this seller, in the columns an import reads back."""
    if fmt not in _FORMATS:
        raise NotFound(_("Export as csv or xlsx."))
    listings = queries.all_seller_listings(get_session(), current_actor().organisation_id)
    return _download(spreadsheets.export_rows(listings), fmt, "listings")


@bp.get("/import/template.<fmt>")
@requires(SELLERS)
def template(fmt: str):
    """An empty file with the right columns and one example row."""
    if fmt not in _FORMATS:
        raise NotFound(_("Download the template as csv or xlsx."))
    return _download([spreadsheets.HEADER, spreadsheets.EXAMPLE_ROW], fmt, "template")


def _download(rows, fmt: str, name: str) -> Response:
    mimetype, encode = _FORMATS[fmt]
    response = Response(encode(rows), mimetype=mimetype)
    response.headers["Content-Disposition"] = f"attachment; filename=agrilink-{name}.{fmt}"
    return response


def _own_import(import_id: int) -> ListingImport:
    job = get_session().get(ListingImport, import_id)
    if job is None or job.organisation_id != current_actor().organisation_id:
        raise NotFound(_("That import does not exist."))
    return job


@bp.app_template_global()
def column_header(key: str) -> str:
    """A spreadsheet column as its header reads (产品编码 (product)); "row" for a problem with the whole row."""
    return next((column.header for column in spreadsheets.COLUMNS if column.key == key), key)
