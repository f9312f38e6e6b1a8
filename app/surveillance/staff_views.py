"""What exchange staff act with: halts, force-cancels, a member's activity and suspensions (four eyes), the
trading calendar, the rules' thresholds, the audit trail and the daily market report."""

import json
from datetime import date, timedelta

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from app.accounts.models import Organisation
from app.auth import EXCHANGE_STAFF, SUPERVISORS, current_actor, requires
from app.catalog.models import Grade, Product
from app.db import get_session, local_date, utcnow
from app.errors import NotFound
from app.exchange import instruments
from app.exchange.models import MODE_LABELS
from app.exchange.schemas import CreateInstrumentSchema, in_fen
from app.forms import Form, post_step
from app.i18n import current_language
from app.surveillance import queries, services
from app.surveillance.api import audit_csv_response
from app.surveillance.models import Threshold
from app.surveillance.rules import DEFAULTS
from app.surveillance.schemas import (
    AuditQuery,
    CloseDaySchema,
    DecideSchema,
    ForceCancelSchema,
    HaltInstrumentSchema,
    ProposeSuspensionSchema,
    ReasonSchema,
)
from app.web import back_url, query_args

bp = Blueprint("staff", __name__)


def _act(schema, action, told: str, back: str):
    """A staff step from a page: `action(session, staff user id, data)`, then back to `back`."""
    post_step(
        schema, lambda write, data: action(write, current_actor().user_id, data), lambda _done: told
    )
    return redirect(back)


@bp.route("/surveillance/instruments/new", methods=["GET", "POST"])
@requires(EXCHANGE_STAFF)
def new_instrument():
    """Open an instrument: product, grade, packaging, modes, sessions, tick, lot, band, limit, fee."""
    form = Form(
        CreateInstrumentSchema(),
        values={"trading_days": "12345", "opens_at": "09:00", "closes_at": "15:00"},
    )
    if form.validate_on_submit():
        if not request.form.getlist("modes"):  # with no box ticked the browser sends nothing
            form.errors["modes"] = [_("Enable at least one trading mode.")]
            return _instrument_form(form)
        opened = form.submit(
            lambda write: services.open_instrument(
                write, actor_id=current_actor().user_id, **in_fen(form.data)
            )
        )
        if opened is not None:
            flash(_("%(symbol)s is open for trading.", symbol=opened.symbol), "success")
            return redirect(url_for("exchange.instrument", symbol=opened.symbol))
    return _instrument_form(form)


def _instrument_form(form: Form):
    reads = get_session()
    language = current_language()
    products = reads.scalars(select(Product).order_by(Product.id)).all()
    grades = reads.scalars(select(Grade).order_by(Grade.scale_id, Grade.rank)).all()
    page = render_template(
        "surveillance/instrument_form.html",
        form=form,
        product_options=[("", "—")] + [(p.id, p.name(language)) for p in products],
        grade_options=[("", "—")] + [(g.id, g.name(language)) for g in grades],
        modes=[(mode.value, _(label)) for mode, label in MODE_LABELS.items()],
    )
    return page, form.status


@bp.route("/surveillance/halts", methods=["POST"])
@requires(EXCHANGE_STAFF)
def halt():
    """Halt an instrument from the console."""
    return _halt_step(True, _("Halted: new orders, takes and bids are refused."))


@bp.route("/surveillance/resumptions", methods=["POST"])
@requires(EXCHANGE_STAFF)
def resume():
    return _halt_step(False, _("Trading resumed."))


def _halt_step(halted: bool, told: str):
    return _act(
        HaltInstrumentSchema(),
        lambda write, actor, data: services.halt_instrument(
            write, actor_id=actor, halted=halted, **data
        ),
        told,
        url_for("surveillance.console"),
    )


@bp.route("/surveillance/auctions/<int:auction_id>/<step>", methods=["POST"])
@requires(EXCHANGE_STAFF)
def halt_auction(auction_id: int, step: str):
    """Halt or resume one auction."""
    if step not in ("halt", "resume"):
        raise NotFound(_("No such step."))
    return _act(
        ReasonSchema(),
        lambda write, actor, data: services.halt_auction(
            write, actor_id=actor, auction_id=auction_id, halted=step == "halt", **data
        ),
        _("Auction halted.") if step == "halt" else _("Auction resumed."),
        back_url(url_for("surveillance.console")),
    )


@bp.route("/surveillance/orders/<int:order_id>/cancel", methods=["POST"])
@requires(EXCHANGE_STAFF)
def force_cancel(order_id: int):
    """Take a member's order off the book."""
    return _act(
        ForceCancelSchema(),
        lambda write, actor, data: services.force_cancel(
            write, actor_id=actor, order_id=order_id, **data
        ),
        _("Order %(id)d cancelled.", id=order_id),
        back_url(url_for("surveillance.console")),
    )


@bp.route("/surveillance/members/<int:organisation_id>")
@requires(EXCHANGE_STAFF)
def member(organisation_id: int):
    """A member's orders and cancels, trades, receipts, deposit movements and suspensions."""
    reads = get_session()
    found = reads.get(Organisation, organisation_id)
    if found is None:
        raise NotFound(_("No such member."))
    return render_template(
        "surveillance/member.html",
        member=found,
        activity=queries.member_activity(reads, organisation_id),
    )


