"""A page of listings read as plain rows in one query: what the listings API answers, and what the market
draws as cards (with units and grades from the cached catalogue), without loading ORM objects."""

from dataclasses import dataclass
from types import SimpleNamespace

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import Organisation
from app.catalog.catalogue import Catalogue
from app.catalog.models import (
    Batch,
    Category,
    Grade,
    Listing,
    ListingPhoto,
    Product,
    Unit,
    certifications_of,
)
from app.uploads import Upload


@dataclass(frozen=True)
class Card:
    """A listing as the market's grid shows it: one plain row, with its unit and grade from the catalogue."""

    id: int
    title: str
    price_fen: int
    price_per_kg_fen: int
    unit: Unit
    grade: Grade
    seller: str
    seller_en: str
    town: str
    village: str
    quantity: int
    min_order: int
    certifications: list[str]
    photo_token: str | None

    @property
    def unit_code(self) -> str:
        return self.unit.code

    def seller_name(self, language: str) -> str:
        return self.seller_en if language == "en" and self.seller_en else self.seller


def cards(rows: list[dict], catalogue: Catalogue) -> list[Card]:
    units = {unit.code: unit for unit in catalogue.units}
    grades = {grade.id: grade for scale in catalogue.scales for grade in scale.grades}
    return [
        Card(
            id=row["id"],
            title=row["title"],
            price_fen=row["price_fen"],
            price_per_kg_fen=row["price_per_kg_fen"],
            unit=units[row["unit"]],
            grade=grades[row["grade_id"]],
            seller=row["seller"],
            seller_en=row["seller_en"],
            town=row["town"],
            village=row["village"],
            quantity=row["quantity"],
            min_order=row["min_order"],
            certifications=certifications_of(SimpleNamespace(**row)),
            photo_token=row["photo_token"],
        )
        for row in rows
    ]


def summaries(session: Session, ids: list[int]) -> list[dict]:
    """The listings of a page as plain rows, in `ids` order: what the API's list answers, in one query."""
    if not ids:
        return []
    photo = (
        select(Upload.token)
        .join(ListingPhoto, ListingPhoto.upload_id == Upload.id)
        .where(ListingPhoto.listing_id == Listing.id)
        .order_by(ListingPhoto.position)
        .limit(1)
        .scalar_subquery()
    )
    query = (
        select(*SUMMARY_COLUMNS, photo.label("photo_token"))
        .join(Organisation, Organisation.id == Listing.organisation_id)
        .join(Product, Product.id == Listing.product_id)
        .join(Category, Category.id == Listing.category_id)
        .join(Grade, Grade.id == Listing.grade_id)
        .outerjoin(Batch, Batch.id == Listing.batch_id)
        .where(Listing.id.in_(ids))
    )
    rows = {row.id: row._asdict() for row in session.execute(query)}
    return [rows[listing_id] for listing_id in ids if listing_id in rows]


SUMMARY_COLUMNS = (  # the columns of ListingSummarySchema, named as it names them, and a card's
    Listing.id,
    Listing.title,
    Listing.organisation_id.label("seller_id"),
    Organisation.name_zh.label("seller"),
    Organisation.name_en.label("seller_en"),
    Listing.grade_id,
    Product.code.label("product"),
    Product.name_zh.label("product_name"),
    Category.code.label("category"),
    Grade.code.label("grade"),
    Grade.name_zh.label("grade_name"),
    Batch.code.label("batch"),
    Listing.unit_code.label("unit"),
    Listing.price_fen,
    Listing.price_per_kg_fen,
    Listing.quantity,
    Listing.min_order,
    Listing.town,
    Listing.village,
    Listing.organic,
    Listing.green_food,
    Listing.geographical_indication,
    Listing.commitment_certificate,
    Listing.status,
    Listing.published_at,
)
