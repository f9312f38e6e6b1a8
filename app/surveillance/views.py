"""The surveillance console for exchange staff: the market and the live trade tape, alerts as they come and
what is done with them, and cases."""

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from marshmallow import Schema
from sqlalchemy import select

from app import events, uploads
from app.accounts.models import User
from app.auth import EXCHANGE_STAFF, current_actor, requires
from app.db import current_database, get_session, utcnow
from app.errors import NotFound
from app.events import Cursor
from app.exchange.models import MODE_LABELS, Auction, Bid, ExchangeOrder, Tender, Trade
from app.forms import Form, post_step
from app.i18n import N_
from app.surveillance import queries, services, stream
from app.surveillance.models import Alert, Case
from app.surveillance.rules import RULES
from app.surveillance.schemas import (
    AssignSchema,
    CloseSchema,
    NoteSchema,
    OpenCaseSchema,
    ReasonSchema,
)
from app.surveillance.words import (
    alert_status_label,
    alert_summary,
    rule_label,
    severity_label,
    suspension_status_label,
    threshold_label,
)

bp = Blueprint("surveillance", __name__)
bp.add_app_template_global(rule_label, "rule_label")
bp.add_app_template_global(severity_label, "severity_label")
bp.add_app_template_global(alert_status_label, "alert_status_label")
bp.add_app_template_global(alert_summary, "alert_summary")
bp.add_app_template_global(threshold_label, "threshold_label")
bp.add_app_template_global(suspension_status_label, "suspension_status_label")


@bp.route("/surveillance")
@requires(EXCHANGE_STAFF)
def console():
    """The market at a glance, the live trade tape across every mode, and the open alerts."""
    reads = get_session()
    return render_template(
        "surveillance/console.html",
        market=queries.market(reads, utcnow()),
        tape=queries.tape(reads, limit=30),
        alerts=queries.alerts(reads, status="open", limit=50),
        cursor=str(events.latest_cursor(reads)),
        mode_names={mode.value: _(label) for mode, label in MODE_LABELS.items()},
    )


@bp.route("/surveillance/stream")
@requires(EXCHANGE_STAFF)
def live():
    """Server-sent events: `trade`, `alert`, `alert_changed`, `halted`, `resumed`, ... as they happen."""
    resume = request.headers.get("Last-Event-ID") or request.args.get("after")
    cursor = Cursor.parse(resume) if resume else events.latest_cursor(get_session())
    get_session().commit()  # give the request's connection back: the stream polls on its own
    return Response(
        stream.frames(current_database(), cursor),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@bp.route("/surveillance/alerts")
@requires(EXCHANGE_STAFF)
def alerts():
    """Alerts by status and rule."""
    status = request.args.get("status", "open")
    rule = request.args.get("rule") or None
    return render_template(
        "surveillance/alerts.html",
        alerts=queries.alerts(
            get_session(),
            status=status if status in ("open", "closed", "all") else "open",
            rule=rule,
        ),
        status=status,
        rule=rule,
        rules=RULES,
    )


@bp.route("/surveillance/alerts/<int:alert_id>")
@requires(EXCHANGE_STAFF)
def alert(alert_id: int):
    """An alert: what the rule saw, the orders, trades and bids behind it, and what can be done."""
    reads = get_session()
    found = reads.get(Alert, alert_id)
    if found is None:
        raise NotFound(_("No such alert."))
    evidence = found.evidence or {}
    staff = reads.scalars(select(User).where(User.id.in_(services.staff_ids(reads)))).all()
    return render_template(
        "surveillance/alert.html",
        alert=found,
        trades=_by_ids(reads, Trade, evidence.get("trades")),
        orders=_by_ids(reads, ExchangeOrder, evidence.get("orders")),
        bids=_by_ids(reads, Bid, evidence.get("bids")),
        auctions=_by_ids(reads, Auction, evidence.get("auctions")),
        tenders=_by_ids(reads, Tender, evidence.get("tenders")),
        staff=staff,
        cases=queries.cases(reads),
    )


def _by_ids(reads, model, ids):
    if not ids:
        return []
    return list(reads.scalars(select(model).where(model.id.in_(ids)).order_by(model.id)))


_STEPS = {
    "acknowledge": (services.acknowledge, Schema, N_("Acknowledged: the alert is yours.")),
    "assign": (services.assign, AssignSchema, N_("Assigned.")),
    "escalate": (services.escalate, ReasonSchema, N_("Escalated to the supervisors.")),
    "note": (services.annotate, NoteSchema, N_("Note added.")),
    "close": (services.close, CloseSchema, N_("Alert closed.")),
}


@bp.route("/surveillance/alerts/<int:alert_id>/<step>", methods=["POST"])
@requires(EXCHANGE_STAFF)
def alert_step(alert_id: int, step: str):
    """Acknowledge, assign, escalate, annotate or close an alert from its page."""
    if step not in _STEPS:
        raise NotFound(_("No such step."))
    service, schema, told = _STEPS[step]
    post_step(
        schema(),
        lambda write, data: service(
            write, actor_id=current_actor().user_id, alert_id=alert_id, **data
        ),
        lambda _done: _(told),
    )
    return redirect(url_for("surveillance.alert", alert_id=alert_id))


@bp.route("/surveillance/cases")
@requires(EXCHANGE_STAFF)
def cases():
    return render_template("surveillance/cases.html", cases=queries.cases(get_session()))


@bp.route("/surveillance/cases", methods=["POST"])
@requires(EXCHANGE_STAFF)
def open_case():
    """Open a case, with the alert it was opened from."""
    form = Form(OpenCaseSchema())
    if form.validate_on_submit():
        case = form.submit(
            lambda write: services.open_case(write, actor_id=current_actor().user_id, **form.data)
        )
        if case is not None:
            flash(_("Case opened."), "success")
            return redirect(url_for("surveillance.case", case_id=case.id))
    form.flash_problems()
    return redirect(url_for("surveillance.cases"))


@bp.route("/surveillance/cases/<int:case_id>")
@requires(EXCHANGE_STAFF)
def case(case_id: int):
    found = get_session().get(Case, case_id)
    if found is None:
        raise NotFound(_("No such case."))
    return render_template("surveillance/case.html", case=found)


@bp.route("/surveillance/cases/<int:case_id>/notes", methods=["POST"])
@requires(EXCHANGE_STAFF)
def note_case(case_id: int):
    """A note on the case, with a file if one is attached."""
    text = (request.form.get("text") or "").strip()
    attached = request.files.get("file")
    form = Form(Schema())

    def note(write):
        upload = None
        if attached and attached.filename:
            upload = uploads.store_upload(
                write,
                organisation_id=current_actor().organisation_id,
                kind=uploads.UploadKind.document,
                filename=attached.filename,
                data=attached.read(),
                folder=uploads.upload_folder(),
            )
            write.flush()  # the note names the file
        return services.note_case(
            write,
            actor_id=current_actor().user_id,
            case_id=case_id,
            text=text,
            upload_id=upload.id if upload else None,
        )

    if form.submit(note) is not None:
        flash(_("Note added."), "success")
    form.flash_problems()
    return redirect(url_for("surveillance.case", case_id=case_id))