@bp.route("/surveillance/suspensions", methods=["GET", "POST"])
@requires(EXCHANGE_STAFF)
def suspensions():
    """Suspensions proposed, in force and past; an officer proposes one here."""
    if request.method == "POST":
        return _act(
            ProposeSuspensionSchema(),
            lambda write, actor, data: services.propose_suspension(write, actor_id=actor, **data),
            _("Suspension proposed; a supervisor decides."),
            url_for("staff.suspensions"),
        )
    return render_template(
        "surveillance/suspensions.html", suspensions=queries.suspensions(get_session())
    )


@bp.route("/surveillance/suspensions/<int:suspension_id>/decide", methods=["POST"])
@requires(SUPERVISORS)
def decide(suspension_id: int):
    """Approve or reject a proposed suspension (not one's own proposal)."""
    return _act(
        DecideSchema(),
        lambda write, actor, data: services.decide_suspension(
            write, actor_id=actor, suspension_id=suspension_id, **data
        ),
        _("Decided."),
        url_for("staff.suspensions"),
    )


@bp.route("/surveillance/suspensions/<int:suspension_id>/lift", methods=["POST"])
@requires(SUPERVISORS)
def lift(suspension_id: int):
    return _act(
        ReasonSchema(),
        lambda write, actor, data: services.lift_suspension(
            write, actor_id=actor, suspension_id=suspension_id, note=data["reason"]
        ),
        _("Suspension lifted: the member may trade again."),
        url_for("staff.suspensions"),
    )


@bp.route("/surveillance/calendar", methods=["GET", "POST"])
@requires(EXCHANGE_STAFF)
def calendar():
    """The days the exchange is closed, from today on; staff close another coming day here."""
    if request.method == "POST":
        return _act(
            CloseDaySchema(),
            lambda write, actor, data: services.close_exchange_day(write, actor_id=actor, **data),
            _("Closed: nothing trades on that day."),
            url_for("staff.calendar"),
        )
    today = local_date(utcnow())
    return render_template(
        "surveillance/calendar.html",
        closed=instruments.closed_days(get_session(), after=today),
        today=today,
    )


@bp.route("/surveillance/calendar/<day:day>/reopen", methods=["POST"])
@requires(EXCHANGE_STAFF)
def reopen_day(day: date):
    """Trade on a closed coming day after all."""
    return _act(
        ReasonSchema(),
        lambda write, actor, data: services.reopen_exchange_day(
            write, actor_id=actor, day=day, reason=data["reason"]
        ),
        _("Reopened: %(day)s is a trading day again.", day=day.isoformat()),
        url_for("staff.calendar"),
    )


@bp.route("/surveillance/thresholds")
@requires(EXCHANGE_STAFF)
def thresholds():
    """Every rule's thresholds; supervisors change them here."""
    reads = get_session()
    current = {
        rule: {**defaults, **(getattr(reads.get(Threshold, rule), "values", None) or {})}
        for rule, defaults in DEFAULTS.items()
    }
    return render_template(
        "surveillance/thresholds.html",
        thresholds=current,
        supervisor=SUPERVISORS.refusal(current_actor()) is None,
    )


@bp.route("/surveillance/thresholds/<rule>", methods=["POST"])
@requires(SUPERVISORS)
def set_thresholds(rule: str):
    """A supervisor sets one rule's thresholds."""
    form = Form(ReasonSchema())  # the values are the rule's own fields, read below

    def save(write):
        values = {}
        for name in DEFAULTS.get(rule, {}):
            try:
                values[name] = float(request.form.get(name, "").strip())
            except ValueError:
                form.errors.setdefault(name, []).append(_("Enter a number."))
        if form.errors:
            return None
        return services.set_thresholds(
            write, actor_id=current_actor().user_id, rule=rule, values=values
        )

    if form.submit(save) is not None:
        flash(_("Thresholds saved; the engine uses them from its next run."), "success")
    form.flash_problems()
    return redirect(url_for("staff.thresholds"))


@bp.route("/surveillance/audit")
@requires(EXCHANGE_STAFF)
def audit():
    """The audit trail, searchable; the same search as CSV."""
    found = queries.audit_entries(get_session(), **query_args(AuditQuery()))
    return render_template("surveillance/audit.html", entries=found, args=request.args)


@bp.route("/surveillance/audit.csv")
@requires(EXCHANGE_STAFF)
def audit_csv():
    return audit_csv_response(
        queries.audit_entries(get_session(), limit=None, **query_args(AuditQuery()))
    )


@bp.route("/surveillance/report")
@requires(EXCHANGE_STAFF)
def report():
    """The day's market report: volumes, prices, the index, and alerts, with charts; printable."""
    try:
        day = date.fromisoformat(request.args.get("day", ""))
    except ValueError:
        day = local_date(utcnow()) - timedelta(days=1)
    reads = get_session()
    data = queries.daily_report(reads, day)
    chart = {
        "symbols": [instrument.symbol for instrument, _row in data["instruments"]],
        "kg": [row["kg"] for _instrument, row in data["instruments"]],
        "close": [row["close"] / 100 for _instrument, row in data["instruments"]],
        "names": {"kg": _("Volume (kg)"), "close": _("Close")},
    }
    return render_template(
        "surveillance/report.html",
        report=data,
        chart_data=json.dumps(chart),
        previous=day - timedelta(days=1),
        following=day + timedelta(days=1),
    )
