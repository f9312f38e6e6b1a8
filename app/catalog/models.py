"""The catalogue (categories, products, grades, units), traceable batches, and the listings sellers put up."""

from collections.abc import Iterable
from datetime import date, datetime
from enum import StrEnum

from flask_babel import gettext as _
from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Organisation
from app.auth import OrgKind
from app.db import Base, BigId, utcnow
from app.errors import RuleViolation
from app.uploads import Upload

# --- the catalogue: reference data every environment shares (seeded by migrations) -------------------


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    name_zh: Mapped[str] = mapped_column(String(40))
    name_en: Mapped[str] = mapped_column(String(60))
    position: Mapped[int] = mapped_column(default=0)

    parent: Mapped["Category | None"] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list["Category"]] = relationship(back_populates="parent")

    def name(self, language: str) -> str:
        return self.name_en if language == "en" else self.name_zh


class GradeScale(Base):
    """The grades a kind of produce is sold by: tea 特级/一级/二级, rice 一等/二等/三等, ..."""

    __tablename__ = "grade_scales"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name_zh: Mapped[str] = mapped_column(String(40))
    name_en: Mapped[str] = mapped_column(String(60))

    grades: Mapped[list["Grade"]] = relationship(back_populates="scale", order_by="Grade.rank")


class Grade(Base):
    __tablename__ = "grades"
    __table_args__ = (UniqueConstraint("scale_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scale_id: Mapped[int] = mapped_column(ForeignKey("grade_scales.id"))
    code: Mapped[str] = mapped_column(String(20))
    name_zh: Mapped[str] = mapped_column(String(20))
    name_en: Mapped[str] = mapped_column(String(40))
    rank: Mapped[int]  # 1 is the best

    scale: Mapped[GradeScale] = relationship(back_populates="grades")

    def name(self, language: str) -> str:
        return self.name_en if language == "en" else self.name_zh


class Unit(Base):
    """A selling unit and its weight: kg, 斤 (500 g), 吨, a box of 5 kg, a 250 g tin of tea."""

    __tablename__ = "units"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(20))
    name_en: Mapped[str] = mapped_column(String(40))
    grams: Mapped[int]

    def name(self, language: str) -> str:
        return self.name_en if language == "en" else self.name_zh


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), index=True)
    grade_scale_id: Mapped[int] = mapped_column(ForeignKey("grade_scales.id"))
    default_unit_code: Mapped[str] = mapped_column(ForeignKey("units.code"))
    name_zh: Mapped[str] = mapped_column(String(40))
    name_en: Mapped[str] = mapped_column(String(60))
    # Words people search by besides the names: pinyin ("cuiya"), common English ("green tea").
    aliases: Mapped[str] = mapped_column(String(200), default="")
    spec: Mapped[str] = mapped_column(Text, default="")  # the standard it is graded against
    cold_chain: Mapped[bool] = mapped_column(default=False)

    category: Mapped[Category] = relationship()
    grade_scale: Mapped[GradeScale] = relationship()
    default_unit: Mapped[Unit] = relationship()

    def name(self, language: str) -> str:
        return self.name_en if language == "en" else self.name_zh


# --- traceability ---------------------------------------------------------------------------------


class InputKind(StrEnum):
    fertiliser = "fertiliser"
    pesticide = "pesticide"
    other = "other"


class TestResult(StrEnum):
    __test__ = False  # a lab test's result, not a test case for pytest to collect

    passed = "passed"
    failed = "failed"


class Batch(Base):
    """One harvest from one place: where, when, with what inputs, and how it tested. Feeds listings."""

    __tablename__ = "batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    farm: Mapped[str] = mapped_column(String(100))  # the base or garden it was picked in
    zone: Mapped[str] = mapped_column(String(60), default="")  # 坝区
    town: Mapped[str] = mapped_column(String(60), default="")
    village: Mapped[str] = mapped_column(String(60), default="")
    harvest_date: Mapped[date]
    quantity_kg: Mapped[int | None]
    processing: Mapped[str] = mapped_column(Text, default="")  # one step per line
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    seller: Mapped[Organisation] = relationship()
    product: Mapped[Product] = relationship()
    inputs: Mapped[list["BatchInput"]] = relationship(
        back_populates="batch", order_by="BatchInput.applied_on", cascade="all, delete-orphan"
    )
    tests: Mapped[list["TestReport"]] = relationship(
        back_populates="batch", order_by="TestReport.tested_on", cascade="all, delete-orphan"
    )

    @property
    def processing_steps(self) -> list[str]:
        return [step.strip() for step in self.processing.splitlines() if step.strip()]

    @property
    def passed_all_tests(self) -> bool:
        return bool(self.tests) and all(test.result == TestResult.passed for test in self.tests)


