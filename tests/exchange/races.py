"""What the exchange's race tests share: a migrated database of the test's own with an instrument, a
warehouse and funded traders with receipts and API tokens, and requests sent from many threads at once."""

import http.client
import json
import threading
from dataclasses import dataclass

from sqlalchemy import select

from app.auth import OrgKind, Role
from app.catalog.models import Grade, Product
from app.db import transaction
from app.exchange import deposits, instruments, receipts
from app.exchange.models import (
    DEFAULT_MODES,
    TradingMode,
)
from app.payments import ledger
from tests import processes
from tests.exchange.steps import AROUND_THE_CLOCK

SYMBOL = "CUIYA-S"
LOT_KG = 5
CLOSE_FEN = 80_000  # ¥800.00/kg yesterday; ticks of ¥0.10
OFFICER_TOKEN = "agl_tea-race-13600000001"  # the exchange officer exchange_with_traders makes


@dataclass(frozen=True)
class Trader:
    organisation_id: int
    user_id: int
    token: str
    receipt_id: int
    receipt_number: str


def exchange_with_traders(
    database_url: str, *, traders: int, deposit_fen: int, receipt_kg: int = 500
):
    """Premium Meitan Cuiya trading at any hour in every mode (5 kg lots, ¥800.00/kg yesterday, ±10 %), and
    `traders` tea traders, each with `deposit_fen` in its exchange deposit, a receipt for `receipt_kg` kg
    from the China Tea City warehouse and an API token."""
    app = processes.migrated_app(database_url)
    with app.app_context(), transaction() as session:
        tea = session.scalar(select(Product).where(Product.code == "meitan_cuiya"))
        special = session.scalar(
            select(Grade).where(Grade.scale_id == tea.grade_scale_id, Grade.code == "special")
        )
        centre = processes.organisation(session, 1, OrgKind.exchange, "遵义茶叶交易中心")
        officer = trader_member(session, centre, "13600000001", Role.officer)
        instruments.create_instrument(
            session,
            actor_id=officer.id,
            symbol=SYMBOL,
            product_id=tea.id,
            grade_id=special.id,
            packaging="250 g tins, 20 to a 5 kg carton",
            tick_fen=10,
            lot_kg=LOT_KG,
            previous_close_fen=CLOSE_FEN,
            modes=[*DEFAULT_MODES, TradingMode.matching],
            **AROUND_THE_CLOCK,
        )
        store = processes.organisation(session, 2, OrgKind.warehouse, "中国茶城仓库")
        keeper = trader_member(session, store, "13600000002", Role.staff)
        found = []
        for n in range(1, traders + 1):
            trader = processes.organisation(session, 100 + n, OrgKind.trader, f"湄潭茶商{n}号")
            secret = f"agl_tea-race-{n:05d}-secret"
            user = trader_member(session, trader, f"137{n:08d}", Role.staff, secret=secret)
            if deposit_fen:
                processes.fund(session, trader, deposit_fen, actor_id=user.id)
                deposits.fund_deposit(
                    session, organisation_id=trader.id, actor_id=user.id, amount_fen=deposit_fen
                )
            receipt = receipts.issue_receipt(
                session,
                warehouse_id=store.id,
                actor_id=keeper.id,
                holder_id=trader.id,
                product_id=tea.id,
                grade_id=special.id,
                net_kg=receipt_kg,
                packages=receipt_kg // LOT_KG,
            )
            found.append(Trader(trader.id, user.id, secret, receipt.id, receipt.number))
    return app, found


def trader_member(session, organisation, phone: str, role: Role, *, secret: str = ""):
    secret = secret or f"agl_tea-race-{phone}"
    return processes.member_with_token(session, organisation, phone=phone, secret=secret, role=role)


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def call(base: str, token: str, method: str, path: str, body: dict | None = None):
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    try:
        connection.request(method, path, None if body is None else json.dumps(body), headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def at_once(base: str, calls: list[tuple]) -> list[tuple[int, dict]]:
    """Each (token, method, path, body) sent from a thread of its own, all let go at the same moment; the
    answers in the order of the calls."""
    start = threading.Barrier(len(calls))
    answers: list = [None] * len(calls)

    def send(index: int, step: tuple) -> None:
        start.wait()
        answers[index] = call(base, *step)

    threads = [threading.Thread(target=send, args=pair) for pair in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def free_and_reserved(session, organisation_id: int) -> tuple[int, int]:
    return (
        ledger.balance(session, ledger.exchange_deposit(organisation_id)),
        ledger.balance(session, ledger.reserved(organisation_id)),
    )
