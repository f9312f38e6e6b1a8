"""What buyers, sellers and dispatchers send about scheduling, and what they get back."""

from datetime import date

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate

from app.accounts.schemas import Text
from app.catalog.schemas import MAX_QUANTITY
from app.orders.models import PaymentMethod
from app.web import ID_RANGE

_DAY = validate.Range(max=date(2100, 12, 31), error=_l("Enter a date before 2100."))
_KG = validate.Range(min=1, max=1_000_000, error=_l("Between 1 and 1,000,000 kg."))
# China's mainland and islands lie within these bounds; a point outside is a typing mistake.
_LATITUDE = validate.Range(min=18, max=54, error=_l("Outside China: a latitude between 18 and 54."))
_LONGITUDE = validate.Range(
    min=73, max=136, error=_l("Outside China: a longitude between 73 and 136.")
)


class DeliveryPointSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = Text(required=True, validate=validate.Length(min=1, max=200))
    address = Text(load_default="", validate=validate.Length(max=200))
    latitude = fields.Float(required=True, validate=_LATITUDE, metadata={"example": 27.772})
    longitude = fields.Float(required=True, validate=_LONGITUDE, metadata={"example": 107.481})
    window_start = fields.Time(required=True, metadata={"example": "06:00"})
    window_end = fields.Time(required=True, metadata={"example": "06:30"})


class ClosureSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = Text(required=True, validate=validate.Length(min=1, max=60))
    starts_on = fields.Date(required=True, validate=_DAY)
    ends_on = fields.Date(required=True, validate=_DAY)


class SupplyTermsSchema(Schema):
    daily_capacity_kg = fields.Integer(required=True, validate=_KG)
    cutoff = fields.Time(required=True, metadata={"example": "18:00"})
    cutoff_days = fields.Integer(
        load_default=1,
        validate=validate.Range(min=0, max=7),
        metadata={
            "description": "Orders for a day are taken until `cutoff`, this many days before."
        },
    )


class VehicleSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = Text(required=True, validate=validate.Length(min=1, max=60))
    capacity_kg = fields.Integer(
        required=True,
        validate=validate.Range(
            min=1, max=100_000, error=_l("A vehicle carries between 1 and 100,000 kg.")
        ),
    )
    refrigerated = fields.Boolean(load_default=False)
    depot_latitude = fields.Float(required=True, validate=_LATITUDE)
    depot_longitude = fields.Float(required=True, validate=_LONGITUDE)
    shift_start = fields.Time(required=True, metadata={"example": "05:30"})
    shift_end = fields.Time(required=True, metadata={"example": "13:00"})
    active = fields.Boolean(dump_only=True)


class StandingLineSchema(Schema):
    listing_id = fields.Integer(required=True, validate=ID_RANGE)
    quantity = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_QUANTITY))


class StandingOrderSchema(Schema):
    """A standing order: the weekdays (1 is Monday), the window, the delivery point and the lines."""

    class Meta:
        unknown = EXCLUDE

    delivery_point_id = fields.Integer(required=True, validate=ID_RANGE)
    weekdays = fields.List(
        fields.Integer(validate=validate.Range(min=1, max=7)),
        required=True,
        validate=validate.Length(min=1, max=7, error=_l("Choose at least one weekday.")),
    )
    window_start = fields.Time(required=True)
    window_end = fields.Time(required=True)
    starts_on = fields.Date(required=True, validate=_DAY)
    ends_on = fields.Date(load_default=None, validate=_DAY)
    days_ahead = fields.Integer(load_default=2, validate=validate.Range(min=1, max=14))
    payment = fields.Enum(PaymentMethod, load_default=PaymentMethod.wallet)
    note = Text(load_default="", validate=validate.Length(max=300))
    lines = fields.List(
        fields.Nested(StandingLineSchema), required=True, validate=validate.Length(min=1, max=20)
    )

    @post_load
    def weekdays_as_text(self, data: dict, **_kwargs) -> dict:
        if data["payment"] not in (PaymentMethod.wallet, PaymentMethod.account):
            raise ValidationError(
                _("A standing order pays from the wallet or on account."), "payment"
            )
        return {**data, "weekdays": "".join(str(day) for day in sorted(set(data["weekdays"])))}