class BatchInput(Base):
    """A fertiliser or pesticide applied to a batch's crop, with its date."""

    __tablename__ = "batch_inputs"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"), index=True)
    kind: Mapped[InputKind]
    name: Mapped[str] = mapped_column(String(100))
    amount: Mapped[str] = mapped_column(String(60), default="")
    applied_on: Mapped[date]

    batch: Mapped[Batch] = relationship(back_populates="inputs")


class TestReport(Base):
    """A residue or quality test of a batch, by a lab, with its report file."""

    __test__ = False  # not a test case for pytest to collect
    __tablename__ = "test_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"), index=True)
    lab: Mapped[str] = mapped_column(String(100))
    tested_on: Mapped[date]
    result: Mapped[TestResult]
    summary: Mapped[str] = mapped_column(String(500), default="")
    upload_id: Mapped[int | None] = mapped_column(ForeignKey("uploads.id"))

    batch: Mapped[Batch] = relationship(back_populates="tests")
    upload: Mapped[Upload | None] = relationship()


# --- listings -------------------------------------------------------------------------------------


class ListingStatus(StrEnum):
    draft = "draft"
    active = "active"
    paused = "paused"
    sold_out = "sold_out"
    expired = "expired"


CERTIFICATIONS = ("organic", "green_food", "geographical_indication", "commitment_certificate")


def certifications_of(listing) -> list[str]:
    """The certifications a listing (an object or a row with the same names) declares, in a fixed order."""
    found = [name for name in CERTIFICATIONS[:3] if getattr(listing, name)]
    return found + (["commitment_certificate"] if listing.commitment_certificate else [])


# Who may see a listing: 0 is everyone; otherwise only the buyer kinds whose bits are set.
VISIBILITY_BITS = {OrgKind.supermarket: 1, OrgKind.school: 2, OrgKind.trader: 4}


def visibility_mask(kinds: Iterable[str] | None) -> int:
    """The `visible_to` mask for these buyer kinds ("supermarket", "school", "trader"); none is 0."""
    mask = 0
    for kind in kinds or ():
        mask |= VISIBILITY_BITS[OrgKind(kind)]
    return mask


def visible_kinds(mask: int) -> list[str]:
    """The buyer kinds a `visible_to` mask names, in a fixed order; [] means everyone."""
    return [kind.value for kind, bit in VISIBILITY_BITS.items() if mask & bit]


