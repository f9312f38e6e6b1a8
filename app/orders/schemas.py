"""What buyers, sellers and admins send about orders and money, and what they get back."""

from collections.abc import Mapping
from datetime import date

from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import EXCLUDE, Schema, fields, validate

from app.accounts.schemas import Text
from app.catalog.schemas import MAX_QUANTITY, Yuan
from app.errors import RuleViolation
from app.orders.models import OrderStatus, PaymentMethod, TestOutcome
from app.web import ID_RANGE, PAGE_RANGE

_QUANTITY = validate.Range(min=1, max=MAX_QUANTITY)
MAX_MONEY_FEN = 10_000_000_000  # ¥100,000,000: above that it is a typing mistake
_MONEY = validate.Range(
    min=1, max=MAX_MONEY_FEN, error=_l("Must be more than ¥0 and at most ¥100,000,000.")
)


class OrderLineInSchema(Schema):
    listing_id = fields.Integer(required=True, validate=ID_RANGE)
    quantity = fields.Integer(
        required=True, validate=_QUANTITY, metadata={"description": "In the listing's unit."}
    )


class DeliveryFieldsSchema(Schema):
    delivery_point = Text(required=True, validate=validate.Length(min=1, max=200))
    delivery_date = fields.Date(
        required=True,
        validate=validate.Range(max=date(2100, 12, 31), error=_l("Enter a date before 2100.")),
    )
    window_start = fields.Time(required=True, metadata={"example": "06:00"})
    window_end = fields.Time(required=True, metadata={"example": "06:30"})
    note = Text(load_default="", validate=validate.Length(max=500))
    payment = fields.Enum(
        PaymentMethod,
        load_default=PaymentMethod.wallet,
        metadata={
            "description": "wallet: held now from the wallet; account: on credit; later: pay "
            "before the order expires."
        },
    )


class PlaceOrderSchema(DeliveryFieldsSchema):
    lines = fields.List(
        fields.Nested(OrderLineInSchema),
        required=True,
        validate=validate.Length(min=1, max=100),
    )


class CheckoutForm(DeliveryFieldsSchema):
    """The cart page's form; its hidden key makes a double click place the orders once."""

    idempotency_key = fields.String(
        required=True,
        validate=[
            validate.Length(min=1, max=100),
            validate.Regexp(r"^[^:]*$", error=_l("A key has no “:”.")),
        ],
    )


class OrderQuerySchema(Schema):
    side = fields.String(
        load_default="buying",
        validate=validate.OneOf(["buying", "selling"]),
        metadata={"description": "buying: orders your organisation placed; selling: orders to it."},
    )
    status = fields.Enum(OrderStatus, load_default=None)
    page = fields.Integer(load_default=1, validate=PAGE_RANGE)
    size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class PayOrderSchema(Schema):
    payment = fields.Enum(PaymentMethod, required=True)


class CancelOrderSchema(Schema):
    reason = Text(load_default="", validate=validate.Length(max=200))


class AcceptedLineSchema(Schema):
    line_id = fields.Integer(required=True, validate=ID_RANGE)
    accepted_quantity = fields.Integer(
        required=True, validate=validate.Range(min=0, max=MAX_QUANTITY)
    )


class InspectionFieldsSchema(Schema):
    inspectors = Text(required=True, validate=validate.Length(min=1, max=200))
    weights = Text(load_default="", validate=validate.Length(max=500))
    test_outcome = fields.Enum(TestOutcome, required=True)
    note = Text(load_default="", validate=validate.Length(max=2000))


class AcceptOrderSchema(InspectionFieldsSchema):
    lines = fields.List(
        fields.Nested(AcceptedLineSchema),
        load_default=list,
        metadata={
            "description": "What is accepted of each line; a line left out is accepted in full."
        },
    )


class AcceptOrderForm(InspectionFieldsSchema):
    """The page's form: each line's accepted quantity comes as `accepted-<line id>`, read by
    accepted_quantities() (the field names depend on the order)."""

    class Meta:
        unknown = EXCLUDE


ACCEPTED_PREFIX = "accepted-"


def accepted_quantities(form: Mapping[str, str], line_ids: list[int]) -> dict[int, int]:
    """Each line's accepted quantity from the page's form; a line left blank or unreadable is refused on
    its own field, never taken as "all of it"."""
    accepted = {}
    for line_id in line_ids:
        typed = form.get(f"{ACCEPTED_PREFIX}{line_id}", "").strip()
        if not typed.isdigit() or int(typed) > MAX_QUANTITY:
            raise RuleViolation(
                _("Enter how much of this line you accept: a whole number, 0 for none."),
                field=f"lines.{line_id}",
            )
        accepted[line_id] = int(typed)
    return accepted


class AddToCartForm(Schema):
    listing_id = fields.Integer(required=True, validate=ID_RANGE)
    quantity = fields.Integer(required=True, validate=validate.Range(min=0, max=MAX_QUANTITY))


