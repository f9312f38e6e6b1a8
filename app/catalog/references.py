"""What a listing refers to (product, grade, unit, batch), looked up once and checked with a reason.

A single listing and a spreadsheet of thousands go through the same lookups; the catalogue is small and
is read whole, a seller's batches are read as they are named.
"""

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from app.catalog.models import Batch, Grade, GradeScale, Product, Unit
from app.errors import RuleViolation


class References:
    """One seller's view of the catalogue for one transaction: each lookup answers the thing named or
    refuses with a RuleViolation on the field that named it."""

    def __init__(self, session: Session, organisation_id: int) -> None:
        self._session = session
        self._organisation_id = organisation_id
        products = session.scalars(select(Product).options(joinedload(Product.category))).all()
        self._products = {product.code: product for product in products}
        scales = session.scalars(select(GradeScale).options(selectinload(GradeScale.grades))).all()
        self._grades = {scale.id: scale.grades for scale in scales}
        units = session.scalars(select(Unit)).all()
        self._units = {
            key: unit for unit in units for key in (unit.code, unit.name_zh, unit.name_en.lower())
        }
        self._batches: dict[str, Batch | None] = {}

    def product(self, code: str) -> Product:
        product = self._products.get((code or "").strip())
        if product is None:
            raise RuleViolation(
                _("There is no product %(code)s in the catalogue.", code=code), field="product"
            )
        return product

    def grade(self, product: Product, code_or_name: str) -> Grade:
        """A grade of the product's scale, by code ("first") or by name ("一级", "Grade 1")."""
        wanted = (code_or_name or "").strip()
        for grade in self._grades[product.grade_scale_id]:
            if wanted in (grade.code, grade.name_zh) or wanted.lower() == grade.name_en.lower():
                return grade
        names = "、".join(grade.name_zh for grade in self._grades[product.grade_scale_id])
        raise RuleViolation(
            _(
                "%(product)s is graded %(grades)s; %(code)s is not one of them.",
                product=product.name_zh,
                grades=names,
                code=code_or_name,
            ),
            field="grade",
        )

    def unit(self, code_or_name: str) -> Unit:
        unit = self._units.get((code_or_name or "").strip()) or self._units.get(
            (code_or_name or "").lower()
        )
        if unit is None:
            raise RuleViolation(_("There is no unit %(code)s.", code=code_or_name), field="unit")
        return unit

    def batch(self, product: Product, code: str | None) -> Batch | None:
        """One of this seller's batches of this product, or None when no batch is named."""
        code = (code or "").strip().upper()
        if not code:
            return None
        if code not in self._batches:
            self._batches[code] = self._session.scalar(select(Batch).where(Batch.code == code))
        batch = self._batches[code]
        if batch is None or batch.organisation_id != self._organisation_id:
            raise RuleViolation(
                _("Batch %(code)s is not one of your batches.", code=code), field="batch"
            )
        if batch.product_id != product.id:
            raise RuleViolation(
                _(
                    "Batch %(code)s is %(other)s, not %(product)s.",
                    code=code,
                    other=batch.product.name_zh,
                    product=product.name_zh,
                ),
                field="batch",
            )
        return batch
