"""Warehouse receipt pages: the warehouse issues receipts, releases them when tea leaves and discharges
their pledges; a holder splits, merges, pledges and lists its receipts (挂牌) or withdraws a listing."""

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from marshmallow import Schema
from sqlalchemy import select

from app.accounts.models import Organisation
from app.auth import (
    BUYER_KINDS,
    EXCHANGE_MEMBERS,
    SELLER_KINDS,
    WAREHOUSE_STAFF,
    VerificationStatus,
    current_actor,
    requires,
)
from app.catalog.models import Grade, Product
from app.db import get_session
from app.exchange import lots, pledges, queries, receipts, settlement
from app.exchange.models import Instrument, LotStatus
from app.exchange.schemas import (
    IssueReceiptSchema,
    ListLotSchema,
    MergeSchema,
    PledgeSchema,
    SplitSchema,
)
from app.forms import Form, post_step
from app.i18n import current_language

bp = Blueprint("receipts", __name__)


@bp.route("/exchange/receipts")
@requires(EXCHANGE_MEMBERS)
def mine():
    """The member's receipts, each to split, list or put up for auction; its listed lots."""
    reads = get_session()
    organisation_id = current_actor().organisation_id
    held = queries.receipts_of(reads, organisation_id)
    return render_template(
        "exchange/receipts.html",
        receipts=held,
        instruments=_instruments_for(reads, held),
        lots=[
            lot for lot in queries.lots_of(reads, organisation_id) if lot.status == LotStatus.open
        ],
        form=Form(ListLotSchema()),
    )


def _instruments_for(reads, held) -> dict[tuple[int, int], list[Instrument]]:
    """The instruments each (product, grade) of the member's receipts can trade on."""
    found: dict[tuple[int, int], list[Instrument]] = {}
    for instrument in reads.scalars(select(Instrument).order_by(Instrument.symbol)):
        found.setdefault((instrument.product_id, instrument.grade_id), []).append(instrument)
    return {(r.product_id, r.grade_id): found.get((r.product_id, r.grade_id), []) for r in held}


@bp.route("/exchange/receipts/<int:receipt_id>/split", methods=["POST"])
@requires(EXCHANGE_MEMBERS)
def split(receipt_id: int):
    """Split kilograms off a receipt into a new one."""
    return _holder_step(
        SplitSchema(),
        lambda write, actor, data: receipts.split_receipt(
            write,
            holder_id=actor.organisation_id,
            actor_id=actor.user_id,
            receipt_id=receipt_id,
            **data,
        ),
        lambda part: _(
            "Split off %(kg)d kg as receipt %(number)s.", kg=part.net_kg, number=part.number
        ),
    )


@bp.route("/exchange/receipts/merge", methods=["POST"])
@requires(EXCHANGE_MEMBERS)
def merge():
    """Merge the chosen receipts into one."""
    return _holder_step(
        MergeSchema(),
        lambda write, actor, data: receipts.merge_receipts(
            write, holder_id=actor.organisation_id, actor_id=actor.user_id, **data
        ),
        lambda merged: _(
            "Merged into receipt %(number)s: %(kg)d kg.", number=merged.number, kg=merged.net_kg
        ),
    )


@bp.route("/exchange/lots", methods=["POST"])
@requires(EXCHANGE_MEMBERS)
def list_lot():
    """List lots of a receipt at a fixed price (挂牌)."""

    def list_it(write, actor, data):
        return lots.list_lot(
            write,
            organisation_id=actor.organisation_id,
            actor_id=actor.user_id,
            price_fen=data.pop("price_yuan"),
            **data,
        )

    return _holder_step(
        ListLotSchema(),
        list_it,
        lambda lot: _("Listed %(n)d lots; buyers can take them now.", n=lot.lots),
    )


@bp.route("/exchange/lots/<int:lot_id>/delist", methods=["POST"])
@requires(EXCHANGE_MEMBERS)
def delist(lot_id: int):
    """Withdraw what is left of a listed lot."""
    return _holder_step(
        Schema(),
        lambda write, actor, _data: lots.delist_lot(
            write, organisation_id=actor.organisation_id, actor_id=actor.user_id, lot_id=lot_id
        ),
        lambda lot: _("Lot withdrawn; its receipt is free again."),
    )


