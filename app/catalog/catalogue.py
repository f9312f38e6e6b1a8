"""The catalogue: categories, products with their grade scales, and units. Reference data that changes only
with a migration, so each process keeps it for a while instead of reading it for every page."""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from app.cache import NO_CACHE, TimedCache
from app.catalog.models import Category, GradeScale, Product, Unit


@dataclass(frozen=True)
class Catalogue:
    categories: list[Category]
    products: list[Product]
    scales: list[GradeScale]
    units: list[Unit]

    def category_name(self, code: str, language: str) -> str:
        return next((c.name(language) for c in self.categories if c.code == code), code)

    def grade_name(self, code: str, language: str) -> str:
        grades = (grade for scale in self.scales for grade in scale.grades)
        return next((grade.name(language) for grade in grades if grade.code == code), code)

    def grade_choices(self, language: str) -> list[tuple[str, str]]:
        """Every grade once by code (特级, 一级, 二级 are shared by tea and produce)."""
        seen: dict[str, str] = {}
        for scale in self.scales:
            for grade in scale.grades:
                seen.setdefault(grade.code, grade.name(language))
        return list(seen.items())


def catalogue(session: Session, cache: TimedCache = NO_CACHE) -> Catalogue:
    """The reference data every form and filter offers, read whole (every relationship a page or the API
    follows is loaded, so a kept copy never needs its session again)."""
    return cache.get("catalogue", lambda: _read(session))


def _read(session: Session) -> Catalogue:
    categories = select(Category).options(joinedload(Category.parent)).order_by(Category.position)
    products = select(Product).options(
        joinedload(Product.category),
        joinedload(Product.grade_scale).selectinload(GradeScale.grades),
    )
    return Catalogue(
        categories=list(session.scalars(categories)),
        products=list(session.scalars(products.order_by(Product.category_id, Product.id)).unique()),
        scales=list(session.scalars(select(GradeScale).options(selectinload(GradeScale.grades)))),
        units=list(session.scalars(select(Unit).order_by(Unit.grams))),
    )