class DisputeSchema(Schema):
    reason = Text(required=True, validate=validate.Length(min=1, max=2000))


class ResolveDisputeForm(Schema):
    refund_fen = Yuan(
        data_key="refund_yuan", required=True, validate=validate.Range(min=0, max=MAX_MONEY_FEN)
    )
    resolution = Text(required=True, validate=validate.Length(min=1, max=2000))


class BankTransferForm(Schema):
    organisation_id = fields.Integer(required=True, validate=ID_RANGE)
    reference = Text(required=True, validate=validate.Length(min=1, max=60))
    amount_fen = Yuan(data_key="amount_yuan", required=True, validate=_MONEY)
    received_on = fields.Date(required=True)


class CreditTermsForm(Schema):
    organisation_id = fields.Integer(required=True, validate=ID_RANGE)
    limit_fen = Yuan(
        data_key="limit_yuan", required=True, validate=validate.Range(min=0, max=MAX_MONEY_FEN)
    )
    days = fields.Integer(required=True, validate=validate.Range(min=1, max=180))


class FeeRateForm(Schema):
    basis_points = fields.Integer(required=True, validate=validate.Range(min=0, max=3000))


class PartySchema(Schema):
    id = fields.Integer()
    name = fields.Function(lambda organisation: organisation.name_zh)


class OrderLineSchema(Schema):
    id = fields.Integer()
    listing_id = fields.Integer()
    batch_code = fields.Function(lambda line: line.batch.code if line.batch else None)
    title = fields.String()
    unit = fields.String(attribute="unit_code")
    quantity = fields.Integer()
    price_fen = fields.Integer()
    amount_fen = fields.Integer()
    accepted_quantity = fields.Integer(allow_none=True)


class InspectionSchema(Schema):
    inspectors = fields.String()
    photos = fields.Function(
        lambda inspection: [
            url_for("files.serve", token=photo.upload.token) for photo in inspection.photos
        ]
    )
    weights = fields.String()
    test_outcome = fields.Enum(TestOutcome)
    note = fields.String()
    signed_by = fields.Function(lambda inspection: inspection.signed_by.name)
    signed_at = fields.DateTime()


class DisputeOutSchema(Schema):
    reason = fields.String()
    opened_at = fields.DateTime()
    refund_fen = fields.Integer(allow_none=True)
    resolution = fields.String()
    resolved_at = fields.DateTime(allow_none=True)


class OrderSchema(Schema):
    id = fields.Integer()
    status = fields.Enum(OrderStatus)
    buyer = fields.Nested(PartySchema)
    seller = fields.Nested(PartySchema)
    payment = fields.Enum(PaymentMethod)
    total_fen = fields.Integer()
    fee_bps = fields.Integer()
    accepted_fen = fields.Integer(allow_none=True)
    fee_fen = fields.Integer(allow_none=True)
    refunded_fen = fields.Integer()
    delivery_point = fields.String()
    delivery_date = fields.Date()
    window_start = fields.Time()
    window_end = fields.Time()
    note = fields.String()
    cancel_reason = fields.String()
    placed_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True)
    paid_at = fields.DateTime(allow_none=True)
    shipped_at = fields.DateTime(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)
    accepted_at = fields.DateTime(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)
    cancelled_at = fields.DateTime(allow_none=True)
    lines = fields.List(fields.Nested(OrderLineSchema))
    inspection = fields.Nested(InspectionSchema, allow_none=True)
    dispute = fields.Nested(DisputeOutSchema, allow_none=True)


class CardPaymentSchema(Schema):
    intent_id = fields.String(metadata={"description": "The Stripe PaymentIntent."})
    client_secret = fields.String(
        metadata={"description": "For Stripe.js confirmPayment on the buyer's device."}
    )
    amount_fen = fields.Integer()


class CheckoutSchema(Schema):
    checkout_id = fields.Integer(attribute="id")
    orders = fields.List(fields.Nested(OrderSchema))
    card_payment = fields.Nested(
        CardPaymentSchema,
        metadata={
            "description": "With payment=card: confirm it with Stripe.js; the orders become paid "
            "when Stripe reports success."
        },
    )


class WebhookReceiptSchema(Schema):
    id = fields.String()
    duplicate = fields.Boolean(metadata={"description": "True: this event was acted on before."})


class OrderPageSchema(Schema):
    items = fields.List(fields.Nested(OrderSchema))
    page = fields.Integer()
    size = fields.Integer()
    total = fields.Integer()


class WalletSchema(Schema):
    wallet_fen = fields.Integer(metadata={"description": "Money transferred in and not yet spent."})
    owed_by_you_fen = fields.Integer(metadata={"description": "What you owe on account."})
    owed_to_you_fen = fields.Integer(metadata={"description": "What the next payout pays you."})
    credit_limit_fen = fields.Integer(allow_none=True)
    payment_days = fields.Integer(allow_none=True)
