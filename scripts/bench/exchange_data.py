"""Fill a fresh database for the exchange's HTTP benchmark (scripts/bench/exchange.py --http): instruments
that match continuously at any hour, and traders each with an API token, a funded exchange deposit and a
deep warehouse receipt for every instrument."""

from datetime import time

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app.accounts.models import ApiToken, Membership, User
from app.auth import OrgKind, Role, hash_password, token_digest
from app.catalog.models import Grade, Product
from app.db import local_date, utcnow
from app.exchange import deposits, instruments, receipts
from app.exchange.models import DEFAULT_MODES, TradingMode
from app.payments.services import confirm_bank_transfer
from scripts.bench.catalog_data import organisations

REFERENCE_FEN = 10_000  # ¥100.00 per kg, on ¥0.10 ticks, 1 kg lots
DEPOSIT_FEN = 10**11
RECEIPT_KG = 10_000_000  # more than any run sells


def fill(
    session: Session, *, traders: int, symbols: list[str]
) -> tuple[list[str], list[list[int]]]:
    """The traders' API tokens, and each trader's receipt id for each instrument (in `symbols` order)."""
    tea = session.scalar(select(Product).where(Product.code == "meitan_cuiya"))
    grades = session.scalars(select(Grade).where(Grade.scale_id == tea.grade_scale_id)).all()
    officer = _users(session, 1, "1360000")[0]
    listed = [
        instruments.create_instrument(
            session,
            actor_id=officer,
            symbol=symbol,
            product_id=tea.id,
            grade_id=grades[n % len(grades)].id,
            packaging="bench",
            tick_fen=10,
            lot_kg=1,
            previous_close_fen=REFERENCE_FEN,
            band_bps=5000,
            daily_limit_bps=5000,
            modes=[*DEFAULT_MODES, TradingMode.matching],
            trading_days="1234567",
            opens_at=time.min,
            closes_at=time.max,
        )
        for n, symbol in enumerate(symbols)
    ]
    warehouse = organisations(session, 1, kind=OrgKind.warehouse, series="9W")[0]
    trader_ids = organisations(session, traders, kind=OrgKind.trader, series="9T")
    user_ids = _users(session, traders, "1370000")
    tokens = _tokens(session, trader_ids, user_ids)
    receipt_ids = []
    for trader_id, user_id in zip(trader_ids, user_ids, strict=True):
        confirm_bank_transfer(
            session,
            actor_id=officer,
            organisation_id=trader_id,
            reference=f"BENCH-{trader_id}",
            amount_fen=DEPOSIT_FEN,
            received_on=local_date(utcnow()),
        )
        deposits.fund_deposit(
            session, organisation_id=trader_id, actor_id=user_id, amount_fen=DEPOSIT_FEN
        )
        receipt_ids.append(
            [
                receipts.issue_receipt(
                    session,
                    warehouse_id=warehouse,
                    actor_id=officer,
                    holder_id=trader_id,
                    product_id=instrument.product_id,
                    grade_id=instrument.grade_id,
                    net_kg=RECEIPT_KG,
                    packages=RECEIPT_KG // 5,
                ).id
                for instrument in listed
            ]
        )
    return tokens, receipt_ids


def _users(session: Session, count: int, phones: str) -> list[int]:
    password = hash_password("benchmark only")
    return list(
        session.scalars(
            insert(User).returning(User.id, sort_by_parameter_order=True),
            [
                {"name": f"交易员{n}", "phone": f"{phones}{n:04d}", "password_hash": password}
                for n in range(count)
            ],
        )
    )


def _tokens(session: Session, trader_ids: list[int], user_ids: list[int]) -> list[str]:
    tokens = [f"agl_bench-trader-{n:05d}-token" for n in range(len(trader_ids))]
    session.execute(
        insert(Membership),
        [
            {"user_id": user_id, "organisation_id": trader_id, "role": Role.staff}
            for user_id, trader_id in zip(user_ids, trader_ids, strict=True)
        ],
    )
    session.execute(
        insert(ApiToken),
        [
            {
                "user_id": user_id,
                "organisation_id": trader_id,
                "name": "bench",
                "prefix": token[:12],
                "digest": token_digest(token),
            }
            for user_id, trader_id, token in zip(user_ids, trader_ids, tokens, strict=True)
        ],
    )
    return tokens
