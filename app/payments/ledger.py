"""Posting to the double-entry ledger, and checking that the books balance.

`post` is the only code that changes a balance. Each posting carries an idempotency key: posting the same key
again returns the first transaction and moves nothing. Balances change by one conditional UPDATE per account,
taken in account order so two postings never wait on each other in a circle; an account that would go below
its floor refuses the whole transaction.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.db import utcnow
from app.errors import Conflict
from app.payments.models import AccountKind, LedgerAccount, LedgerEntry, LedgerTransaction

BANK = "bank"
FEES = "fees"
STRIPE = "stripe"
_NO_FLOOR = {AccountKind.bank, AccountKind.stripe}


class InsufficientFunds(Conflict):
    """An account would go below its floor: the whole posting is refused."""

    type = "insufficient_funds"

    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.code = code


def wallet(organisation_id: int) -> str:
    return f"wallet:{organisation_id}"


def receivable(organisation_id: int) -> str:
    return f"receivable:{organisation_id}"


def payable(organisation_id: int) -> str:
    return f"payable:{organisation_id}"


def escrow(order_id: int) -> str:
    return f"escrow:{order_id}"


def _kind_of(code: str) -> AccountKind:
    return AccountKind(code.split(":", 1)[0])


def open_account(session: Session, code: str) -> int:
    """The id of the account named `code`, opened now if it did not exist (safe when two open it at once)."""
    return _open_accounts(session, [code])[code]


def _open_accounts(session: Session, codes: list[str]) -> dict[str, int]:
    """Account ids by code; the missing ones are opened (one statement for all, whoever opens them)."""
    found = dict(
        session.execute(
            select(LedgerAccount.code, LedgerAccount.id).where(LedgerAccount.code.in_(codes))
        ).all()
    )
    missing = [code for code in codes if code not in found]
    if missing:
        opened = session.execute(_insert_ignoring_duplicates(session, map(_new_account, missing)))
        found.update(dict(opened.all()))
    if len(found) < len(codes):  # another transaction opened one at the same moment
        return _open_accounts(session, codes)
    return found


def _new_account(code: str) -> dict:
    kind = _kind_of(code)
    owner = int(code.split(":")[1]) if ":" in code else None
    return {
        "code": code,
        "kind": kind,
        "organisation_id": owner if kind != AccountKind.escrow else None,
        "order_id": owner if kind == AccountKind.escrow else None,
        "floor_fen": None if kind in _NO_FLOOR else 0,
        "balance_fen": 0,
        "currency": "CNY",
        "created_at": utcnow(),
    }


def _insert_ignoring_duplicates(session: Session, rows):
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return (
        dialect.insert(LedgerAccount)
        .values(list(rows))
        .on_conflict_do_nothing(index_elements=["code"])
        .returning(LedgerAccount.code, LedgerAccount.id)
    )


@dataclass(frozen=True)
class Posted:
    transaction_id: int
    replayed: bool  # True: this key was posted before, and nothing moved now


def post(
    session: Session,
    *,
    key: str,
    kind: str,
    moves: Mapping[str, int],
    order_id: int | None = None,
    memo: str = "",
    actor_id: int | None = None,
) -> Posted:
    """Move money between accounts (code -> signed fen, summing to zero), once per key."""
    moves = {code: amount for code, amount in moves.items() if amount}
    if sum(moves.values()) != 0:
        raise ValueError(f"a transaction must sum to zero: {moves}")
    transaction_id = _claim_key(session, key, kind, order_id, memo, actor_id)
    if transaction_id is None:
        existing = session.scalar(
            select(LedgerTransaction.id).where(LedgerTransaction.idempotency_key == key)
        )
        return Posted(existing, replayed=True)
    accounts = _open_accounts(session, list(moves))
    for code in sorted(moves, key=accounts.__getitem__):
        _move(session, accounts[code], code, moves[code])
    if moves:
        session.execute(
            insert(LedgerEntry),
            [
                {
                    "transaction_id": transaction_id,
                    "account_id": accounts[code],
                    "amount_fen": amount,
                }
                for code, amount in moves.items()
            ],
        )
    return Posted(transaction_id, replayed=False)


def _claim_key(session, key, kind, order_id, memo, actor_id) -> int | None:
    """Insert the transaction row, or None when the key is taken (a concurrent poster waits for the other)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(LedgerTransaction)
        .values(
            idempotency_key=key,
            kind=kind,
            order_id=order_id,
            memo=memo,
            actor_id=actor_id,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(LedgerTransaction.id)
    )
    return session.scalar(statement)


def _move(session: Session, account_id: int, code: str, amount: int) -> None:
    balance = session.scalar(
        update(LedgerAccount)
        .where(
            LedgerAccount.id == account_id,
            or_(
                LedgerAccount.floor_fen.is_(None),
                LedgerAccount.balance_fen + amount >= LedgerAccount.floor_fen,
            ),
        )
        .values(balance_fen=LedgerAccount.balance_fen + amount)
        .returning(LedgerAccount.balance_fen)
    )
    if balance is None:
        raise InsufficientFunds(_short_of_money(session, account_id, code), code=code)