class Listing(Base):
    __tablename__ = "listings"
    __table_args__ = (
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
        CheckConstraint("price_fen > 0", name="price_positive"),
        CheckConstraint("min_order >= 1", name="min_order_positive"),
        Index("ix_listings_status_price", "status", "price_per_kg_fen"),
        Index("ix_listings_status_published", "status", "published_at"),
        # Covers every column the market's facet counts and filters read, so counting never visits the
        # table itself (app/catalog/market.py).
        Index(
            "ix_listings_market",
            "status",
            "category_id",
            "grade_id",
            "town",
            "organic",
            "green_food",
            "geographical_indication",
            "visible_to",
            "expires_at",
            "quantity",
            "min_order",
            "price_per_kg_fen",
            "commitment_certificate",
            "id",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    category_id: Mapped[int] = mapped_column(
        ForeignKey("categories.id"), index=True
    )  # the product's
    grade_id: Mapped[int] = mapped_column(ForeignKey("grades.id"), index=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"), index=True)
    title: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    unit_code: Mapped[str] = mapped_column(ForeignKey("units.code"))
    price_fen: Mapped[int]  # per unit
    price_per_kg_fen: Mapped[int]  # the same price per kg, so listings in different units compare
    quantity: Mapped[int]  # units available now
    min_order: Mapped[int] = mapped_column(default=1)  # units
    packaging: Mapped[str] = mapped_column(String(100), default="")
    production_date: Mapped[date | None]
    shelf_life_days: Mapped[int | None]
    expires_at: Mapped[datetime | None] = mapped_column(index=True)
    town: Mapped[str] = mapped_column(String(60), default="", index=True)
    village: Mapped[str] = mapped_column(String(60), default="")
    organic: Mapped[bool] = mapped_column(default=False)
    green_food: Mapped[bool] = mapped_column(default=False)
    geographical_indication: Mapped[bool] = mapped_column(default=False)
    commitment_certificate: Mapped[str] = mapped_column(
        String(40), default=""
    )  # 承诺达标合格证 number
    status: Mapped[ListingStatus] = mapped_column(default=ListingStatus.draft)
    visible_to: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None]

    seller: Mapped[Organisation] = relationship()
    product: Mapped[Product] = relationship()
    category: Mapped[Category] = relationship()
    grade: Mapped[Grade] = relationship()
    batch: Mapped[Batch | None] = relationship()
    unit: Mapped[Unit] = relationship()
    photos: Mapped[list["ListingPhoto"]] = relationship(
        back_populates="listing", order_by="ListingPhoto.position", cascade="all, delete-orphan"
    )

    def visible_to_kind(self, kind: OrgKind | None) -> bool:
        return self.visible_to == 0 or bool(self.visible_to & VISIBILITY_BITS.get(kind, 0))

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def is_on_sale(self, now: datetime) -> bool:
        """Offered now (app.catalog.market.market_conditions says the same in SQL)."""
        return self.status == ListingStatus.active and not self.is_expired(now)

    def is_sellable(self, now: datetime) -> bool:
        return self.is_on_sale(now) and self.quantity >= self.min_order

    def settle_status(self, now: datetime) -> None:
        """Keep the status true to the stock and the date: sold out at 0, active again when restocked."""
        if self.status in (ListingStatus.draft, ListingStatus.expired):
            return
        if self.is_expired(now):
            self.status = ListingStatus.expired
        elif self.status == ListingStatus.active and self.quantity == 0:
            self.status = ListingStatus.sold_out
        elif self.status == ListingStatus.sold_out and self.quantity > 0:
            self.status = ListingStatus.active

    @property
    def can_publish(self) -> bool:
        return self.status in (ListingStatus.draft, ListingStatus.paused, ListingStatus.expired)

    @property
    def can_pause(self) -> bool:
        return self.status in (ListingStatus.active, ListingStatus.sold_out)

    def publish(self, now: datetime) -> None:
        """Put a listing in front of buyers again (as sold out if it has no stock)."""
        if not self.can_publish:
            raise RuleViolation(_("This listing is already on sale."), field="status")
        if self.is_expired(now):
            raise RuleViolation(
                _("This listing is past its shelf life; correct the production date first."),
                field="production_date",
            )
        self.status = ListingStatus.active
        self.published_at = self.published_at or now
        self.settle_status(now)

    def pause(self) -> None:
        """Take a live listing off sale for a while; buyers no longer find it."""
        if not self.can_pause:
            raise RuleViolation(_("Only a listing on sale can be paused."), field="status")
        self.status = ListingStatus.paused

    @property
    def certifications(self) -> list[str]:
        return certifications_of(self)


class ListingPhoto(Base):
    __tablename__ = "listing_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(
        ForeignKey("listings.id", ondelete="CASCADE"), index=True
    )
    upload_id: Mapped[int] = mapped_column(ForeignKey("uploads.id"))
    position: Mapped[int] = mapped_column(default=0)

    listing: Mapped[Listing] = relationship(back_populates="photos")
    upload: Mapped[Upload] = relationship()


class StockKind(StrEnum):
    listed = "listed"
    adjusted = "adjusted"
    imported = "imported"
    ordered = "ordered"
    released = "released"
    reserved = "reserved"  # set aside for a flash deal (a StockReserve)
    unreserved = "unreserved"  # what a closed reserve did not sell, back on the listing


class StockMovement(Base):
    """Every change of a listing's stock, with its reason: the history a seller sees."""

    __tablename__ = "stock_movements"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    listing_id: Mapped[int] = mapped_column(
        ForeignKey("listings.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[StockKind]
    delta: Mapped[int]
    balance: Mapped[int]
    reason: Mapped[str] = mapped_column(String(200), default="")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ListingPrice(Base):
    """A price a listing had until it changed: what "the lowest price of the last 30 days" looks back on."""

    __tablename__ = "listing_prices"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    listing_id: Mapped[int] = mapped_column(
        ForeignKey("listings.id", ondelete="CASCADE"), index=True
    )
    price_fen: Mapped[int]
    ended_at: Mapped[datetime] = mapped_column(default=utcnow)


class GradePriceIndex(Base):
    """A day's price index for one product and grade: the volume-weighted average price per kg of that
    day's trades on the tea exchange, and the index (100.00 on the base day) it gives. The exchange writes
    it after each trading day; market-linked contracts read it."""

    __tablename__ = "grade_price_indexes"
    __table_args__ = (UniqueConstraint("product_id", "grade_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    grade_id: Mapped[int] = mapped_column(ForeignKey("grades.id"))
    day: Mapped[date] = mapped_column(index=True)  # China time
    vwap_fen: Mapped[int]  # per kg
    kg: Mapped[int]
    value_fen: Mapped[int] = mapped_column(BigInteger)
    base_day: Mapped[date]
    points: Mapped[int]  # the index in hundredths: 10000 is 100.00, the base day's
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StockReserve(Base):
    """Part of a listing's stock set aside for one channel (a live session's flash deal): taken from the
    listing when the reserve opens, sold only through the reserve, and given back to the listing when it
    closes. `channel` is the event subject that follows it ("live:7")."""

    __tablename__ = "stock_reserves"
    __table_args__ = (
        CheckConstraint("taken >= 0 AND taken <= held", name="taken_within_held"),
        CheckConstraint("per_buyer_limit IS NULL OR per_buyer_limit >= 1", name="limit_positive"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id"), index=True)
    channel: Mapped[str] = mapped_column(String(80))
    held: Mapped[int]  # units set aside
    taken: Mapped[int] = mapped_column(default=0)  # units in orders not cancelled
    per_buyer_limit: Mapped[int | None]
    version: Mapped[int] = mapped_column(
        default=1
    )  # grows with every change, so readers keep the newest
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]

    listing: Mapped[Listing] = relationship()

    @property
    def left(self) -> int:
        return self.held - self.taken


class ReserveTaker(Base):
    """How much of a reserve one buyer holds in orders not cancelled: what a per-buyer limit counts."""

    __tablename__ = "reserve_takers"
    __table_args__ = (CheckConstraint("quantity >= 0", name="quantity_not_negative"),)

    reserve_id: Mapped[int] = mapped_column(
        ForeignKey("stock_reserves.id", ondelete="CASCADE"), primary_key=True
    )
    buyer_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    quantity: Mapped[int]


class ListingSearch(Base):
    """A listing's words, tokenised for Chinese and English (app/catalog/search.py), one row per listing.

    On SQLite an FTS5 table mirrors it through triggers; on PostgreSQL the words are stored as a tsvector
    (they are already plain lexemes) under a GIN index. The migrations make both.
    """

    __tablename__ = "listing_search"

    listing_id: Mapped[int] = mapped_column(
        ForeignKey("listings.id", ondelete="CASCADE"), primary_key=True
    )
    document: Mapped[str] = mapped_column(Text().with_variant(TSVECTOR(), "postgresql"))


# --- spreadsheet imports --------------------------------------------------------------------------


class ImportStatus(StrEnum):
    checking = "checking"  # rows are being checked (in the background for a large file)
    ready = "ready"  # every row is fine: the seller may import them all
    invalid = "invalid"  # some rows are wrong: nothing can be imported until the file is fixed
    done = "done"
    failed = "failed"


class ListingImport(Base):
    """A spreadsheet of listings on its way in: checked row by row, then imported all or nothing."""

    __tablename__ = "listing_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    filename: Mapped[str] = mapped_column(String(200))
    status: Mapped[ImportStatus] = mapped_column(default=ImportStatus.checking, index=True)
    total_rows: Mapped[int] = mapped_column(default=0)
    checked_rows: Mapped[int] = mapped_column(default=0)
    bad_rows: Mapped[int] = mapped_column(default=0)
    created_count: Mapped[int] = mapped_column(default=0)
    updated_count: Mapped[int] = mapped_column(default=0)
    message: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]

    @property
    def progress(self) -> int:
        """Per cent of the rows checked."""
        return 100 if not self.total_rows else round(100 * self.checked_rows / self.total_rows)


class ListingImportRow(Base):
    """One row of an import: what the seller typed, and once checked, either the listing or the errors."""

    __tablename__ = "listing_import_rows"
    __table_args__ = (UniqueConstraint("import_id", "row_number"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    import_id: Mapped[int] = mapped_column(
        ForeignKey("listing_imports.id", ondelete="CASCADE"), index=True
    )
    row_number: Mapped[int]  # as the spreadsheet numbers it: the header is row 1
    typed: Mapped[dict] = mapped_column(JSON)
    checked: Mapped[bool] = mapped_column(default=False)
    listing_id: Mapped[int | None] = mapped_column(
        ForeignKey("listings.id")
    )  # set when it updates one
    values: Mapped[dict | None] = mapped_column(JSON)
    errors: Mapped[dict | None] = mapped_column(JSON)  # field -> message
