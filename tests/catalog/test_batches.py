from datetime import timedelta

import pytest

from app.catalog import batches
from app.catalog.models import InputKind, TestResult
from app.db import utcnow
from app.errors import Conflict, PermissionDenied, RuleViolation
from tests.factories import BatchFactory, OrganisationFactory, UploadFactory, UserFactory


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


def test_a_harvest_in_the_future_is_refused(session):
    with pytest.raises(RuleViolation) as refused:
        batches.record_batch(
            session,
            organisation_id=OrganisationFactory().id,
            actor_id=UserFactory().id,
            product="meitan_cuiya",
            farm="x",
            harvest_date=utcnow().date() + timedelta(days=1),
        )
    assert refused.value.field == "harvest_date"


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


def test_a_test_report_with_its_file_makes_the_batch_pass(session):
    batch = BatchFactory()
    report = UploadFactory(kind="document", content_type="application/pdf")

    batches.add_test_report(
        session,
        organisation_id=batch.seller.id,
        actor_id=UserFactory().id,
        batch_code=batch.code,
        lab="遵义市农产品质量安全检测中心",
        tested_on=batch.harvest_date,
        result=TestResult.passed,
        upload=report,
    )

    assert batch.passed_all_tests
    assert batch.tests[0].upload is report


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