def _short_of_money(session: Session, account_id: int, code: str) -> str:
    held = session.scalar(
        select(LedgerAccount.balance_fen - func.coalesce(LedgerAccount.floor_fen, 0)).where(
            LedgerAccount.id == account_id
        )
    )
    yuan = f"¥{held / 100:,.2f}"
    if code.startswith("wallet:"):
        return _(
            "Your wallet holds %(yuan)s, not enough for this. Top it up by bank transfer first.",
            yuan=yuan,
        )
    if code.startswith("receivable:"):
        return _("This would go past your credit limit: %(yuan)s of it is left.", yuan=yuan)
    return _("The account %(code)s holds only %(yuan)s.", code=code, yuan=yuan)


def balance(session: Session, code: str) -> int:
    """What the account holds now (0 for an account never used)."""
    found = session.scalar(select(LedgerAccount.balance_fen).where(LedgerAccount.code == code))
    return found or 0


def available(session: Session, code: str) -> int:
    """How much the account can still pay out before it reaches its floor."""
    found = session.execute(
        select(LedgerAccount.balance_fen, LedgerAccount.floor_fen).where(LedgerAccount.code == code)
    ).first()
    if found is None:
        return 0
    balance_fen, floor_fen = found
    return balance_fen - (floor_fen or 0)


def set_floor(session: Session, code: str, floor_fen: int) -> None:
    """Change how low an account may go (a credit limit); refused if it is already below the new floor."""
    account_id = open_account(session, code)
    changed = session.execute(
        update(LedgerAccount)
        .where(LedgerAccount.id == account_id, LedgerAccount.balance_fen >= floor_fen)
        .values(floor_fen=floor_fen)
    ).rowcount
    if not changed:
        raise Conflict(_("More than that is already owed; the limit cannot go below it."))


@dataclass(frozen=True)
class Problem:
    what: str  # "unbalanced", "balance", "floor", "escrow"
    detail: str


def check(session: Session, *, held_by_order: Mapping[int, int]) -> list[Problem]:
    """Everything wrong with the books: transactions that do not sum to zero, balances that are not the sum
    of their entries, accounts below their floor, and escrows that differ from what each order still holds."""
    return [
        *_unbalanced_transactions(session),
        *_balances_off_their_entries(session),
        *_below_floor(session),
        *_escrows_off(session, held_by_order),
    ]


def _unbalanced_transactions(session: Session) -> Iterable[Problem]:
    query = (
        select(LedgerTransaction.idempotency_key, func.sum(LedgerEntry.amount_fen))
        .join(LedgerEntry)
        .group_by(LedgerTransaction.id, LedgerTransaction.idempotency_key)
        .having(func.sum(LedgerEntry.amount_fen) != 0)
    )
    for key, total in session.execute(query):
        yield Problem("unbalanced", f"transaction {key} sums to {total} fen, not 0")


def _balances_off_their_entries(session: Session) -> Iterable[Problem]:
    sums = (
        select(LedgerEntry.account_id, func.sum(LedgerEntry.amount_fen).label("total"))
        .group_by(LedgerEntry.account_id)
        .subquery()
    )
    query = (
        select(LedgerAccount.code, LedgerAccount.balance_fen, func.coalesce(sums.c.total, 0))
        .outerjoin(sums, sums.c.account_id == LedgerAccount.id)
        .where(LedgerAccount.balance_fen != func.coalesce(sums.c.total, 0))
    )
    for code, balance_fen, total in session.execute(query):
        yield Problem("balance", f"{code} shows {balance_fen} fen but its entries sum to {total}")


def _below_floor(session: Session) -> Iterable[Problem]:
    query = select(LedgerAccount.code, LedgerAccount.balance_fen, LedgerAccount.floor_fen).where(
        LedgerAccount.floor_fen.is_not(None), LedgerAccount.balance_fen < LedgerAccount.floor_fen
    )
    for code, balance_fen, floor_fen in session.execute(query):
        yield Problem("floor", f"{code} holds {balance_fen} fen, below its floor of {floor_fen}")


def _escrows_off(session: Session, held_by_order: Mapping[int, int]) -> Iterable[Problem]:
    escrows = dict(
        session.execute(
            select(LedgerAccount.order_id, LedgerAccount.balance_fen).where(
                LedgerAccount.kind == AccountKind.escrow
            )
        ).all()
    )
    for order_id in sorted(set(escrows) | set(held_by_order)):
        held, expected = escrows.get(order_id, 0), held_by_order.get(order_id, 0)
        if held != expected:
            yield Problem(
                "escrow", f"order {order_id}: escrow holds {held} fen, the order says {expected}"
            )
