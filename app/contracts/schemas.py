"""What the parties send about contracts (terms in yuan and percent, turned into fen and basis points), and
what they get back."""

from datetime import date
from decimal import Decimal, InvalidOperation

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate

from app.accounts.schemas import Text
from app.catalog.schemas import MAX_QUANTITY, PRICE_RANGE, Yuan
from app.contracts import terms as contract_terms
from app.contracts.models import ContractStatus, Remedy
from app.contracts.terms import Payment, PriceRule
from app.errors import RuleViolation
from app.web import ID_RANGE, PAGE_RANGE

_QUANTITY = validate.Range(min=1, max=MAX_QUANTITY)
_DAY = validate.Range(max=date(2100, 12, 31), error=_l("Enter a date before 2100."))


def deposit_cap_bps() -> int:
    """The deposit cap this platform applies (CONTRACT_DEPOSIT_CAP_PCT), in basis points, for the entry
    points to hand to the services."""
    return current_app.config["CONTRACT_DEPOSIT_CAP_PCT"] * 100


class Percent(fields.Field):
    """A share typed in percent ("10", "2.5"), kept as whole basis points (10% = 1000)."""

    def _deserialize(self, value, attr, data, **kwargs) -> int:
        try:
            share = Decimal(str(value).strip().rstrip("%").strip())
        except InvalidOperation as error:
            raise ValidationError(_("Enter a percentage, such as 10 or 2.5.")) from error
        if not share.is_finite() or abs(share) > 1000:
            raise ValidationError(_("Enter a percentage, such as 10 or 2.5."))
        if share != share.quantize(Decimal("0.01")):
            raise ValidationError(_("A percentage has at most two decimals."))
        return int(share * 100)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else contract_terms.percent(value)


class InstalmentInSchema(Schema):
    due_on = fields.Date(required=True, validate=_DAY)
    quantity = fields.Integer(required=True, validate=_QUANTITY)


class Schedule(fields.Field):
    """Deliveries as a list of {due_on, quantity} (the API) or as lines of "2026-12-07 200" (the page)."""

    def _deserialize(self, value, attr, data, **kwargs) -> list[dict]:
        if isinstance(value, str):
            value = [
                _line(number, line)
                for number, line in enumerate(value.splitlines(), 1)
                if line.strip()
            ]
        if not isinstance(value, list):
            raise ValidationError(_("Give the deliveries as a list of dates and quantities."))
        loaded = InstalmentInSchema(many=True).load(value)
        return [
            {"due_on": item["due_on"].isoformat(), "quantity": item["quantity"]} for item in loaded
        ]


def _line(number: int, line: str) -> dict:
    parts = line.replace(",", " ").replace("，", " ").split()
    if len(parts) != 2:
        raise ValidationError(
            _('Line %(n)d: write a date and a quantity, such as "2026-12-07 200".', n=number)
        )
    return {"due_on": parts[0], "quantity": parts[1]}


