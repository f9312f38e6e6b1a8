"""What hosts and viewers send about live sessions, and what they get back."""

from datetime import UTC, datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.accounts.schemas import Text
from app.catalog.schemas import MAX_QUANTITY, PRICE_RANGE, Yuan
from app.db import LOCAL_TIME
from app.i18n import current_language
from app.live.deals import COUNTDOWN_SECONDS, DURATION_MINUTES
from app.live.models import SessionStatus
from app.orders.models import PaymentMethod
from app.web import ID_RANGE

_QUANTITY = validate.Range(min=1, max=MAX_QUANTITY, error=_l("Between 1 and 1,000,000."))
_LINK = validate.URL(schemes={"http", "https"}, error=_l("Enter a web address (https://…)."))


def _link_or_nothing(value: str) -> None:
    if value:
        _LINK(value)


class LocalDateTime(fields.DateTime):
    """A date and time as a person in China types it ("2026-12-01T19:30"): China time unless it says
    otherwise; kept in UTC."""

    def _deserialize(self, value, attr, data, **kwargs) -> datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=LOCAL_TIME)
        if not 2000 <= moment.year <= 2100:
            raise ValidationError(_("Enter a date between 2000 and 2100."))
        return moment.astimezone(UTC)


class ScheduleSessionSchema(Schema):
    title = Text(required=True, validate=validate.Length(min=1, max=120))
    starts_at = LocalDateTime(required=True, metadata={"example": "2026-12-01T19:30"})
    listing_ids = fields.List(
        fields.Integer(validate=ID_RANGE),
        required=True,
        validate=validate.Length(min=1, max=50, error=_l("Feature 1 to 50 listings.")),
        metadata={"description": "The listings the session will feature, in order."},
    )
    stream_url = Text(load_default="", validate=_link_or_nothing)
    description = Text(load_default="", validate=validate.Length(max=2000))


class UpdateSessionSchema(ScheduleSessionSchema):
    replay_url = Text(validate=_link_or_nothing)

    class Meta:
        partial = True


class StatusSchema(Schema):
    status = fields.Enum(
        SessionStatus,
        required=True,
        metadata={"description": "live (go live or resume), paused, or ended"},
    )


class PinSchema(Schema):
    listing_id = fields.Integer(
        required=True,
        allow_none=True,
        validate=ID_RANGE,
        metadata={"description": "The listing to pin; null takes the pin down."},
    )


class StartDealSchema(Schema):
    listing_id = fields.Integer(required=True, validate=ID_RANGE)
    price_yuan = Yuan(
        required=True, validate=PRICE_RANGE, metadata={"description": "Deal price per unit, yuan."}
    )
    stock = fields.Integer(required=True, validate=_QUANTITY)
    per_customer_limit = fields.Integer(required=True, validate=_QUANTITY)
    countdown_seconds = fields.Integer(
        required=True,
        validate=validate.Range(
            *COUNTDOWN_SECONDS,
            error=_l("The countdown runs {min} to {max} seconds."),
        ),
    )
    duration_minutes = fields.Integer(
        required=True,
        validate=validate.Range(*DURATION_MINUTES, error=_l("A deal runs {min} to {max} minutes.")),
    )


class BuySchema(Schema):
    deal_id = fields.Integer(validate=ID_RANGE, metadata={"description": "Buy from this deal."})
    listing_id = fields.Integer(
        validate=ID_RANGE, metadata={"description": "Or buy this featured listing at its price."}
    )
    quantity = fields.Integer(required=True, validate=_QUANTITY)
    payment = fields.Enum(
        PaymentMethod,
        load_default=PaymentMethod.wallet,
        validate=validate.OneOf(
            [PaymentMethod.wallet, PaymentMethod.account, PaymentMethod.later],
            error=_l("Pay from the wallet, on account, or later."),
        ),
    )

    @validates_schema
    def _one_thing(self, data, **_kwargs) -> None:
        if ("deal_id" in data) == ("listing_id" in data):
            raise ValidationError(_("Name a deal or a listing, not both."), "deal_id")


