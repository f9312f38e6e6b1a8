"""Auction pages: the auctions open and just closed, one auction live (countdown, price, bids), the form
that puts a receipt's lots up for an English auction or on a Dutch clock, bidding and taking the clock."""

import uuid

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from app.auth import EXCHANGE_MEMBERS, PUBLIC, current_actor, requires
from app.db import get_session, utcnow
from app.errors import NotFound
from app.exchange import auctions, deposits, queries
from app.exchange.models import AUCTION_LABELS, Auction, AuctionStatus, Instrument, ReceiptStatus
from app.exchange.schemas import (
    AuctionDetailSchema,
    BidSchema,
    CreateAuctionSchema,
    in_fen,
)
from app.exchange.views import buy_from_form
from app.forms import Form, post_step
from app.i18n import money

bp = Blueprint("auctions", __name__)


@bp.app_template_global()
def auction_status_label(status: str) -> str:
    return _(AUCTION_LABELS[AuctionStatus(status)])


@bp.route("/exchange/auctions")
@requires(PUBLIC)
def index():
    """Open auctions, soonest to close first, then those closed this week."""
    return render_template(
        "exchange/auctions.html",
        auctions=queries.auctions_list(get_session(), now=utcnow()),
        now=utcnow(),
    )


@bp.route("/exchange/auctions/<int:auction_id>")
@requires(PUBLIC)
def detail(auction_id: int):
    """An auction as it happens: the price, the countdown, the bid history, and the bid or take form."""
    reads = get_session()
    auction = reads.get(Auction, auction_id)
    if auction is None:
        raise NotFound(_("No such auction."))
    actor = current_actor()
    member = EXCHANGE_MEMBERS.refusal(actor) is None
    return render_template(
        "exchange/auction.html",
        auction=auction,
        state=AuctionDetailSchema().dump(auction),
        now=utcnow(),
        member=member,
        deposit=deposits.deposit_of(reads, actor.organisation_id) if member else None,
        idempotency_key=uuid.uuid4().hex,
    )


@bp.route("/exchange/auctions/new", methods=["GET", "POST"])
@requires(EXCHANGE_MEMBERS)
def new():
    """Put a receipt's lots up for auction: English (rising bids) or a Dutch clock (falling price)."""
    reads = get_session()
    actor = current_actor()
    form = Form(
        CreateAuctionSchema(),
        values={
            "kind": "english",
            "extend_seconds": 120,
            "receipt_id": request.args.get("receipt_id"),
        },
    )
    if form.validate_on_submit():
        auction = form.submit(
            lambda write: auctions.create_auction(
                write,
                organisation_id=actor.organisation_id,
                actor_id=actor.user_id,
                **in_fen(form.data),
            )
        )
        if auction is not None:
            flash(
                _("Auction %(id)d is open for bids from its start time.", id=auction.id), "success"
            )
            return redirect(url_for("auctions.detail", auction_id=auction.id))
    held = [
        r
        for r in queries.receipts_of(reads, actor.organisation_id)
        if r.status == ReceiptStatus.held
    ]
    listed = reads.scalars(select(Instrument).order_by(Instrument.symbol))
    page = render_template(
        "exchange/auction_form.html",
        form=form,
        receipt_options=[(r.id, f"{r.number} · {r.net_kg} kg") for r in held],
        instrument_options=[(i.symbol, f"{i.symbol} · {i.lot_kg} kg") for i in listed],
    )
    return page, form.status


@bp.route("/exchange/auctions/<int:auction_id>/bid", methods=["POST"])
@requires(EXCHANGE_MEMBERS)
def bid(auction_id: int):
    """Bid in an English auction; the money is reserved from the deposit until someone outbids it."""
    actor = current_actor()
    post_step(
        BidSchema(),
        lambda write, data: auctions.place_bid(
            write,
            organisation_id=actor.organisation_id,
            actor_id=actor.user_id,
            auction_id=auction_id,
            price_fen=data["price_yuan"],
        ),
        lambda placed: _("Your bid of %(price)s per kg leads.", price=money(placed.price_fen)),
    )
    return redirect(url_for("auctions.detail", auction_id=auction_id))


@bp.route("/exchange/auctions/<int:auction_id>/accept", methods=["POST"])
@requires(EXCHANGE_MEMBERS)
def accept(auction_id: int):
    """Stop the Dutch clock for the lots named, at its price this moment."""
    back = url_for("auctions.detail", auction_id=auction_id)
    return buy_from_form(auctions.accept_clock, back, auction_id=auction_id)