class TermsSchema(Schema):
    """The terms both sides negotiate. Give the deliveries as `instalments`, or as a weekly rule."""

    class Meta:
        unknown = EXCLUDE

    quantity = fields.Integer(
        load_default=None,
        validate=_QUANTITY,
        metadata={
            "description": "In the listing's unit; left out, it is the area times the expected yield."
        },
    )
    area_mu = fields.Decimal(
        load_default=None, places=1, validate=validate.Range(min=0, max=1_000_000), as_string=True
    )
    yield_per_mu = fields.Integer(
        load_default=None, validate=validate.Range(min=1, max=MAX_QUANTITY)
    )
    follows_output = fields.Boolean(load_default=False)
    quality_spec = Text(load_default="", validate=validate.Length(max=1000))
    price_rule = fields.Enum(PriceRule, required=True)
    price_fen = Yuan(
        data_key="price_yuan",
        required=True,
        validate=PRICE_RANGE,
        metadata={"description": "Per unit: the fixed price, or the floor (保底价)."},
    )
    market_adjust_bps = Percent(
        data_key="market_adjust_pct",
        load_default=0,
        validate=validate.Range(min=-5000, max=5000, error=_l("Between -50% and 50%.")),
    )
    deposit_bps = Percent(
        data_key="deposit_pct",
        load_default=0,
        validate=validate.Range(min=0, max=10_000, error=_l("Between 0% and 100%.")),
        metadata={"description": "定金, at most 20% of the contract value."},
    )
    penalty_bps = Percent(
        data_key="penalty_pct",
        load_default=0,
        validate=validate.Range(min=0, max=10_000, error=_l("Between 0% and 100%.")),
    )
    payment = fields.Enum(Payment, load_default=Payment.on_acceptance)
    payment_days = fields.Integer(load_default=0, validate=validate.Range(min=0, max=180))
    instalments = Schedule(load_default=None)
    weekly_first = fields.Date(load_default=None, validate=_DAY)
    weekly_last = fields.Date(load_default=None, validate=_DAY)
    weekly_quantity = fields.Integer(load_default=None, validate=_QUANTITY)
    delivery_point = Text(required=True, validate=validate.Length(min=1, max=200))
    window_start = fields.Time(required=True, metadata={"example": "06:00"})
    window_end = fields.Time(required=True, metadata={"example": "06:30"})
    tolerance_bps = Percent(
        data_key="tolerance_pct",
        load_default=0,
        validate=validate.Range(min=0, max=2000, error=_l("Between 0% and 20%.")),
    )
    order_days_ahead = fields.Integer(load_default=3, validate=validate.Range(min=1, max=14))
    force_majeure = Text(load_default="", validate=validate.Length(max=2000))
    disputes = Text(load_default="", validate=validate.Length(max=2000))

    @post_load
    def as_terms(self, data: dict, **_kwargs) -> dict:
        """The terms document (terms.py), with the schedule spelled out."""
        if data["quantity"] is None:
            data["quantity"] = _expected_output(data)
        weekly = [data.pop(name) for name in ("weekly_first", "weekly_last", "weekly_quantity")]
        instalments = data.pop("instalments")
        if not instalments and all(weekly):
            try:
                instalments = contract_terms.weekly(*weekly)
            except RuleViolation as refusal:
                raise ValidationError(refusal.message, refusal.field) from refusal
        if not instalments:
            raise ValidationError(
                _("Give the deliveries: dates and quantities, or a weekly rule."), "instalments"
            )
        terms = {name: data.get(name) for name in contract_terms.FIELD_LABELS if name in data}
        terms.update(
            instalments=instalments,
            area_mu=str(data["area_mu"]) if data["area_mu"] is not None else None,
            window_start=data["window_start"].strftime("%H:%M"),
            window_end=data["window_end"].strftime("%H:%M"),
            price_rule=str(data["price_rule"]),
            payment=str(data["payment"]),
        )
        return {
            "terms": terms,
            **{k: v for k, v in data.items() if k not in contract_terms.FIELD_LABELS},
        }


def _expected_output(data: dict) -> int:
    """A contract by planted area: the quantity is what the area is expected to yield."""
    if data["area_mu"] is None or data["yield_per_mu"] is None:
        raise ValidationError(
            _("Give the quantity, or the planted area and the expected yield per mu."), "quantity"
        )
    return max(1, int(data["area_mu"] * data["yield_per_mu"]))


class CreateContractSchema(TermsSchema):
    listing_id = fields.Integer(required=True, validate=ID_RANGE)
    buyer_id = fields.Integer(
        load_default=None,
        validate=ID_RANGE,
        metadata={"description": "The buying organisation, when a seller drafts the contract."},
    )
    title = Text(required=True, validate=validate.Length(min=1, max=120))
    note = Text(load_default="", validate=validate.Length(max=500))


class ProposeTermsSchema(TermsSchema):
    version = fields.Integer(
        required=True,
        validate=ID_RANGE,
        metadata={"description": "The version you are answering: refused if a newer one exists."},
    )
    note = Text(load_default="", validate=validate.Length(max=500))


class SignSchema(Schema):
    version = fields.Integer(
        required=True,
        validate=ID_RANGE,
        metadata={"description": "The version whose terms you sign."},
    )


