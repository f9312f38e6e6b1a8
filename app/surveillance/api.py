"""JSON API for exchange staff: alerts and what is done with them, cases, actions on the market (halts,
force-cancels, suspensions, closed days), thresholds, the trade tape and the audit trail (also as CSV)."""

import csv
import io
from datetime import date

from flask import Response
from flask_babel import gettext as _

from app.auth import EXCHANGE_STAFF, SUPERVISORS, current_actor, requires
from app.db import get_session, transaction
from app.errors import NotFound
from app.exchange.models import Instrument, Suspension
from app.exchange.schemas import (
    ClosedDaySchema,
    CreateInstrumentSchema,
    InstrumentSchema,
    in_fen,
)
from app.surveillance import queries, services
from app.surveillance.models import Alert, Case, Threshold
from app.surveillance.rules import DEFAULTS
from app.surveillance.schemas import (
    AlertQuery,
    AlertSchema,
    AssignSchema,
    AuditEntrySchema,
    AuditQuery,
    CaseSchema,
    CloseDaySchema,
    CloseSchema,
    DecideSchema,
    ForceCancelSchema,
    HaltInstrumentSchema,
    NoteSchema,
    OpenCaseSchema,
    ProposeSuspensionSchema,
    ReasonSchema,
    SuspensionSchema,
    TapeQuery,
    TapeTradeSchema,
    ThresholdOutSchema,
    ThresholdsSchema,
)
from app.web import ApiBlueprint

blp = ApiBlueprint(
    "surveillance_api",
    __name__,
    url_prefix="/api/v1/surveillance",
    description="Market surveillance for exchange staff: alerts, cases, halts, suspensions, the audit trail.",
)


def _staff() -> int:
    return current_actor().user_id


def _alert_step(service, alert_id: int, **values) -> Alert:
    with transaction() as write:
        service(write, actor_id=_staff(), alert_id=alert_id, **values)
    return get_session().get(Alert, alert_id)


@blp.route("/alerts", methods=["GET"])
@blp.arguments(AlertQuery, location="query")
@blp.response(200, AlertSchema(many=True))
@requires(EXCHANGE_STAFF)
def alerts_index(query):
    """Alerts, newest first: open ones (the default), closed ones, or all; optionally one rule's."""
    return queries.alerts(get_session(), **query)


@blp.route("/alerts/<int:alert_id>", methods=["GET"])
@blp.response(200, AlertSchema)
@requires(EXCHANGE_STAFF)
def alert_detail(alert_id: int):
    """An alert with its facts, evidence and notes."""
    alert = get_session().get(Alert, alert_id)
    if alert is None:
        raise NotFound(_("No such alert."))
    return alert


@blp.route("/alerts/<int:alert_id>/acknowledge", methods=["POST"])
@blp.response(200, AlertSchema)
@requires(EXCHANGE_STAFF)
def acknowledge(alert_id: int):
    """Say you are on it."""
    return _alert_step(services.acknowledge, alert_id)


@blp.route("/alerts/<int:alert_id>/assign", methods=["POST"])
@blp.arguments(AssignSchema)
@blp.response(200, AlertSchema)
@requires(EXCHANGE_STAFF)
def assign(data, alert_id: int):
    """Give the alert to an officer or supervisor."""
    return _alert_step(services.assign, alert_id, **data)


@blp.route("/alerts/<int:alert_id>/escalate", methods=["POST"])
@blp.arguments(ReasonSchema)
@blp.response(200, AlertSchema)
@requires(EXCHANGE_STAFF)
def escalate(data, alert_id: int):
    """Hand the alert to the supervisors."""
    return _alert_step(services.escalate, alert_id, **data)


@blp.route("/alerts/<int:alert_id>/notes", methods=["POST"])
@blp.arguments(NoteSchema)
@blp.response(201, AlertSchema)
@requires(EXCHANGE_STAFF)
def annotate(data, alert_id: int):
    """Add a note to the alert."""
    return _alert_step(services.annotate, alert_id, **data)


@blp.route("/alerts/<int:alert_id>/close", methods=["POST"])
@blp.arguments(CloseSchema)
@blp.response(200, AlertSchema)
@requires(EXCHANGE_STAFF)
def close(data, alert_id: int):
    """Close the alert with its resolution."""
    return _alert_step(services.close, alert_id, **data)


@blp.route("/cases", methods=["GET"])
@blp.response(200, CaseSchema(many=True))
@requires(EXCHANGE_STAFF)
def cases_index():
    """Cases, newest first."""
    return queries.cases(get_session())


