"""Warehouse receipts pledged to a lender (仓单质押): nothing else may use a pledged receipt until the
warehouse discharges the pledge."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.db import local_date, utcnow
from app.errors import Conflict, NotFound, RuleViolation
from app.events import Event
from app.exchange import pledges, receipts, settlement
from app.exchange.models import MoveKind, ReceiptMove, ReceiptStatus
from tests.contracts.test_api import token
from tests.exchange.steps import (
    AROUND_THE_CLOCK,
    cuiya,
    list_lots,
    receipt_for,
    trader_with_deposit,
    warehouse,
)
from tests.helpers import post_form, sign_in

DUE = local_date(utcnow()) + timedelta(days=90)
NOT_FREE = "is not free to use: it is pledged"


@pytest.fixture
def held(session):
    """A trader holding a 100 kg Cuiya receipt from the China Tea City warehouse."""
    tea = cuiya(session, **AROUND_THE_CLOCK)
    holder = trader_with_deposit(session)
    store = warehouse()
    receipt = receipt_for(session, tea, holder, kg=100, store=store)
    return {"holder": holder, "store": store, "receipt": receipt, "tea": tea}


def pledge(session, held, **terms):
    return pledges.pledge_receipt(
        session,
        holder_id=held["holder"].organisation_id,
        actor_id=held["holder"].user_id,
        receipt_id=held["receipt"].id,
        lender=terms.pop("lender", "遵义农商银行"),
        loan_reference=terms.pop("loan_reference", "ZY-2026-0412"),
        amount_fen=terms.pop("amount_fen", 5_000_000),
        until=terms.pop("until", DUE),
        **terms,
    )


def discharge(session, held, store=None):
    store = store or held["store"]
    return pledges.discharge_pledge(
        session,
        warehouse_id=store.organisation_id,
        actor_id=store.user_id,
        receipt_id=held["receipt"].id,
    )


def test_a_pledged_receipt_cannot_be_listed_split_merged_taken_out_or_pledged_again(session, held):
    holder, receipt = held["holder"], held["receipt"]
    other = receipt_for(session, held["tea"], holder, kg=20, store=held["store"])

    pledged = pledge(session, held)

    assert pledged.status == ReceiptStatus.pledged
    session.refresh(pledged)
    assert (pledged.pledge.lender, pledged.pledge.amount_fen, pledged.pledge.until) == (
        "遵义农商银行",
        5_000_000,
        DUE,
    )
    steps = {
        "list": lambda: list_lots(session, holder, held["tea"], receipt, 20),
        "split": lambda: receipts.split_receipt(
            session,
            holder_id=holder.organisation_id,
            actor_id=holder.user_id,
            receipt_id=receipt.id,
            kg=10,
        ),
        "merge": lambda: receipts.merge_receipts(
            session,
            holder_id=holder.organisation_id,
            actor_id=holder.user_id,
            receipt_ids=[other.id, receipt.id],
        ),
        "take out": lambda: settlement.pick_up(
            session,
            warehouse_id=held["store"].organisation_id,
            actor_id=held["store"].user_id,
            receipt_id=receipt.id,
        ),
        "pledge again": lambda: pledge(session, held, lender="另一家银行"),
    }
    for name, step in steps.items():
        with session.begin_nested(), pytest.raises(Conflict, match=NOT_FREE):
            step()
        assert session.get(type(receipt), receipt.id).status == ReceiptStatus.pledged, name
    session.refresh(receipt)
    assert receipt.net_kg == 100


def test_the_warehouse_discharges_the_pledge_and_the_receipt_is_free_again(session, held):
    pledge(session, held)

    freed = discharge(session, held)

    assert freed.status == ReceiptStatus.held
    session.refresh(freed)
    assert freed.pledge is None
    lot = list_lots(session, held["holder"], held["tea"], freed, 20)
    assert lot.lots == 20
    history = session.scalars(
        select(ReceiptMove.kind).where(ReceiptMove.receipt_id == freed.id).order_by(ReceiptMove.id)
    ).all()
    assert history == [MoveKind.issued, MoveKind.pledged, MoveKind.discharged, MoveKind.offered]
    kinds = session.scalars(
        select(Event.kind).where(Event.subject == f"receipt:{freed.id}").order_by(Event.id)
    ).all()
    assert kinds[-2:] == ["exchange.receipt_pledged", "exchange.pledge_discharged"]


def test_only_its_warehouse_discharges_and_only_a_pledged_receipt(session, held):
    with session.begin_nested(), pytest.raises(Conflict, match="is not pledged"):
        discharge(session, held)
    pledge(session, held)
    with pytest.raises(NotFound):
        discharge(session, held, store=warehouse())


def test_a_loan_due_today_or_a_receipt_of_someone_else_is_refused(session, held):
    with pytest.raises(RuleViolation) as due:
        pledge(session, held, until=local_date(utcnow()))
    assert due.value.field == "until"
    stranger = trader_with_deposit(session)
    with pytest.raises(NotFound):
        pledges.pledge_receipt(
            session,
            holder_id=stranger.organisation_id,
            actor_id=stranger.user_id,
            receipt_id=held["receipt"].id,
            lender="银行",
            loan_reference="X",
            amount_fen=100,
            until=DUE,
        )


def test_the_api_pledges_and_discharges_and_answers_bad_terms_on_their_fields(
    client, session, held
):
    holder = token(held["holder"], "agl_pledge-holder")
    store = token(held["store"], "agl_pledge-store")
    path = f"/api/v1/exchange/receipts/{held['receipt'].id}"
    terms = {"lender": "遵义农商银行", "loan_reference": "ZY-1", "until": DUE.isoformat()}

    bad = client.post(f"{path}/pledge", json={**terms, "amount_yuan": "0"}, headers=holder)
    late = client.post(
        f"{path}/pledge",
        json={**terms, "amount_yuan": "50000", "until": local_date(utcnow()).isoformat()},
        headers=holder,
    )
    nameless = client.post(
        f"{path}/pledge", json={**terms, "lender": "", "amount_yuan": "50000"}, headers=holder
    )
    assert (bad.status_code, late.status_code, nameless.status_code) == (422, 422, 422)
    assert "amount_yuan" in bad.get_json()["fields"]
    assert "until" in late.get_json()["fields"]
    assert "lender" in nameless.get_json()["fields"]

    pledged = client.post(f"{path}/pledge", json={**terms, "amount_yuan": "50000"}, headers=holder)
    assert pledged.status_code == 200, pledged.get_json()
    assert pledged.get_json()["status"] == "pledged"
    assert pledged.get_json()["pledge"]["amount_fen"] == 5_000_000
    assert client.post(f"{path}/discharge", headers=holder).status_code == 403
    freed = client.post(f"{path}/discharge", headers=store)
    assert freed.status_code == 200
    assert (freed.get_json()["status"], freed.get_json()["pledge"]) == ("held", None)


def test_the_holder_pledges_on_its_receipts_page_and_the_warehouse_discharges_on_its_own(
    client, session, held
):
    receipt = held["receipt"]
    sign_in(client, held["holder"].user, held["holder"].organisation, language="en")
    post_form(
        client,
        f"/exchange/receipts/{receipt.id}/pledge",
        {
            "lender": "Zunyi Rural Bank",
            "loan_reference": "ZY-7",
            "amount_yuan": "50000",
            "until": DUE.isoformat(),
        },
    )
    page = client.get("/exchange/receipts").get_data(as_text=True)
    assert "pledged" in page and "Zunyi Rural Bank" in page and "ZY-7" in page

    sign_in(client, held["store"].user, held["store"].organisation, language="en")
    store_page = client.get("/warehouse/receipts").get_data(as_text=True)
    assert "Discharge pledge" in store_page
    answer = post_form(client, f"/warehouse/receipts/{receipt.id}/discharge", follow_redirects=True)
    assert f"Receipt {receipt.number} is free of its pledge." in answer.get_data(as_text=True)
    session.refresh(receipt)
    assert receipt.status == ReceiptStatus.held