class StandingOrderForm(StandingOrderSchema):
    """The page's form: up to three lines as listing_1/quantity_1 ... (a split across suppliers)."""

    lines = fields.List(fields.Nested(StandingLineSchema), load_default=list)
    listing_1 = fields.Integer(load_default=None, validate=ID_RANGE)
    quantity_1 = fields.Integer(load_default=None, validate=validate.Range(min=1, max=MAX_QUANTITY))
    listing_2 = fields.Integer(load_default=None, validate=ID_RANGE)
    quantity_2 = fields.Integer(load_default=None, validate=validate.Range(min=1, max=MAX_QUANTITY))
    listing_3 = fields.Integer(load_default=None, validate=ID_RANGE)
    quantity_3 = fields.Integer(load_default=None, validate=validate.Range(min=1, max=MAX_QUANTITY))

    @post_load
    def lines_from_rows(self, data: dict, **_kwargs) -> dict:
        lines = []
        for n in (1, 2, 3):
            listing, quantity = data.pop(f"listing_{n}"), data.pop(f"quantity_{n}")
            if listing and quantity:
                lines.append({"listing_id": listing, "quantity": quantity})
            elif listing or quantity:
                raise ValidationError(_("Give both the listing and the quantity."), f"quantity_{n}")
        if not lines:
            raise ValidationError(_("Give at least one listing and its quantity."), "quantity_1")
        return {**data, "lines": lines}


class StandingLineOutSchema(Schema):
    listing_id = fields.Integer()
    title = fields.String(attribute="listing.title")
    quantity = fields.Integer()


class StandingOrderOutSchema(Schema):
    id = fields.Integer()
    delivery_point = fields.String(attribute="delivery_point.name")
    weekdays = fields.String()
    window_start = fields.Time()
    window_end = fields.Time()
    starts_on = fields.Date()
    ends_on = fields.Date(allow_none=True)
    days_ahead = fields.Integer()
    payment = fields.String()
    active = fields.Boolean()
    lines = fields.List(fields.Nested(StandingLineOutSchema))


class StandingDeliverySchema(Schema):
    standing_order_id = fields.Integer()
    day = fields.Date()
    status = fields.String()
    checkout_id = fields.Integer(allow_none=True)
    problem = fields.String()


class HarvestSchema(Schema):
    id = fields.Integer(dump_only=True)
    product = fields.String(required=True, metadata={"example": "chinese_cabbage"})
    zone = Text(load_default="", validate=validate.Length(max=60))
    quantity_kg = fields.Integer(required=True, validate=_KG)
    first_week = fields.Date(required=True, validate=_DAY)
    weeks = fields.Integer(required=True, validate=validate.Range(min=1, max=52))


class HarvestOutSchema(Schema):
    id = fields.Integer()
    product = fields.String(attribute="product.code")
    zone = fields.String()
    quantity_kg = fields.Integer()
    first_week = fields.Date()
    weeks = fields.Integer()


class PlanDaySchema(Schema):
    day = fields.Date(required=True, validate=_DAY)


class MoveStopSchema(Schema):
    vehicle_id = fields.Integer(
        load_default=None,
        validate=ID_RANGE,
        metadata={
            "description": "The vehicle to put the stop on; leave out to let the planner choose."
        },
    )


class RouteSchema(Schema):
    id = fields.Integer()
    vehicle_id = fields.Integer()
    vehicle = fields.String(attribute="vehicle.name")
    travel_minutes = fields.Integer()
    departed_at = fields.DateTime(allow_none=True)


class StopSchema(Schema):
    id = fields.Integer()
    buyer_id = fields.Integer()
    point_name = fields.String()
    window_start = fields.Time()
    window_end = fields.Time()
    load_kg = fields.Integer()
    cold = fields.Boolean()
    orders = fields.List(fields.Integer())
    vehicle_id = fields.Integer(allow_none=True)
    sequence = fields.Integer(allow_none=True)
    eta = fields.DateTime(allow_none=True)
    pinned = fields.Boolean()
    unserved_reason = fields.String(metadata={"description": "Why it is on no vehicle, if so."})
    arrived_at = fields.DateTime(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)
    late = fields.Boolean()


class PlanSchema(Schema):
    id = fields.Integer()
    day = fields.Date()
    planned_at = fields.DateTime()
    travel_minutes = fields.Integer()
    solve_ms = fields.Integer()
    routes = fields.List(fields.Nested(RouteSchema))
    stops = fields.List(fields.Nested(StopSchema))


class SupplyQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    product = fields.String(load_default="chinese_cabbage")
    weeks = fields.Integer(load_default=12, validate=validate.Range(min=1, max=52))


class WeekSchema(Schema):
    monday = fields.Date()
    supply_kg = fields.Integer()
    contracts_kg = fields.Integer()
    standing_kg = fields.Integer()
    demand_kg = fields.Integer()
    shortfall_kg = fields.Integer()
