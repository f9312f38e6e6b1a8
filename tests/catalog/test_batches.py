from datetime import UTC, date, datetime, timedelta
from functools import partial

import pytest

from app.catalog import batches
from app.catalog.models import InputKind, TestResult
from app.db import utcnow
from app.errors import Conflict, PermissionDenied, RuleViolation
from tests.factories import BatchFactory, OrganisationFactory, UserFactory


def test_a_harvest_is_recorded_with_its_inputs_and_gets_a_readable_code(session):
    coop, manager = OrganisationFactory(), UserFactory()
    harvested = utcnow().date() - timedelta(days=3)

    batch = batches.record_batch(
        session,
        organisation_id=coop.id,
        actor_id=manager.id,
        product="meitan_cuiya",
        farm="田家沟茶园",
        harvest_date=harvested,
        village="龙凤村",
        processing="摊青\n杀青\n\n理条",
        inputs=[
            {
                "kind": InputKind.fertiliser,
                "name": "菜籽饼有机肥",
                "applied_on": harvested - timedelta(days=60),
            }
        ],
    )

    assert batch.code.startswith(f"MT{harvested:%Y%m%d}-") and len(batch.code) == 15
    assert "0" not in batch.code[-4:] and "O" not in batch.code[-4:]
    assert batch.processing_steps == ["摊青", "杀青", "理条"]
    assert [i.name for i in batch.inputs] == ["菜籽饼有机肥"]


def test_a_batch_code_is_used_once(session):
    BatchFactory(code="LF-CY-2026-01")
    with pytest.raises(Conflict) as refused:
        batches.record_batch(
            session,
            organisation_id=OrganisationFactory().id,
            actor_id=UserFactory().id,
            product="meitan_cuiya",
            farm="x",
            harvest_date=utcnow().date(),
            code="lf-cy-2026-01",
        )
    assert refused.value.field == "code"


def test_a_harvest_in_the_future_is_refused_counting_days_in_meitan(session):
    seller = OrganisationFactory()
    one_in_the_morning_in_meitan = datetime(2026, 4, 5, 17, 0, tzinfo=UTC)  # 6 April, 01:00 local
    harvest = partial(
        batches.record_batch,
        session,
        organisation_id=seller.id,
        actor_id=UserFactory().id,
        product="meitan_cuiya",
        farm="x",
        now=one_in_the_morning_in_meitan,
    )

    picked_today = harvest(harvest_date=date(2026, 4, 6))
    with pytest.raises(RuleViolation) as refused:
        harvest(harvest_date=date(2026, 4, 7))

    assert picked_today.harvest_date == date(2026, 4, 6)
    assert refused.value.field == "harvest_date"


def test_a_batch_code_typed_in_small_letters_finds_the_batch(session):
    batch = BatchFactory(code="LF-CY-2026-07")

    batches.add_batch_input(
        session,
        organisation_id=batch.seller.id,
        actor_id=UserFactory().id,
        batch_code=" lf-cy-2026-07",
        kind=InputKind.fertiliser,
        name="菜籽饼肥",
        applied_on=batch.harvest_date - timedelta(days=30),
    )

    assert [applied.name for applied in batch.inputs] == ["菜籽饼肥"]


def test_an_input_after_the_harvest_is_refused(session):
    batch = BatchFactory()
    with pytest.raises(RuleViolation) as refused:
        batches.add_batch_input(
            session,
            organisation_id=batch.seller.id,
            actor_id=UserFactory().id,
            batch_code=batch.code,
            kind=InputKind.pesticide,
            name="吡虫啉",
            applied_on=batch.harvest_date + timedelta(days=1),
        )
    assert refused.value.field == "applied_on"


def test_a_test_report_with_its_file_makes_the_batch_pass(session, tmp_path):
    batch = BatchFactory()

    batches.add_test_report(
        session,
        organisation_id=batch.seller.id,
        actor_id=UserFactory().id,
        batch_code=batch.code,
        lab="遵义市农产品质量安全检测中心",
        tested_on=batch.harvest_date,
        result=TestResult.passed,
        report=("检测报告.pdf", b"%PDF-1.7 report"),
        folder=tmp_path,
    )

    assert batch.passed_all_tests
    upload = batch.tests[0].upload
    assert (upload.original_name, upload.content_type) == ("检测报告.pdf", "application/pdf")
    assert (tmp_path / upload.token[:2] / upload.token).read_bytes() == b"%PDF-1.7 report"


def test_another_sellers_batch_cannot_be_changed(session):
    batch = BatchFactory()
    with pytest.raises(PermissionDenied):
        batches.add_test_report(
            session,
            organisation_id=OrganisationFactory().id,
            actor_id=UserFactory().id,
            batch_code=batch.code,
            lab="x",
            tested_on=batch.harvest_date,
            result=TestResult.failed,
        )
    assert batch.tests == []