@blp.route("/cases", methods=["POST"])
@blp.arguments(OpenCaseSchema)
@blp.response(201, CaseSchema)
@requires(EXCHANGE_STAFF)
def open_case(data):
    """Open a case grouping alerts."""
    with transaction() as write:
        case = services.open_case(write, actor_id=_staff(), **data)
    return get_session().get(Case, case.id)


@blp.route("/cases/<int:case_id>/notes", methods=["POST"])
@blp.arguments(NoteSchema)
@blp.response(201, CaseSchema)
@requires(EXCHANGE_STAFF)
def note_case(data, case_id: int):
    """Add a note to a case."""
    with transaction() as write:
        services.note_case(write, actor_id=_staff(), case_id=case_id, **data)
    return get_session().get(Case, case_id)


@blp.route("/instruments", methods=["POST"])
@blp.arguments(CreateInstrumentSchema)
@blp.response(201, InstrumentSchema)
@requires(EXCHANGE_STAFF)
def open_instrument(data):
    """Open an instrument for trading, with its rules: modes, sessions, tick, lot, band, limit, fee."""
    with transaction() as write:
        instrument = services.open_instrument(write, actor_id=_staff(), **in_fen(data))
    return get_session().get(Instrument, instrument.id)


@blp.route("/closed-days", methods=["POST"])
@blp.arguments(CloseDaySchema)
@blp.response(201, ClosedDaySchema)
@requires(EXCHANGE_STAFF)
def close_day(data):
    """Close the exchange on a coming day (a public holiday): no instrument trades on it."""
    with transaction() as write:
        return services.close_exchange_day(write, actor_id=_staff(), **data)


@blp.route("/closed-days/<day:day>/reopen", methods=["POST"])
@blp.arguments(ReasonSchema)
@blp.response(200, ClosedDaySchema)
@requires(EXCHANGE_STAFF)
def reopen_day(data, day: date):
    """Trade on a closed coming day after all (the reason goes into the audit trail)."""
    with transaction() as write:
        return services.reopen_exchange_day(
            write, actor_id=_staff(), day=day, reason=data["reason"]
        )


@blp.route("/halts", methods=["POST"])
@blp.arguments(HaltInstrumentSchema)
@blp.response(200, description="The instrument is halted.")
@requires(EXCHANGE_STAFF)
def halt(data):
    """Halt an instrument: every web worker refuses its new orders, takes and bids from now on."""
    with transaction() as write:
        services.halt_instrument(write, actor_id=_staff(), halted=True, **data)
    return {"symbol": data["symbol"].upper(), "halted": True}


@blp.route("/resumptions", methods=["POST"])
@blp.arguments(HaltInstrumentSchema)
@blp.response(200, description="The instrument trades again.")
@requires(EXCHANGE_STAFF)
def resume(data):
    """Resume trading in a halted instrument."""
    with transaction() as write:
        services.halt_instrument(write, actor_id=_staff(), halted=False, **data)
    return {"symbol": data["symbol"].upper(), "halted": False}


@blp.route("/auctions/<int:auction_id>/halt", methods=["POST"])
@blp.arguments(ReasonSchema)
@blp.response(200, description="The auction is halted.")
@requires(EXCHANGE_STAFF)
def halt_auction(data, auction_id: int):
    """Halt one auction: no bids, no takes, no close until it is resumed."""
    with transaction() as write:
        services.halt_auction(write, actor_id=_staff(), auction_id=auction_id, halted=True, **data)
    return {"auction_id": auction_id, "halted": True}


@blp.route("/auctions/<int:auction_id>/resume", methods=["POST"])
@blp.arguments(ReasonSchema)
@blp.response(200, description="The auction runs again.")
@requires(EXCHANGE_STAFF)
def resume_auction(data, auction_id: int):
    """Resume a halted auction (one whose time ran out gets a few minutes to finish)."""
    with transaction() as write:
        services.halt_auction(write, actor_id=_staff(), auction_id=auction_id, halted=False, **data)
    return {"auction_id": auction_id, "halted": False}


@blp.route("/orders/<int:order_id>/cancel", methods=["POST"])
@blp.arguments(ForceCancelSchema)
@blp.response(200, description="The order is off the book.")
@requires(EXCHANGE_STAFF)
def force_cancel(data, order_id: int):
    """Take a member's order off the book, saying why."""
    with transaction() as write:
        services.force_cancel(write, actor_id=_staff(), order_id=order_id, **data)
    return {"order_id": order_id, "status": "cancelled"}


