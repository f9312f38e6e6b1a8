"""Sellers' pages: their listings (create, edit, photos, stock, pause) and batches (inputs, tests)."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from app.auth import SELLERS, current_actor, requires
from app.catalog import batches, queries, services
from app.catalog.models import visible_kinds
from app.catalog.schemas import (
    AdjustStockSchema,
    BatchInputSchema,
    CreateListingForm,
    RecordBatchSchema,
    SellerListingsQuerySchema,
    TestReportSchema,
    UpdateListingForm,
)
from app.catalog.views import current_catalogue
from app.db import get_session, transaction
from app.forms import Form
from app.i18n import yuan_text
from app.uploads import upload_folder
from app.web import query_args

bp = Blueprint("selling", __name__, url_prefix="/selling")


@bp.get("/listings")
@requires(SELLERS)
def listings():
    """This seller's listings, newest change first, by status."""
    wanted = query_args(SellerListingsQuerySchema())
    page = queries.seller_listings(get_session(), current_actor().organisation_id, **wanted)
    return render_template("catalog/seller_listings.html", page=page, status=wanted["status"])


@bp.route("/listings/new", methods=["GET", "POST"])
@requires(SELLERS)
def new_listing():
    """List produce from a batch with photos, a price, stock and a minimum order."""
    form = Form(
        CreateListingForm(),
        values={
            "publish": "true",
            "unit": "kg",
            "min_order": "1",
            "batch": request.args.get("batch", ""),
        },
    )
    if form.validate_on_submit():
        listing = form.submit(lambda s: _create_with_photos(s, form.data))
        if listing is not None:
            flash(_("“%(title)s” is listed.", title=listing.title), "success")
            return redirect(url_for("selling.listing", listing_id=listing.id))
    return render_template("catalog/listing_form.html", form=form, **_choices()), form.status


def _create_with_photos(session: Session, data: dict):
    actor = current_actor()
    listing = services.create_listing(
        session, organisation_id=actor.organisation_id, actor_id=actor.user_id, **data
    )
    _attach_photos(session, listing.id)
    return listing


def _attach_photos(session: Session, listing_id: int) -> None:
    organisation_id = current_actor().organisation_id
    for file in request.files.getlist("photos"):
        if file.filename:
            services.add_listing_photo(
                session,
                organisation_id=organisation_id,
                listing_id=listing_id,
                filename=file.filename,
                data=file.read(),
                folder=upload_folder(),
                field="photos",
            )


@bp.route("/listings/<int:listing_id>", methods=["GET", "POST"])
@requires(SELLERS)
def listing(listing_id: int):
    """Edit a listing's particulars, and see its photos, stock history and what happened to it."""
    actor = current_actor()
    current = services.own_listing(get_session(), actor.organisation_id, listing_id)
    form = Form(UpdateListingForm(), values=_form_values(current))
    if form.validate_on_submit() and form.submit(
        lambda s: services.update_listing(
            s,
            organisation_id=actor.organisation_id,
            actor_id=actor.user_id,
            listing_id=listing_id,
            **form.data,
        )
    ):
        flash(_("The listing is saved."), "success")
        return redirect(url_for("selling.listing", listing_id=listing_id))
    return _listing_page(listing_id, form=form)


def _listing_page(listing_id: int, *, form: Form | None = None, stock_form: Form | None = None):
    reads = get_session()
    listing = services.own_listing(reads, current_actor().organisation_id, listing_id)
    form = form or Form(UpdateListingForm(), values=_form_values(listing))
    stock_form = stock_form or Form(AdjustStockSchema())
    return render_template(
        "catalog/seller_listing.html",
        listing=listing,
        form=form,
        stock_form=stock_form,
        stock=queries.stock_history(reads, listing_id),
        history=queries.listing_history(reads, listing_id),
        **_choices(),
    ), max(form.status, stock_form.status)


def _form_values(listing) -> dict:
    names = UpdateListingForm().fields
    values = {name: getattr(listing, name) for name in names if hasattr(listing, name)}
    values.update(
        grade=listing.grade.code,
        unit=listing.unit_code,
        batch=listing.batch.code if listing.batch else "",
        price_fen=yuan_text(listing.price_fen),
        visible_to=visible_kinds(listing.visible_to),
    )
    return values


@bp.post("/listings/<int:listing_id>/stock")
@requires(SELLERS)
def adjust_stock(listing_id: int):
    """Add or take away stock, with the reason kept in its history."""
    actor = current_actor()
    form = Form(AdjustStockSchema())
    if form.validate_on_submit() and form.submit(
        lambda s: services.adjust_stock(
            s,
            organisation_id=actor.organisation_id,
            actor_id=actor.user_id,
            listing_id=listing_id,
            **form.data,
        )
    ):
        flash(_("The stock is changed."), "success")
        return redirect(url_for("selling.listing", listing_id=listing_id))
    return _listing_page(listing_id, stock_form=form)


