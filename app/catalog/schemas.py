"""What sellers and buyers send about listings and batches, and what they get back."""

from datetime import date
from decimal import Decimal, InvalidOperation
from types import SimpleNamespace

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate

from app.accounts.schemas import Text
from app.catalog.market import SORTS
from app.catalog.models import (
    CERTIFICATIONS,
    VISIBILITY_BITS,
    InputKind,
    ListingStatus,
    TestResult,
    certifications_of,
)
from app.web import ID_RANGE, PAGE_RANGE

MAX_PRICE_FEN = 100_000_000  # ¥1,000,000 a unit: above that it is a typing mistake
MAX_QUANTITY = 10_000_000
# A production date outside these years is a typing mistake (and 9999-12-31 plus a shelf life is no date).
PRODUCTION_DATES = validate.Range(
    min=date(1900, 1, 1), max=date(2100, 12, 31), error=_l("Enter a date between 1900 and 2100.")
)


class Yuan(fields.Field):
    """A price typed in yuan ("120", "120.5", "¥1,234.50"), kept as exact integer fen."""

    def _deserialize(self, value, attr, data, **kwargs) -> int:
        text = str(value).strip().replace("¥", "").replace("￥", "").replace(",", "")
        try:
            amount = Decimal(text)
        except InvalidOperation as error:
            raise ValidationError(_("Enter a price in yuan, such as 120 or 120.50.")) from error
        if not amount.is_finite() or abs(amount) > _NO_PRICE:
            raise ValidationError(_("Enter a price in yuan, such as 120 or 120.50."))
        if amount != amount.quantize(Decimal("0.01")):
            raise ValidationError(_("A price has at most two decimals (fen)."))
        return int(amount * 100)


# A number of yuan this large is no price at all (a range check says what is allowed); refusing it first
# keeps quantize() and int() below from working on a number with a million digits.
_NO_PRICE = Decimal(10) ** 12

PRICE_RANGE = validate.Range(
    min=1, max=MAX_PRICE_FEN, error=_l("Must be more than ¥0 and at most ¥1,000,000.")
)

PRICE_FILTER_RANGE = validate.Range(
    min=0, max=MAX_PRICE_FEN, error=_l("Must be between ¥0 and ¥1,000,000.")
)

_COUNT = validate.Range(min=0, max=MAX_QUANTITY)


class ListingFieldsSchema(Schema):
    """The particulars of a listing that its seller may set (not its stock, which moves with a reason)."""

    grade = Text(
        validate=validate.Length(min=1, max=20),
        metadata={"description": "Grade code or name: first, 一级"},
    )
    batch = Text(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=40),
        metadata={"description": "One of your batch codes; the trace page follows it."},
    )
    unit = Text(
        validate=validate.Length(min=1, max=20), metadata={"description": "kg, jin, box_5kg, ..."}
    )
    price_fen = fields.Integer(validate=PRICE_RANGE, metadata={"description": "Per unit, in fen."})
    title = Text(validate=validate.Length(max=120))
    description = Text(validate=validate.Length(max=2000))
    min_order = fields.Integer(
        validate=validate.Range(min=1, max=MAX_QUANTITY),
        metadata={"description": "Smallest order, in units."},
    )
    packaging = Text(validate=validate.Length(max=100))
    production_date = fields.Date(allow_none=True, validate=PRODUCTION_DATES)
    shelf_life_days = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=3650))
    town = Text(validate=validate.Length(max=60))
    village = Text(validate=validate.Length(max=60))
    organic = fields.Boolean()
    green_food = fields.Boolean()
    geographical_indication = fields.Boolean()
    commitment_certificate = Text(
        validate=validate.Length(max=40), metadata={"description": "The 承诺达标合格证 number."}
    )
    visible_to = fields.List(
        fields.String(validate=validate.OneOf(sorted(VISIBILITY_BITS))),
        metadata={"description": "Only these buyer kinds see it; empty is everyone."},
    )


class CreateListingSchema(ListingFieldsSchema):
    product = Text(
        required=True,
        validate=validate.Length(min=1, max=40),
        metadata={"description": "Product code from GET /api/v1/catalogue: meitan_cuiya"},
    )
    grade = Text(required=True, validate=validate.Length(min=1, max=20))
    price_fen = fields.Integer(required=True, validate=PRICE_RANGE)
    quantity = fields.Integer(
        required=True, validate=_COUNT, metadata={"description": "Units in stock."}
    )
    unit = Text(load_default=None, validate=validate.Length(min=1, max=20))
    min_order = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_QUANTITY))
    publish = fields.Boolean(load_default=True, metadata={"description": "false keeps it a draft."})


class UpdateListingSchema(ListingFieldsSchema):
    status = fields.String(
        validate=validate.OneOf([ListingStatus.active, ListingStatus.paused]),
        metadata={"description": "active puts it on sale, paused takes it off."},
    )


