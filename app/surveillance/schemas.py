"""What exchange staff send to the surveillance console and API, and what they get back."""

from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields, validate

from app.accounts.schemas import Text
from app.exchange.schemas import PublicTradeSchema
from app.live.schemas import LocalDateTime
from app.surveillance.words import alert_summary
from app.web import ID_RANGE

_REASON = validate.Length(min=1, max=500, error=_l("Say why, in 1 to 500 characters."))


class ReasonSchema(Schema):
    reason = Text(required=True, validate=_REASON)


class AssignSchema(Schema):
    assignee_id = fields.Integer(required=True, validate=ID_RANGE)


class NoteSchema(Schema):
    text = Text(required=True, validate=validate.Length(min=1, max=4000))


class CloseSchema(Schema):
    resolution = Text(required=True, validate=_REASON)


class OpenCaseSchema(Schema):
    title = Text(required=True, validate=validate.Length(min=1, max=200))
    alert_ids = fields.List(fields.Integer(validate=ID_RANGE), load_default=list)


class HaltInstrumentSchema(Schema):
    symbol = Text(required=True, validate=validate.Length(min=1, max=20))
    reason = Text(required=True, validate=_REASON)


class CloseDaySchema(Schema):
    day = fields.Date(required=True, metadata={"description": "A coming day, in China time."})
    name = Text(
        required=True,
        validate=validate.Length(min=1, max=60),
        metadata={"description": "Why: the holiday's name (春节, 国庆节)."},
    )


class ForceCancelSchema(Schema):
    reason = Text(required=True, validate=_REASON)


class ProposeSuspensionSchema(Schema):
    organisation_id = fields.Integer(required=True, validate=ID_RANGE)
    reason = Text(required=True, validate=_REASON)


class DecideSchema(Schema):
    approve = fields.Boolean(required=True)
    note = Text(load_default="", validate=validate.Length(max=500))


class ThresholdsSchema(Schema):
    values = fields.Dict(
        keys=fields.String(),
        values=fields.Float(validate=validate.Range(min=0, max=1_000_000)),
        required=True,
        metadata={"example": {"percent": 5, "window_minutes": 30}},
    )


class AlertQuery(Schema):
    status = fields.String(load_default="open", validate=validate.OneOf(["open", "all", "closed"]))
    rule = fields.String(load_default=None)


class AuditQuery(Schema):
    action = Text(load_default="")
    subject = Text(load_default="")
    actor_id = fields.Integer(load_default=None, validate=ID_RANGE)
    since = LocalDateTime(load_default=None)
    until = LocalDateTime(load_default=None)


class TapeQuery(Schema):
    symbol = Text(load_default="")
    member_id = fields.Integer(load_default=None, validate=ID_RANGE)
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


# --- what comes back ---------------------------------------------------------------------------------


class AlertNoteSchema(Schema):
    author_id = fields.Integer()
    text = fields.String()
    written_at = fields.DateTime()


class AlertSchema(Schema):
    id = fields.Integer()
    rule = fields.String()
    severity = fields.String()
    status = fields.String()
    instrument_id = fields.Integer(allow_none=True)
    member_ids = fields.List(fields.Integer())
    facts = fields.Dict()
    evidence = fields.Dict(
        metadata={"description": "Ids of the orders, trades, bids, auctions, tenders."}
    )
    raised_at = fields.DateTime()
    assignee_id = fields.Integer(allow_none=True)
    case_id = fields.Integer(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    resolution = fields.String()
    summary = fields.Function(alert_summary, metadata={"description": "In the reader's language."})
    notes = fields.List(fields.Nested(AlertNoteSchema))


class CaseSchema(Schema):
    id = fields.Integer()
    title = fields.String()
    opened_by_id = fields.Integer()
    opened_at = fields.DateTime()
    alert_ids = fields.Function(lambda case: [alert.id for alert in case.alerts])
    notes = fields.List(fields.Nested(AlertNoteSchema))


class SuspensionSchema(Schema):
    id = fields.Integer()
    organisation_id = fields.Integer()
    reason = fields.String()
    status = fields.String()
    proposed_by_id = fields.Integer()
    proposed_at = fields.DateTime()
    decided_by_id = fields.Integer(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    decision_note = fields.String()


class ThresholdOutSchema(Schema):
    rule = fields.String()
    values = fields.Dict()


class AuditEntrySchema(Schema):
    id = fields.Integer()
    at = fields.DateTime()
    actor_id = fields.Integer(allow_none=True)
    action = fields.String()
    subject = fields.String()
    reason = fields.String()
    detail = fields.Dict()
    hash = fields.String()
    prev_hash = fields.String()


class TapeTradeSchema(PublicTradeSchema):
    """A trade as exchange staff see it: with both members."""

    buyer_id = fields.Integer()
    seller_id = fields.Integer()
