"""Contract races against real processes: both sides signing at once, countering while the other signs, and
two schedulers ordering the same instalments. Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL."""

import http.client
import json
import threading
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from app.auth import OrgKind
from app.contracts import services
from app.contracts.models import Contract, ContractStatus, Instalment, InstalmentStatus
from app.db import get_session, local_date, transaction, utcnow
from app.orders.cli import problems
from app.orders.models import Order
from app.payments import ledger
from scripts.bench.common import Server
from tests import processes
from tests.contracts.steps import school_terms

ROOT = Path(__file__).resolve().parents[2]


def _set_up(database_url: str, *, contracts: int = 1, first_in_days: int = 7):
    """A school and a cooperative, each with a manager holding an API token; `contracts` contracts sent
    by the school (its wallet funded for their deposits). Returns the app, the tokens and contract ids."""
    app = processes.migrated_app(database_url)
    with app.app_context(), transaction() as session:
        school = processes.organisation(session, 1, OrgKind.school, "湄江中学")
        coop = processes.organisation(session, 2, OrgKind.cooperative, "兴隆蔬菜合作社")
        manager = processes.member_with_token(
            session, school, phone="13900000000", secret="agl_race-buyer-secret"
        )
        processes.member_with_token(
            session, coop, phone="13900000001", secret="agl_race-seller-secret"
        )
        cabbage = processes.listing(session, coop, stock=1_000_000, price_fen=350)
        processes.fund(session, school, contracts * 10_000_000, actor_id=manager.id)
        first = local_date(utcnow()) + timedelta(days=first_in_days)
        ids = []
        for _n in range(contracts):
            contract = services.create_contract(
                session,
                organisation_id=school.id,
                actor_id=manager.id,
                listing_id=cabbage.id,
                buyer_id=None,
                title="秋季蔬菜",
                terms=school_terms(first=first, weeks=2),
            )
            services.send_contract(
                session, organisation_id=school.id, actor_id=manager.id, contract_id=contract.id
            )
            ids.append(contract.id)
    return app, {"buyer": "agl_race-buyer-secret", "seller": "agl_race-seller-secret"}, ids


def _post(base: str, token: str, path: str, body: dict) -> tuple[int, dict]:
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    try:
        connection.request("POST", path, json.dumps(body), headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def _at_once(*calls) -> list[tuple[int, dict]]:
    start = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        start.wait()
        results[index] = call()

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_both_sides_signing_at_the_same_moment_activate_the_contract_once(empty_database_url):
    app, tokens, [contract_id] = _set_up(empty_database_url)
    path = f"/api/v1/contracts/{contract_id}/sign"
    with Server(empty_database_url, "wsgi:app", workers=2, threads=4) as server:
        results = _at_once(
            lambda: _post(server.base, tokens["buyer"], path, {"version": 1}),
            lambda: _post(server.base, tokens["seller"], path, {"version": 1}),
        )
    assert [status for status, _ in results] == [200, 200]
    with app.app_context():
        reads = get_session()
        contract = reads.get(Contract, contract_id)
        assert contract.status == ContractStatus.active
        assert len(contract.latest.signatures) == 2
        assert len(contract.instalments) == 2
        # 400 kg at the ¥3.00 floor, 10%: the deposit was held once.
        assert ledger.balance(reads, ledger.deposit(contract_id)) == 12_000
        assert problems(reads) == []
    app.extensions["agrilink.db"].dispose()


def test_countering_while_the_other_side_signs_leaves_one_consistent_contract(empty_database_url):
    app, tokens, [contract_id] = _set_up(empty_database_url)
    counter = {**_api_terms(), "price_yuan": "3.30", "version": 1}
    with Server(empty_database_url, "wsgi:app", workers=2, threads=4) as server:
        results = _at_once(
            lambda: _post(
                server.base,
                tokens["seller"],
                f"/api/v1/contracts/{contract_id}/sign",
                {"version": 1},
            ),
            lambda: _post(
                server.base, tokens["buyer"], f"/api/v1/contracts/{contract_id}/versions", counter
            ),
        )
    (signed, _), (countered, _) = results
    with app.app_context():
        contract = get_session().get(Contract, contract_id)
        # Whichever came first, the other either followed it or was told why not, and nothing is active.
        assert contract.status == ContractStatus.negotiating
        assert (signed, countered) in {(200, 201), (409, 201)}
        assert contract.latest.number == 2 and contract.latest.signatures == []
        assert not contract.instalments
    app.extensions["agrilink.db"].dispose()


def _api_terms() -> dict:
    terms = school_terms(first=local_date(utcnow()) + timedelta(days=7), weeks=2)
    return {
        "quantity": terms["quantity"],
        "price_rule": terms["price_rule"],
        "price_yuan": "3.00",
        "deposit_pct": "10",
        "tolerance_pct": "2",
        "instalments": [
            {"due_on": item["due_on"], "quantity": item["quantity"]}
            for item in terms["instalments"]
        ],
        "delivery_point": terms["delivery_point"],
        "window_start": "06:00",
        "window_end": "06:30",
    }


def test_two_schedulers_running_the_instalment_job_at_once_order_each_instalment_once(
    empty_database_url,
):
    app, _tokens, ids = _set_up(empty_database_url, contracts=30, first_in_days=2)
    with app.app_context(), transaction() as session:
        for contract_id in ids:
            contract = session.get(Contract, contract_id)
            for organisation_id in (contract.buyer_id, contract.seller_id):
                services.sign_contract(
                    session,
                    organisation_id=organisation_id,
                    actor_id=contract.created_by_id,
                    contract_id=contract_id,
                    version=1,
                )
    processes.run_job_twice_at_once(empty_database_url, "contracts.order_instalments")
    with app.app_context():
        reads = get_session()
        ordered = reads.scalars(
            select(Instalment).where(Instalment.status == InstalmentStatus.ordered)
        ).all()
        assert len(ordered) == 30  # the first of each contract's two weekly deliveries
        assert reads.scalar(select(func.count()).select_from(Order)) == 30
        assert len({item.order_id for item in ordered}) == 30
        assert problems(reads) == []
    app.extensions["agrilink.db"].dispose()