class BuyForm(BuySchema):
    """The viewer page's buy button: the key it was drawn with makes a double tap one order."""

    idempotency_key = Text(
        load_default=None,
        validate=[validate.Length(min=1, max=100), validate.Regexp(r"^[^:]+$")],
    )


# --- what comes back ---------------------------------------------------------------------------------


class SessionSchema(Schema):
    id = fields.Integer()
    title = fields.String()
    description = fields.String()
    status = fields.String()
    starts_at = fields.DateTime()
    announced_at = fields.DateTime(allow_none=True)
    went_live_at = fields.DateTime(allow_none=True)
    ended_at = fields.DateTime(allow_none=True)
    stream_url = fields.String()
    replay_url = fields.String()
    seller = fields.Function(lambda live: live.seller.display_name(current_language()))
    host = fields.Function(lambda live: live.host.name)
    peak_viewers = fields.Integer()
    listing_ids = fields.Function(lambda live: [item.listing_id for item in live.featured])
    pinned_listing_id = fields.Integer(allow_none=True)


class SessionListSchema(Schema):
    live = fields.List(fields.Nested(SessionSchema))
    coming = fields.List(fields.Nested(SessionSchema))
    ended = fields.List(fields.Nested(SessionSchema))


class ListingCardSchema(Schema):
    listing_id = fields.Integer()
    title = fields.String()
    price_fen = fields.Integer()
    unit = fields.String()
    stock = fields.Integer()
    min_order = fields.Integer()


class DealCardSchema(Schema):
    deal_id = fields.Integer()
    reserve_id = fields.Integer()
    listing_id = fields.Integer()
    title = fields.String()
    unit = fields.String()
    price_fen = fields.Integer()
    was_fen = fields.Integer(metadata={"description": "The lowest price of the look-back period."})
    stock = fields.Integer()
    left = fields.Integer()
    version = fields.Integer(metadata={"description": "Grows with every change of `left`."})
    per_customer_limit = fields.Integer()
    opens_at = fields.String()
    closes_at = fields.String()
    status = fields.String(metadata={"description": "counting, running or ended"})


class StateSessionSchema(Schema):
    id = fields.Integer()
    title = fields.String()
    status = fields.String()
    starts_at = fields.String()
    stream_url = fields.String()
    replay_url = fields.String()


class StateSchema(Schema):
    cursor = fields.String(metadata={"description": "Pass as `after` to the events stream."})
    session = fields.Nested(StateSessionSchema)
    pinned = fields.Nested(ListingCardSchema, allow_none=True)
    featured = fields.List(fields.Nested(ListingCardSchema))
    deals = fields.List(fields.Nested(DealCardSchema))


class FiguresSchema(Schema):
    viewers = fields.Integer()
    peak_viewers = fields.Integer()
    visitors = fields.Integer()
    orders = fields.Integer()
    buyers = fields.Integer()
    units = fields.Integer()
    sales_fen = fields.Integer()
    conversion = fields.Float(metadata={"description": "Buyers per visitor (0.05 is 5%)."})


class ReportLineSchema(Schema):
    title = fields.String()
    unit = fields.String()
    orders = fields.Integer()
    buyers = fields.Integer()
    units = fields.Integer()
    sales_fen = fields.Integer(attribute="sales")


class DealReportSchema(ReportLineSchema):
    deal_id = fields.Function(lambda line: line["deal"].id)
    price_fen = fields.Function(lambda line: line["deal"].price_fen)
    stock = fields.Function(lambda line: line["deal"].stock)
    sell_through = fields.Float()


class MinuteSchema(Schema):
    minute = fields.DateTime()
    orders = fields.Integer()
    sales_fen = fields.Integer(attribute="sales")


class ReportSchema(Schema):
    session = fields.Nested(SessionSchema, attribute="live")
    totals = fields.Nested(FiguresSchema)
    items = fields.List(fields.Nested(ReportLineSchema))
    deals = fields.List(fields.Nested(DealReportSchema))
    minutes = fields.List(fields.Nested(MinuteSchema))
