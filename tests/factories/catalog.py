import hashlib
from datetime import timedelta

import factory
from sqlalchemy import select

from app.catalog.models import (
    Batch,
    BatchInput,
    Grade,
    ImportStatus,
    InputKind,
    Listing,
    ListingImport,
    ListingImportRow,
    ListingPhoto,
    ListingSearch,
    ListingStatus,
    Product,
    StockKind,
    StockMovement,
    TestReport,
    TestResult,
)
from app.catalog.services import per_kg, search_document
from app.db import utcnow
from app.uploads import Upload, UploadKind
from tests.factories.accounts import OrganisationFactory, UserFactory
from tests.factories.base import BaseFactory


def product(code: str) -> Product:
    """A product of the catalogue the migrations put in every database."""
    session = BaseFactory._meta.sqlalchemy_session
    return session.scalar(select(Product).where(Product.code == code))


def grade_of(found: Product, code: str) -> Grade:
    session = BaseFactory._meta.sqlalchemy_session
    return session.scalar(
        select(Grade).where(Grade.scale_id == found.grade_scale_id, Grade.code == code)
    )


class UploadFactory(BaseFactory):
    class Meta:
        model = Upload

    token = factory.Sequence(lambda n: f"upload-{n:036d}")  # as long as a real token
    organisation_id = factory.LazyFunction(lambda: OrganisationFactory().id)
    kind = UploadKind.photo
    content_type = "image/jpeg"
    size = 1024
    sha256 = factory.LazyAttribute(lambda o: hashlib.sha256(o.token.encode()).hexdigest())


class BatchFactory(BaseFactory):
    class Meta:
        model = Batch

    code = factory.Sequence(lambda n: f"TEST-{n:05d}")
    seller = factory.SubFactory(OrganisationFactory)
    product = factory.LazyFunction(lambda: product("meitan_cuiya"))
    farm = "龙凤村田家沟茶园"
    zone = "兴隆坝区"
    town = "兴隆镇"
    village = "龙凤村"
    harvest_date = factory.LazyFunction(lambda: utcnow().date() - timedelta(days=30))


class BatchInputFactory(BaseFactory):
    class Meta:
        model = BatchInput

    batch = factory.SubFactory(BatchFactory)
    kind = InputKind.fertiliser
    name = "菜籽饼有机肥"
    amount = "150 千克/亩"
    applied_on = factory.LazyAttribute(lambda o: o.batch.harvest_date - timedelta(days=40))


class TestReportFactory(BaseFactory):
    __test__ = False

    class Meta:
        model = TestReport

    batch = factory.SubFactory(BatchFactory)
    lab = "遵义市农产品质量安全检测中心"
    tested_on = factory.LazyAttribute(lambda o: o.batch.harvest_date + timedelta(days=1))
    result = TestResult.passed
    summary = "农药残留 42 项未检出"


class ListingFactory(BaseFactory):
    """A listing on sale, with its search row and first stock, as create_listing leaves it."""

    class Meta:
        model = Listing
        exclude = ("product_code", "grade_code")

    product_code = "meitan_cuiya"
    grade_code = "first"
    seller = factory.SubFactory(OrganisationFactory)
    product = factory.LazyAttribute(lambda o: product(o.product_code))
    category_id = factory.LazyAttribute(lambda o: o.product.category_id)
    grade = factory.LazyAttribute(lambda o: grade_of(o.product, o.grade_code))
    unit_code = "kg"
    title = factory.LazyAttribute(lambda o: f"{o.product.name_zh} {o.grade.name_zh}")
    price_fen = 68000
    price_per_kg_fen = factory.LazyAttribute(
        lambda o: per_kg(o.price_fen, 1000 if o.unit_code == "kg" else 500)
    )
    quantity = 50
    min_order = 1
    town = "兴隆镇"
    village = "龙凤村"
    status = ListingStatus.active
    published_at = factory.LazyFunction(utcnow)

    @factory.post_generation
    def indexed(listing, create, extracted, **kwargs):
        if create and extracted is not False:
            session = BaseFactory._meta.sqlalchemy_session
            session.flush()
            session.add(ListingSearch(listing_id=listing.id, document=search_document(listing)))
            session.add(
                StockMovement(
                    listing_id=listing.id,
                    kind=StockKind.listed,
                    delta=listing.quantity,
                    balance=listing.quantity,
                )
            )
            session.flush()


class ListingPhotoFactory(BaseFactory):
    class Meta:
        model = ListingPhoto

    listing = factory.SubFactory(ListingFactory)
    upload = factory.SubFactory(UploadFactory)


class StockMovementFactory(BaseFactory):
    class Meta:
        model = StockMovement

    listing_id = factory.LazyFunction(lambda: ListingFactory().id)
    kind = StockKind.adjusted
    delta = 10
    balance = 60
    reason = "新采摘"


class ListingSearchFactory(BaseFactory):
    """Listings get their search row from ListingFactory; this one is for a document written by hand."""

    class Meta:
        model = ListingSearch

    listing_id = factory.LazyFunction(lambda: ListingFactory(indexed=False).id)
    document = "hand written"


class ListingImportFactory(BaseFactory):
    class Meta:
        model = ListingImport

    organisation_id = factory.LazyFunction(lambda: OrganisationFactory().id)
    actor_id = factory.LazyFunction(lambda: UserFactory().id)
    filename = "listings.csv"
    status = ImportStatus.checking
    total_rows = 1


class ListingImportRowFactory(BaseFactory):
    class Meta:
        model = ListingImportRow

    import_id = factory.LazyFunction(lambda: ListingImportFactory().id)
    row_number = factory.Sequence(lambda n: n + 2)
    typed = factory.Dict(
        {"product": "meitan_cuiya", "grade": "一级", "price_yuan": "680", "quantity": "10"}
    )
