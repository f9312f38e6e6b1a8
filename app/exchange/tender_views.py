"""Tender pages: the tenders taking bids and just closed, one tender with the best bid so far and a seller's
bid form, and the form a school or supermarket posts its need with."""

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from marshmallow import Schema
from sqlalchemy import select

from app.auth import BUYERS, PUBLIC, SELLERS, current_actor, requires
from app.catalog.models import Grade, Listing, ListingStatus, Product
from app.db import get_session, utcnow
from app.errors import NotFound
from app.exchange import queries, tenders
from app.exchange.models import TENDER_LABELS, Tender, TenderStatus
from app.exchange.schemas import PostTenderSchema, TenderBidSchema, in_fen
from app.forms import Form, post_step
from app.i18n import current_language, money

bp = Blueprint("tenders", __name__)


@bp.app_template_global()
def tender_status_label(status: str) -> str:
    return _(TENDER_LABELS[TenderStatus(status)])


@bp.route("/exchange/tenders")
@requires(PUBLIC)
def index():
    """Tenders taking bids, soonest to close first, then those closed this month."""
    return render_template(
        "exchange/tenders.html", tenders=queries.tenders_list(get_session(), now=utcnow())
    )


@bp.route("/exchange/tenders/<int:tender_id>")
@requires(PUBLIC)
def detail(tender_id: int):
    """A tender: what is asked, the best bid so far, and (for a seller) its own bids and the bid form."""
    reads = get_session()
    tender = reads.get(Tender, tender_id)
    if tender is None:
        raise NotFound(_("No such tender."))
    actor = current_actor()
    seller = SELLERS.refusal(actor) is None
    listings = []
    if seller:
        listings = reads.scalars(
            select(Listing).where(
                Listing.organisation_id == actor.organisation_id,
                Listing.product_id == tender.product_id,
                Listing.grade_id == tender.grade_id,
                Listing.status != ListingStatus.draft,
            )
        ).all()
    winner = next((bid.seller_id for bid in tender.bids if bid.won), None)
    return render_template(
        "exchange/tender.html",
        tender=tender,
        party_to_award=actor.organisation_id in (tender.buyer_id, winner),
        seller=seller,
        listing_options=[(listing.id, listing.title) for listing in listings],
        own_bids=queries.bids_of(reads, tender.id, actor.organisation_id) if seller else [],
        now=utcnow(),
        form=Form(TenderBidSchema()),
    )


@bp.route("/exchange/tenders/new", methods=["GET", "POST"])
@requires(BUYERS)
def new():
    """Post a need: product, grade, kg, the most per kg, delivery day, window and place, closing time."""
    reads = get_session()
    actor = current_actor()
    form = Form(PostTenderSchema())
    if form.validate_on_submit():
        tender = form.submit(
            lambda write: tenders.post_tender(
                write,
                organisation_id=actor.organisation_id,
                actor_id=actor.user_id,
                **in_fen(form.data),
            )
        )
        if tender is not None:
            flash(_("Tender posted; sellers can bid until it closes."), "success")
            return redirect(url_for("tenders.detail", tender_id=tender.id))
    language = current_language()
    products = reads.scalars(select(Product).order_by(Product.id)).all()
    grades = reads.scalars(select(Grade).order_by(Grade.scale_id, Grade.rank)).all()
    page = render_template(
        "exchange/tender_form.html",
        form=form,
        product_options=[("", "—")] + [(p.id, p.name(language)) for p in products],
        grade_options=[("", "—")] + [(g.id, g.name(language)) for g in grades],
    )
    return page, form.status


@bp.route("/exchange/tenders/<int:tender_id>/bid", methods=["POST"])
@requires(SELLERS)
def bid(tender_id: int):
    """Bid from one of the seller's listings; the page says whether it leads."""
    actor = current_actor()
    post_step(
        TenderBidSchema(),
        lambda write, data: tenders.place_tender_bid(
            write,
            organisation_id=actor.organisation_id,
            organisation_kind=actor.kind,
            actor_id=actor.user_id,
            tender_id=tender_id,
            **in_fen(data),
        ),
        lambda placed: _("Your bid of %(price)s per kg is in.", price=money(placed.price_fen)),
    )
    return redirect(url_for("tenders.detail", tender_id=tender_id))


@bp.route("/exchange/tenders/<int:tender_id>/withdraw", methods=["POST"])
@requires(BUYERS)
def withdraw(tender_id: int):
    """Call the tender off while nobody has bid."""
    actor = current_actor()
    post_step(
        Schema(),
        lambda write, _data: tenders.withdraw_tender(
            write,
            organisation_id=actor.organisation_id,
            actor_id=actor.user_id,
            tender_id=tender_id,
        ),
        lambda _done: _("Tender withdrawn."),
    )
    return redirect(url_for("tenders.detail", tender_id=tender_id))