@blp.route("/suspensions", methods=["GET"])
@blp.response(200, SuspensionSchema(many=True))
@requires(EXCHANGE_STAFF)
def suspensions_index():
    """Suspensions proposed, in force and past, newest first."""
    return queries.suspensions(get_session())


@blp.route("/suspensions", methods=["POST"])
@blp.arguments(ProposeSuspensionSchema)
@blp.response(201, SuspensionSchema)
@requires(EXCHANGE_STAFF)
def propose_suspension(data):
    """Propose suspending a member; a supervisor other than you decides."""
    with transaction() as write:
        suspension = services.propose_suspension(write, actor_id=_staff(), **data)
    return get_session().get(Suspension, suspension.id)


@blp.route("/suspensions/<int:suspension_id>/decide", methods=["POST"])
@blp.arguments(DecideSchema)
@blp.response(200, SuspensionSchema)
@requires(SUPERVISORS)
def decide_suspension(data, suspension_id: int):
    """Approve (the member stops trading at once) or reject a proposed suspension (four eyes)."""
    with transaction() as write:
        services.decide_suspension(write, actor_id=_staff(), suspension_id=suspension_id, **data)
    return get_session().get(Suspension, suspension_id)


@blp.route("/suspensions/<int:suspension_id>/lift", methods=["POST"])
@blp.arguments(ReasonSchema)
@blp.response(200, SuspensionSchema)
@requires(SUPERVISORS)
def lift_suspension(data, suspension_id: int):
    """Let a suspended member trade again."""
    with transaction() as write:
        services.lift_suspension(
            write, actor_id=_staff(), suspension_id=suspension_id, note=data["reason"]
        )
    return get_session().get(Suspension, suspension_id)


@blp.route("/thresholds", methods=["GET"])
@blp.response(200, ThresholdOutSchema(many=True))
@requires(EXCHANGE_STAFF)
def thresholds_index():
    """Every rule's thresholds as they stand."""
    reads = get_session()
    return [
        {
            "rule": rule,
            "values": {**defaults, **(getattr(reads.get(Threshold, rule), "values", None) or {})},
        }
        for rule, defaults in DEFAULTS.items()
    ]


@blp.route("/thresholds/<rule>", methods=["PUT"])
@blp.arguments(ThresholdsSchema)
@blp.response(200, ThresholdOutSchema)
@requires(SUPERVISORS)
def set_thresholds(data, rule: str):
    """Set a rule's thresholds (supervisors)."""
    with transaction() as write:
        services.set_thresholds(write, actor_id=_staff(), rule=rule, values=data["values"])
    return get_session().get(Threshold, rule)


@blp.route("/tape", methods=["GET"])
@blp.arguments(TapeQuery, location="query")
@blp.response(200, TapeTradeSchema(many=True))
@requires(EXCHANGE_STAFF)
def tape(query):
    """The latest trades in every mode with both members, newest first; by instrument or member."""
    return queries.tape(get_session(), **query)


@blp.route("/audit", methods=["GET"])
@blp.arguments(AuditQuery, location="query")
@blp.response(200, AuditEntrySchema(many=True))
@requires(EXCHANGE_STAFF)
def audit_index(query):
    """The audit trail, newest first, searchable by action, subject, actor and time."""
    return queries.audit_entries(get_session(), **query)


@blp.route("/audit.csv", methods=["GET"])
@blp.arguments(AuditQuery, location="query")
@blp.response(200, description="The audit trail as CSV, oldest first, with each entry's hashes.")
@requires(EXCHANGE_STAFF)
def audit_csv(query):
    """The audit trail (what the search finds) as a CSV file."""
    return audit_csv_response(queries.audit_entries(get_session(), limit=None, **query))


def audit_csv_response(entries) -> Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ("id", "at", "actor_id", "action", "subject", "reason", "detail", "prev_hash", "hash")
    )
    for entry in reversed(entries):
        writer.writerow(
            (
                entry.id,
                entry.at.isoformat(),
                entry.actor_id or "",
                entry.action,
                entry.subject,
                entry.reason,
                entry.detail,
                entry.prev_hash,
                entry.hash,
            )
        )
    return Response(
        "\ufeff" + out.getvalue(),  # a BOM, so spreadsheet programs read the Chinese right
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=audit-trail.csv"},
    )
