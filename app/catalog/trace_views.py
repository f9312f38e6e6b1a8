"""Public trace pages (/t/<code>), the QR codes that lead to them, and printable labels."""

from flask import Blueprint, Response, render_template, url_for
from flask_babel import gettext as _

from app.auth import PUBLIC, current_actor, requires
from app.catalog import queries
from app.catalog.models import CERTIFICATIONS, Batch
from app.catalog.qr import qr_png, qr_svg
from app.db import get_session, utcnow
from app.errors import NotFound

bp = Blueprint("trace", __name__, url_prefix="/t")


def _batch(code: str) -> Batch:
    batch = queries.batch_by_code(get_session(), code.upper())
    if batch is None:
        raise NotFound(_("No batch has the code %(code)s. Check the code on the label.", code=code))
    return batch


@bp.get("/<code>")
@requires(PUBLIC)
def trace(code: str):
    """Where a batch comes from and where it went: origin, harvest, inputs, tests, chain of custody."""
    batch = _batch(code)
    reads = get_session()
    listings = queries.batch_listings(reads, batch.id)
    viewer_kind, now = current_actor().kind, utcnow()
    custody = queries.chain_of_custody(reads, batch)
    return render_template(
        "catalog/trace.html",
        batch=batch,
        # What the producer declares of the batch is for everyone who holds a package of it; which
        # listings offer it, and on what terms, only for the buyers those listings are offered to.
        certified=[
            name
            for name in CERTIFICATIONS
            if any(name in listing.certifications for listing in listings)
        ],
        certificate_numbers=sorted({listing.commitment_certificate for listing in listings} - {""}),
        offered=[
            listing
            for listing in listings
            if listing.is_on_sale(now) and listing.visible_to_kind(viewer_kind)
        ],
        private_subjects={
            f"listing:{listing.id}"
            for listing in listings
            if not listing.visible_to_kind(viewer_kind)
        },
        custody=custody,
        carried=any(event.kind.startswith(("order.", "delivery.")) for event in custody),
    )


@bp.get("/<code>/qr.png")
@requires(PUBLIC)
def qr_code_png(code: str):
    """A QR code of the trace page, to print."""
    batch = _batch(code)
    return _image(qr_png(url_for("trace.trace", code=batch.code, _external=True)), "image/png")


@bp.get("/<code>/qr.svg")
@requires(PUBLIC)
def qr_code_svg(code: str):
    """A QR code of the trace page that stays sharp at any size."""
    batch = _batch(code)
    return _image(qr_svg(url_for("trace.trace", code=batch.code, _external=True)), "image/svg+xml")


@bp.get("/<code>/label")
@requires(PUBLIC)
def label(code: str):
    """A sheet of labels to print and stick on packages: QR code, product, batch, harvest date."""
    return render_template("catalog/label.html", batch=_batch(code), copies=range(12))


def _image(content: bytes, mimetype: str) -> Response:
    response = Response(content, mimetype=mimetype)
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