class CreateListingForm(CreateListingSchema):
    """The page's form: the same rules, with the price typed in yuan and unticked boxes meaning no."""

    price_fen = Yuan(required=True, validate=PRICE_RANGE)
    organic = fields.Boolean(load_default=False)
    green_food = fields.Boolean(load_default=False)
    geographical_indication = fields.Boolean(load_default=False)
    visible_to = fields.List(
        fields.String(validate=validate.OneOf(sorted(VISIBILITY_BITS))), load_default=list
    )


class UpdateListingForm(ListingFieldsSchema):
    price_fen = Yuan(required=True, validate=PRICE_RANGE)
    organic = fields.Boolean(load_default=False)
    green_food = fields.Boolean(load_default=False)
    geographical_indication = fields.Boolean(load_default=False)
    visible_to = fields.List(
        fields.String(validate=validate.OneOf(sorted(VISIBILITY_BITS))), load_default=list
    )
    production_date = fields.Date(load_default=None, allow_none=True, validate=PRODUCTION_DATES)
    shelf_life_days = fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(min=1, max=3650)
    )


class AdjustStockSchema(Schema):
    change = fields.Integer(
        required=True,
        validate=validate.Range(min=-MAX_QUANTITY, max=MAX_QUANTITY),
        metadata={"description": "Units to add (+) or take away (-)."},
    )
    reason = Text(required=True, validate=validate.Length(min=1, max=200))


class SellerListingsQuerySchema(Schema):
    """The filters of a seller's own list of listings."""

    status = fields.Enum(ListingStatus, load_default=None)
    page = fields.Integer(load_default=1, validate=PAGE_RANGE)


class MarketQuerySchema(Schema):
    q = Text(load_default="", validate=validate.Length(max=100))
    category = fields.String(load_default=None, validate=validate.Length(max=40))
    product = fields.String(load_default=None, validate=validate.Length(max=40))
    grade = fields.String(load_default=None, validate=validate.Length(max=20))
    town = fields.String(load_default=None, validate=validate.Length(max=60))
    certification = fields.String(load_default=None, validate=validate.OneOf(CERTIFICATIONS))
    min_price_fen = Yuan(
        load_default=None,
        data_key="min_price",
        validate=PRICE_FILTER_RANGE,
        metadata={"description": "Yuan per kg."},
    )
    max_price_fen = Yuan(
        load_default=None,
        data_key="max_price",
        validate=PRICE_FILTER_RANGE,
        metadata={"description": "Yuan per kg."},
    )
    in_stock = fields.Boolean(load_default=False)
    seller = fields.Integer(load_default=None, validate=ID_RANGE)
    sort = fields.String(load_default="newest", validate=validate.OneOf(list(SORTS)))
    page = fields.Integer(load_default=1, validate=PAGE_RANGE)


class ListingQuerySchema(MarketQuerySchema):
    size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    facets = fields.Boolean(
        load_default=False, metadata={"description": "Also count by category, grade, town."}
    )


class BatchInputSchema(Schema):
    kind = fields.Enum(InputKind, required=True)
    name = Text(required=True, validate=validate.Length(min=1, max=100))
    amount = Text(load_default="", validate=validate.Length(max=60))
    applied_on = fields.Date(required=True)


class RecordBatchSchema(Schema):
    product = Text(required=True, validate=validate.Length(min=1, max=40))
    code = Text(
        load_default="",
        validate=[
            validate.Length(max=40),
            validate.Regexp(r"^[A-Za-z0-9-]*$", error=_l("Use letters, digits and dashes only.")),
        ],
        metadata={"description": "Your own code; left empty, one is made up: MT20260412-7K3Q"},
    )
    farm = Text(required=True, validate=validate.Length(min=1, max=100))
    zone = Text(load_default="", validate=validate.Length(max=60))
    town = Text(load_default="", validate=validate.Length(max=60))
    village = Text(load_default="", validate=validate.Length(max=60))
    harvest_date = fields.Date(required=True)
    quantity_kg = fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(min=1, max=MAX_QUANTITY)
    )
    processing = Text(
        load_default="",
        validate=validate.Length(max=2000),
        metadata={"description": "One processing step per line."},
    )
    inputs = fields.List(fields.Nested(BatchInputSchema), load_default=list)


class TestReportSchema(Schema):
    lab = Text(required=True, validate=validate.Length(min=1, max=100))
    tested_on = fields.Date(required=True)
    result = fields.Enum(TestResult, required=True)
    summary = Text(load_default="", validate=validate.Length(max=500))


# --- what goes out --------------------------------------------------------------------------------


class NamedSchema(Schema):
    code = fields.String()
    name_zh = fields.String()
    name_en = fields.String()


class UnitSchema(NamedSchema):
    grams = fields.Integer()


