"""Platform admins' money pages: bank transfers in, credit terms, the fee, payouts, disputes, the ledger."""

from flask import Blueprint, Response, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from marshmallow import Schema

from app.auth import PLATFORM_ADMIN, current_actor, requires
from app.db import get_session, local_date, utcnow
from app.forms import Form
from app.i18n import current_language, yuan_text
from app.orders import delivery, payouts, queries
from app.orders.cli import problems
from app.orders.schemas import BankTransferForm, CreditTermsForm, FeeRateForm, ResolveDisputeForm
from app.payments import card, services
from app.payments.outbox import make_waiting_stripe_calls
from app.payments.services import current_fee_bps

bp = Blueprint("money_admin", __name__, url_prefix="/admin/money")


@bp.get("")
@requires(PLATFORM_ADMIN)
def overview(forms: dict | None = None, status: int = 200):
    """Everything about the platform's money on one page, with the ledger check's verdict on top."""
    reads = get_session()
    forms = forms or {}
    disputes = queries.open_disputes(reads)
    resolve_forms = forms.get("resolve", {})
    for order in disputes:
        resolve_forms.setdefault(order.id, Form(ResolveDisputeForm()))
    lang = current_language()
    buyer_options = [("", "—")] + [
        (buyer.id, buyer.display_name(lang)) for buyer in queries.buyers(reads)
    ]
    return render_template(
        "orders/admin_money.html",
        problems=problems(reads),
        accounts=queries.ledger_accounts(reads),
        escrow_total=queries.escrow_total(reads),
        transfers=queries.recent_transfers(reads),
        batches=queries.payout_batches(reads),
        disputes=disputes,
        stripe_problems=card.failed_calls(reads),
        buyer_options=buyer_options,
        fee_bps=current_fee_bps(reads),
        transfer_form=forms.get("transfer")
        or Form(BankTransferForm(), values={"received_on": local_date(utcnow()).isoformat()}),
        credit_form=forms.get("credit") or Form(CreditTermsForm(), values={"days": "30"}),
        fee_form=forms.get("fee") or Form(FeeRateForm()),
        resolve_forms=resolve_forms,
    ), status


def _admin_step(name: str, schema, service, done):
    """Run `service` with the form's values as this admin; on a refusal, show the page with the form."""
    form = Form(schema)
    if form.validate_on_submit():
        result = form.submit(
            lambda session: service(session, actor_id=current_actor().user_id, **form.data)
        )
        if result is not None:
            flash(done(result), "success")
            return redirect(url_for("money_admin.overview"))
    return overview({name: form}, 422)


@bp.post("/transfers")
@requires(PLATFORM_ADMIN)
def confirm_transfer():
    """Credit a buyer with a transfer seen on the bank statement."""
    return _admin_step(
        "transfer",
        BankTransferForm(),
        services.confirm_bank_transfer,
        lambda transfer: _(
            "%(amount)s from %(buyer)s confirmed.",
            amount=yuan_text(transfer.amount_fen),
            buyer=transfer.organisation.name_zh,
        ),
    )


@bp.post("/credit")
@requires(PLATFORM_ADMIN)
def set_credit():
    """Let a buyer pay on account, with a limit and payment terms."""
    return _admin_step(
        "credit",
        CreditTermsForm(),
        services.set_credit_terms,
        lambda terms: _(
            "Credit terms saved: %(limit)s, %(days)d days.",
            limit=yuan_text(terms.limit_fen),
            days=terms.days,
        ),
    )


@bp.post("/fee")
@requires(PLATFORM_ADMIN)
def set_fee():
    """Change the platform fee for new orders."""
    return _admin_step(
        "fee",
        FeeRateForm(),
        services.set_fee_rate,
        lambda rate: _(
            "New orders now pay a fee of %(pct)s%%.", pct=f"{rate.basis_points / 100:g}"
        ),
    )


@bp.post("/payouts")
@requires(PLATFORM_ADMIN)
def run_payouts():
    """Pay every seller what it is owed, in one batch for the bank."""
    return _admin_step(
        "payouts",
        Schema(),
        payouts.run_payout_batch,
        lambda batch: _(
            "Payout batch %(id)d: %(total)s to %(n)d sellers. Download the file for the bank.",
            id=batch.id,
            total=yuan_text(batch.total_fen),
            n=len(batch.payouts),
        ),
    )


@bp.get("/orders/<int:order_id>")
@requires(PLATFORM_ADMIN)
def order(order_id: int):
    """Any order, as its buyer and seller see it (read only), for deciding a dispute."""
    found = queries.order_for(get_session(), order_id, None, admin=True)
    return render_template("orders/order.html", order=found)


@bp.get("/payouts/<int:batch_id>.csv")
@requires(PLATFORM_ADMIN)
def payout_file(batch_id: int):
    """The batch as a CSV file for the bank's bulk transfer upload."""
    batch = queries.payout_batch(get_session(), batch_id)
    return Response(
        "\ufeff" + payouts.bank_file(batch),  # the mark tells Excel the file is UTF-8
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename=payout-{batch_id}.csv"},
    )


@bp.post("/disputes/<int:order_id>/resolve")
@requires(PLATFORM_ADMIN)
def resolve(order_id: int):
    """Decide a dispute: refund the buyer in full or in part, pay the seller the rest."""
    form = Form(ResolveDisputeForm())
    if form.validate_on_submit():
        order = form.submit(
            lambda session: delivery.resolve_dispute(
                session,
                actor_id=current_actor().user_id,
                order_id=order_id,
                **form.data,
            )
        )
        if order is not None:
            make_waiting_stripe_calls()  # the buyer's card refund and the seller's transfer
            flash(_("Dispute on order %(id)d resolved.", id=order_id), "success")
            return redirect(url_for("money_admin.overview"))
    return overview({"resolve": {order_id: form}}, 422)