@bp.route("/exchange/receipts/<int:receipt_id>/pledge", methods=["POST"])
@requires(EXCHANGE_MEMBERS)
def pledge(receipt_id: int):
    """Pledge a receipt to a lender as security for a loan."""
    return _holder_step(
        PledgeSchema(),
        lambda write, actor, data: pledges.pledge_receipt(
            write,
            holder_id=actor.organisation_id,
            actor_id=actor.user_id,
            receipt_id=receipt_id,
            amount_fen=data.pop("amount_yuan"),
            **data,
        ),
        lambda pledged: _(
            "Receipt %(number)s is pledged: it stays yours, but it cannot be sold, split or taken "
            "out until the warehouse discharges the pledge.",
            number=pledged.number,
        ),
    )


def _holder_step(schema, action, told):
    actor = current_actor()
    post_step(schema, lambda write, data: action(write, actor, data), told)
    return redirect(url_for("receipts.mine"))


# --- the warehouse ---------------------------------------------------------------------------------------


@bp.route("/warehouse/receipts", methods=["GET", "POST"])
@requires(WAREHOUSE_STAFF)
def warehouse():
    """Weigh and grade tea in and issue its receipt; the receipts out now, to release on pickup."""
    reads = get_session()
    actor = current_actor()
    form = Form(IssueReceiptSchema())
    if form.validate_on_submit():
        issued = form.submit(
            lambda write: receipts.issue_receipt(
                write, warehouse_id=actor.organisation_id, actor_id=actor.user_id, **form.data
            )
        )
        if issued is not None:
            flash(
                _(
                    "Receipt %(number)s issued for %(kg)d kg.",
                    number=issued.number,
                    kg=issued.net_kg,
                ),
                "success",
            )
            return redirect(url_for("receipts.warehouse"))
    page = render_template(
        "exchange/warehouse.html",
        form=form,
        receipts=queries.receipts_of(reads, actor.organisation_id, warehouse=True),
        **_choices(reads),
    )
    return page, form.status


def _choices(reads) -> dict[str, list[tuple]]:
    """What the issue form offers: verified members as depositors, the products and their grades."""
    language = current_language()
    members = reads.scalars(
        select(Organisation)
        .where(
            Organisation.kind.in_(BUYER_KINDS | SELLER_KINDS),
            Organisation.status == VerificationStatus.verified,
        )
        .order_by(Organisation.name_zh)
    )
    products = reads.scalars(select(Product).order_by(Product.id)).all()
    grades = reads.scalars(select(Grade).order_by(Grade.scale_id, Grade.rank))
    return {
        "member_options": [("", "—")] + [(m.id, m.name_zh) for m in members],
        "product_options": [("", "—")] + [(p.id, p.name(language)) for p in products],
        "grade_options": [("", "—")]
        + [
            (
                g.id,
                f"{g.scale.name_zh if language != 'en' else g.scale.name_en} · {g.name(language)}",
            )
            for g in grades
        ],
    }


@bp.route("/warehouse/receipts/<int:receipt_id>/release", methods=["POST"])
@requires(WAREHOUSE_STAFF)
def release(receipt_id: int):
    """The holder takes the tea out: close the receipt, and its trade pays the seller now."""
    return _warehouse_step(
        settlement.pick_up,
        receipt_id,
        lambda done: _(
            "Receipt %(number)s released: the tea has left the warehouse.", number=done.number
        ),
    )


@bp.route("/warehouse/receipts/<int:receipt_id>/discharge", methods=["POST"])
@requires(WAREHOUSE_STAFF)
def discharge(receipt_id: int):
    """The lender confirmed the loan repaid: end the receipt's pledge."""
    return _warehouse_step(
        pledges.discharge_pledge,
        receipt_id,
        lambda done: _("Receipt %(number)s is free of its pledge.", number=done.number),
    )


def _warehouse_step(service, receipt_id: int, told):
    actor = current_actor()
    post_step(
        Schema(),
        lambda write, _data: service(
            write, warehouse_id=actor.organisation_id, actor_id=actor.user_id, receipt_id=receipt_id
        ),
        told,
    )
    return redirect(url_for("receipts.warehouse"))