class GradeSchema(NamedSchema):
    rank = fields.Integer()


class ProductSchema(NamedSchema):
    category = fields.String(attribute="category.code")
    grades = fields.List(fields.Nested(GradeSchema), attribute="grade_scale.grades")
    default_unit = fields.String(attribute="default_unit_code")
    spec = fields.String()
    cold_chain = fields.Boolean()


class CategorySchema(NamedSchema):
    parent = fields.String(attribute="parent.code", allow_none=True)


class CatalogueSchema(Schema):
    categories = fields.List(fields.Nested(CategorySchema))
    products = fields.List(fields.Nested(ProductSchema))
    units = fields.List(fields.Nested(UnitSchema))


class PhotoSchema(Schema):
    url = fields.Function(lambda photo: f"/files/{photo.upload.token}")


class ListingSchema(Schema):
    id = fields.Integer()
    title = fields.String()
    description = fields.String()
    seller_id = fields.Integer(attribute="organisation_id")
    seller = fields.String(attribute="seller.name_zh")
    product = fields.String(attribute="product.code")
    product_name = fields.String(attribute="product.name_zh")
    category = fields.String(attribute="category.code")
    grade = fields.String(attribute="grade.code")
    grade_name = fields.String(attribute="grade.name_zh")
    batch = fields.String(attribute="batch.code", allow_none=True)
    unit = fields.String(attribute="unit_code")
    price_fen = fields.Integer()
    price_per_kg_fen = fields.Integer()
    quantity = fields.Integer()
    min_order = fields.Integer()
    packaging = fields.String()
    production_date = fields.Date()
    shelf_life_days = fields.Integer()
    expires_at = fields.DateTime()
    town = fields.String()
    village = fields.String()
    certifications = fields.List(fields.String())
    commitment_certificate = fields.String()
    status = fields.Enum(ListingStatus)
    photos = fields.List(fields.Nested(PhotoSchema))
    published_at = fields.DateTime()
    updated_at = fields.DateTime()


class ListingSummarySchema(Schema):
    """A listing in a list: what a buyer's system needs to choose; GET /listings/{id} has the rest."""

    id = fields.Integer()
    title = fields.String()
    seller_id = fields.Integer()
    seller = fields.String()
    product = fields.String()
    product_name = fields.String()
    category = fields.String()
    grade = fields.String()
    grade_name = fields.String()
    batch = fields.String(allow_none=True)
    unit = fields.String()
    price_fen = fields.Integer()
    price_per_kg_fen = fields.Integer()
    quantity = fields.Integer()
    min_order = fields.Integer()
    town = fields.String()
    village = fields.String()
    certifications = fields.Function(lambda row: certifications_of(SimpleNamespace(**row)))
    status = fields.String()
    photo = fields.Function(
        lambda row: f"/files/{row['photo_token']}" if row["photo_token"] else None
    )
    published_at = fields.DateTime()


class FacetsSchema(Schema):
    categories = fields.List(fields.Tuple((fields.String(), fields.Integer())))
    grades = fields.List(fields.Tuple((fields.String(), fields.Integer())))
    towns = fields.List(fields.Tuple((fields.String(), fields.Integer())))
    certifications = fields.Dict(keys=fields.String(), values=fields.Integer())


class ListingPageSchema(Schema):
    items = fields.List(fields.Nested(ListingSummarySchema))
    page = fields.Integer()
    size = fields.Integer()
    has_more = fields.Boolean()
    total = fields.Integer(
        allow_none=True, metadata={"description": "Given when facets are asked for."}
    )
    facets = fields.Nested(FacetsSchema, allow_none=True)


class StockMovementSchema(Schema):
    kind = fields.String()
    delta = fields.Integer()
    balance = fields.Integer()
    reason = fields.String()
    created_at = fields.DateTime()


class BatchInputOutSchema(Schema):
    kind = fields.String()
    name = fields.String()
    amount = fields.String()
    applied_on = fields.Date()


class TestReportOutSchema(Schema):
    lab = fields.String()
    tested_on = fields.Date()
    result = fields.String()
    summary = fields.String()
    report_url = fields.Function(
        lambda test: f"/files/{test.upload.token}" if test.upload else None
    )


class BatchSchema(Schema):
    code = fields.String()
    product = fields.String(attribute="product.code")
    product_name = fields.String(attribute="product.name_zh")
    seller = fields.String(attribute="seller.name_zh")
    farm = fields.String()
    zone = fields.String()
    town = fields.String()
    village = fields.String()
    harvest_date = fields.Date()
    quantity_kg = fields.Integer()
    processing_steps = fields.List(fields.String())
    inputs = fields.List(fields.Nested(BatchInputOutSchema))
    tests = fields.List(fields.Nested(TestReportOutSchema))
    trace_url = fields.Function(lambda batch: f"/t/{batch.code}")