@bp.post("/listings/<int:listing_id>/pause")
@requires(SELLERS)
def pause(listing_id: int):
    """Take a listing off sale for a while."""
    actor = current_actor()
    with transaction() as write:
        services.pause_listing(
            write,
            organisation_id=actor.organisation_id,
            actor_id=actor.user_id,
            listing_id=listing_id,
        )
    flash(_("The listing is paused; buyers no longer see it."), "success")
    return redirect(url_for("selling.listing", listing_id=listing_id))


@bp.post("/listings/<int:listing_id>/publish")
@requires(SELLERS)
def publish(listing_id: int):
    """Put a draft or paused listing on sale."""
    actor = current_actor()
    with transaction() as write:
        services.publish_listing(
            write,
            organisation_id=actor.organisation_id,
            actor_id=actor.user_id,
            listing_id=listing_id,
        )
    flash(_("The listing is on sale."), "success")
    return redirect(url_for("selling.listing", listing_id=listing_id))


@bp.post("/listings/<int:listing_id>/photos")
@requires(SELLERS)
def add_photos(listing_id: int):
    """Add photos to a listing."""
    with transaction() as write:
        services.own_listing(write, current_actor().organisation_id, listing_id)
        _attach_photos(write, listing_id)
    flash(_("The photos are added."), "success")
    return redirect(url_for("selling.listing", listing_id=listing_id))


@bp.post("/listings/<int:listing_id>/photos/<int:photo_id>/remove")
@requires(SELLERS)
def remove_photo(listing_id: int, photo_id: int):
    """Take a photo off a listing and delete it."""
    with transaction() as write:
        services.remove_listing_photo(
            write,
            organisation_id=current_actor().organisation_id,
            listing_id=listing_id,
            photo_id=photo_id,
            folder=upload_folder(),
        )
    return redirect(url_for("selling.listing", listing_id=listing_id))


def _choices() -> dict:
    reads = get_session()
    return {
        "catalogue": current_catalogue(),
        "batches": queries.seller_batches(reads, current_actor().organisation_id),
    }


# --- batches ---------------------------------------------------------------------------------------


@bp.get("/batches")
@requires(SELLERS)
def batch_list():
    """This seller's harvest batches, newest first."""
    return render_template(
        "catalog/batches.html",
        batches=queries.seller_batches(get_session(), current_actor().organisation_id),
    )


@bp.route("/batches/new", methods=["GET", "POST"])
@requires(SELLERS)
def new_batch():
    """Record a harvest: where it was picked, when, the inputs used."""
    actor = current_actor()
    form = Form(RecordBatchSchema())
    if form.validate_on_submit():
        batch = form.submit(
            lambda s: batches.record_batch(
                s, organisation_id=actor.organisation_id, actor_id=actor.user_id, **form.data
            )
        )
        if batch is not None:
            flash(
                _("Batch %(code)s is recorded. Add its inputs and test reports.", code=batch.code),
                "success",
            )
            return redirect(url_for("selling.batch", code=batch.code))
    return render_template(
        "catalog/batch_form.html", form=form, catalogue=current_catalogue()
    ), form.status


@bp.get("/batches/<code>")
@requires(SELLERS)
def batch(code: str, input_form: Form | None = None, test_form: Form | None = None):
    """A batch with its inputs, tests, listings and label."""
    reads = get_session()
    found = batches.own_batch(reads, current_actor().organisation_id, code)
    input_form, test_form = (
        input_form or Form(BatchInputSchema()),
        test_form or Form(TestReportSchema()),
    )
    return render_template(
        "catalog/batch.html",
        batch=queries.batch_by_code(reads, found.code),
        input_form=input_form,
        test_form=test_form,
        listings=queries.batch_listings(reads, found.id),
    ), max(input_form.status, test_form.status)


@bp.post("/batches/<code>/inputs")
@requires(SELLERS)
def add_input(code: str):
    """Record a fertiliser or pesticide applied to the batch's crop."""
    actor = current_actor()
    form = Form(BatchInputSchema())
    if form.validate_on_submit() and form.submit(
        lambda s: batches.add_batch_input(
            s,
            organisation_id=actor.organisation_id,
            actor_id=actor.user_id,
            batch_code=code,
            **form.data,
        )
    ):
        return redirect(url_for("selling.batch", code=code))
    return batch(code, input_form=form)


@bp.post("/batches/<code>/tests")
@requires(SELLERS)
def add_test(code: str):
    """Attach a residue or quality test report (PDF or photo)."""
    actor = current_actor()
    form = Form(TestReportSchema())
    file = request.files.get("report")
    if form.validate_on_submit() and form.submit(
        lambda s: batches.add_test_report(
            s,
            organisation_id=actor.organisation_id,
            actor_id=actor.user_id,
            batch_code=code,
            report=(file.filename, file.read()) if file and file.filename else None,
            folder=upload_folder(),
            **form.data,
        )
    ):
        return redirect(url_for("selling.batch", code=code))
    return batch(code, test_form=form)
