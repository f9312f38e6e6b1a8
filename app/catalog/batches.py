"""Traceable batches: where and when produce was picked, what went on the crop, and how it tested."""

import secrets
from datetime import date, datetime
from pathlib import Path

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import events
from app.catalog.models import Batch, BatchInput, InputKind, Product, TestReport, TestResult
from app.db import local_date, utcnow
from app.errors import Conflict, NotFound, PermissionDenied, RuleViolation
from app.uploads import UploadKind, store_upload

_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O or 1/I to misread off a label


def record_batch(
    session: Session,
    *,
    organisation_id: int,
    actor_id: int,
    product: str,
    farm: str,
    harvest_date: date,
    code: str = "",
    inputs: list[dict] | None = None,
    now: datetime | None = None,
    **details,
) -> Batch:
    """Record a harvest batch; `details` are zone, town, village, quantity_kg and processing.

    `inputs` are the fertilisers and pesticides applied: dicts of kind, name, amount and applied_on.
    """
    now = now or utcnow()
    found = session.scalar(select(Product).where(Product.code == product))
    if found is None:
        raise RuleViolation(
            _("There is no product %(code)s in the catalogue.", code=product), field="product"
        )
    if harvest_date > local_date(now):
        raise RuleViolation(_("The harvest date cannot be in the future."), field="harvest_date")
    code = code.strip().upper() or _new_code(session, harvest_date)
    if session.scalar(select(Batch.id).where(Batch.code == code)):
        raise Conflict(_("Batch code %(code)s is already used.", code=code), field="code")
    batch = Batch(
        code=code,
        organisation_id=organisation_id,
        product=found,
        farm=farm,
        harvest_date=harvest_date,
        created_at=now,
        **details,
    )
    batch.inputs = [_input(harvest_date, **given) for given in inputs or ()]
    session.add(batch)
    session.flush()  # the event names the batch
    _record(session, "batch.recorded", batch, actor_id, now, product=found.name_zh, farm=farm)
    return batch


def add_batch_input(
    session: Session,
    *,
    organisation_id: int,
    actor_id: int,
    batch_code: str,
    kind: InputKind,
    name: str,
    applied_on: date,
    amount: str = "",
    now: datetime | None = None,
) -> BatchInput:
    """Record a fertiliser or pesticide applied to a batch's crop."""
    batch = own_batch(session, organisation_id, batch_code)
    applied = _input(batch.harvest_date, kind=kind, name=name, amount=amount, applied_on=applied_on)
    batch.inputs.append(applied)
    _record(session, "batch.input_recorded", batch, actor_id, now, kind=kind.value, name=name)
    return applied


def add_test_report(
    session: Session,
    *,
    organisation_id: int,
    actor_id: int,
    batch_code: str,
    lab: str,
    tested_on: date,
    result: TestResult,
    summary: str = "",
    report: tuple[str, bytes] | None = None,
    folder: Path | None = None,
    now: datetime | None = None,
) -> TestReport:
    """Attach a residue or quality test of a batch, with the lab's report as (file name, content).

    The report is a PDF or a photo of it, kept in `folder` (app.uploads.upload_folder()).
    """
    now = now or utcnow()
    batch = own_batch(session, organisation_id, batch_code)
    if tested_on > local_date(now):
        raise RuleViolation(_("The test date cannot be in the future."), field="tested_on")
    upload = None
    if report is not None:
        filename, data = report
        upload = store_upload(
            session,
            organisation_id=organisation_id,
            kind=UploadKind.document,
            filename=filename,
            data=data,
            folder=folder,
            field="report",
        )
    test = TestReport(lab=lab, tested_on=tested_on, result=result, summary=summary, upload=upload)
    batch.tests.append(test)
    _record(session, "batch.tested", batch, actor_id, now, lab=lab, result=result.value)
    return test


def own_batch(session: Session, organisation_id: int, code: str) -> Batch:
    """This seller's batch with this code (codes are kept in capitals; people type them either way)."""
    code = code.strip().upper()
    batch = session.scalar(select(Batch).where(Batch.code == code))
    if batch is None:
        raise NotFound(_("There is no batch %(code)s.", code=code))
    if batch.organisation_id != organisation_id:
        raise PermissionDenied(_("Batch %(code)s belongs to another seller.", code=code))
    return batch


def _input(
    harvest_date: date, *, kind: InputKind, name: str, applied_on: date, amount: str = ""
) -> BatchInput:
    if applied_on > harvest_date:
        raise RuleViolation(
            _("An input is applied before the harvest; check the date."), field="applied_on"
        )
    return BatchInput(kind=kind, name=name, amount=amount, applied_on=applied_on)


def _new_code(session: Session, harvest_date: date) -> str:
    while True:
        code = f"MT{harvest_date:%Y%m%d}-" + "".join(
            secrets.choice(_CODE_ALPHABET) for _position in range(4)
        )
        if session.scalar(select(Batch.id).where(Batch.code == code)) is None:
            return code


def _record(
    session: Session,
    event_kind: str,
    batch: Batch,
    actor_id: int | None,
    now: datetime | None,
    /,
    **payload,
) -> None:
    events.record(
        session,
        event_kind,
        organisation_id=batch.organisation_id,
        actor_id=actor_id,
        subject=f"batch:{batch.id}",
        payload={"code": batch.code, **payload},
        now=now,
    )