class BreachSchema(Schema):
    reason = Text(required=True, validate=validate.Length(min=1, max=2000))
    remedy = fields.Enum(
        Remedy,
        load_default=None,
        metadata={
            "description": "deposit (定金 rules) or penalty (违约金), as the contract agreed."
        },
    )


class ClaimSchema(Schema):
    instalment = fields.Integer(required=True, validate=ID_RANGE)
    reason = Text(required=True, validate=validate.Length(min=1, max=2000))


class DecideClaimSchema(Schema):
    accept = fields.Boolean(required=True)
    answer = Text(load_default="", validate=validate.Length(max=500))


class ContractQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    status = fields.Enum(ContractStatus, load_default=None)
    page = fields.Integer(load_default=1, validate=PAGE_RANGE)


class ContractPartySchema(Schema):
    id = fields.Integer()
    name = fields.String(attribute="name_zh")


class ContractSignatureSchema(Schema):
    organisation_id = fields.Integer()
    signed_by = fields.String(attribute="user.name")
    signed_at = fields.DateTime()
    terms_hash = fields.String()


class ContractVersionSchema(Schema):
    number = fields.Integer()
    proposed_by_org_id = fields.Integer()
    proposed_at = fields.DateTime()
    note = fields.String()
    terms_hash = fields.String()
    terms = fields.Dict()
    signatures = fields.List(fields.Nested(ContractSignatureSchema))


class InstalmentSchema(Schema):
    number = fields.Integer()
    due_on = fields.Date()
    quantity = fields.Integer()
    status = fields.String()
    order_id = fields.Integer(allow_none=True)
    price_fen = fields.Integer(allow_none=True)
    price_source = fields.String(
        metadata={"description": "fixed, floor:…, or trade:<order>:<fen>:<day>"}
    )
    problem = fields.String(metadata={"description": "Why it could not be ordered yet, if so."})


class ProgressSchema(Schema):
    quantity = fields.Integer()
    ordered = fields.Integer()
    delivered = fields.Integer()
    accepted = fields.Integer()
    rejected = fields.Integer()
    excused = fields.Integer()
    remaining = fields.Integer()


class BreachOutSchema(Schema):
    defaulting_org_id = fields.Integer()
    remedy = fields.String(allow_none=True)
    reason = fields.String()
    paid_fen = fields.Integer()
    owed_fen = fields.Integer()
    recorded_at = fields.DateTime()


class ClaimOutSchema(Schema):
    id = fields.Integer()
    instalment = fields.Integer(attribute="instalment.number")
    reason = fields.String()
    status = fields.String()
    claimed_at = fields.DateTime()
    answer = fields.String()


class ContractSchema(Schema):
    id = fields.Integer()
    title = fields.String()
    status = fields.String()
    buyer = fields.Nested(ContractPartySchema)
    seller = fields.Nested(ContractPartySchema)
    listing_id = fields.Integer()
    latest_version = fields.Integer(attribute="latest.number")
    signed_version = fields.Integer(attribute="signed_version_number", allow_none=True)
    deposit_fen = fields.Integer(
        metadata={"description": "Held in the ledger while the contract is active."}
    )
    versions = fields.List(fields.Nested(ContractVersionSchema))
    instalments = fields.List(fields.Nested(InstalmentSchema))
    breach = fields.Nested(BreachOutSchema, allow_none=True)
    claims = fields.List(fields.Nested(ClaimOutSchema))


class ContractProgressSchema(Schema):
    """A contract with how far it has come (ordered, delivered, accepted, rejected, excused, remaining)."""

    contract = fields.Nested(ContractSchema)
    progress = fields.Nested(ProgressSchema)


class ContractPageSchema(Schema):
    items = fields.List(
        fields.Nested(
            ContractProgressSchema(
                exclude=("contract.versions", "contract.instalments", "contract.claims")
            )
        )
    )
    page = fields.Integer()
    total = fields.Integer(allow_none=True)


class TermsChangeSchema(Schema):
    field = fields.String()
    before = fields.Raw()
    after = fields.Raw()
