"""Posting to the double-entry ledger, and checking that the books balance.

`post` is the only code that changes a balance. Each posting carries an idempotency key: posting the same key
again returns the first transaction and moves nothing. Balances change by one conditional UPDATE per account,
taken in account order so two postings never wait on each other in a circle; an account that would go below
its floor refuses the whole transaction.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    Table,
    bindparam,
    cast,
    func,
    insert,
    literal,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.db import new_ids, pipelined, utcnow
from app.errors import Conflict
from app.payments.models import AccountKind, LedgerAccount, LedgerEntry, LedgerTransaction

BANK = "bank"
FEES = "fees"
STRIPE = "stripe"
_NO_FLOOR = {AccountKind.bank, AccountKind.stripe}
_TRANSACTIONS, _ACCOUNTS = LedgerTransaction.__table__, LedgerAccount.__table__


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


def deposit(contract_id: int) -> str:
    return f"deposit:{contract_id}"


def exchange_deposit(organisation_id: int) -> str:
    return f"exchange:{organisation_id}"


def reserved(organisation_id: int) -> str:
    return f"reserved:{organisation_id}"


def reserved_of(organisation_id: ColumnElement[int]) -> ColumnElement[str]:
    """reserved() in SQL, for a statement that picks out members' reserved accounts."""
    return literal("reserved:") + cast(organisation_id, String)


def trade_escrow(trade_id: int) -> str:
    return f"trade:{trade_id}"


# Accounts that hold money for something (an order, a contract, a trade, a member's open bids): that
# something says how much they should hold, and the ledger check compares.
HOLDING_KINDS = (AccountKind.escrow, AccountKind.deposit, AccountKind.reserved, AccountKind.trade)
# Accounts whose code names a thing rather than an organisation.
_THING_KINDS = {AccountKind.escrow, AccountKind.deposit, AccountKind.trade}


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


def _open_new_accounts(session: Session, opening: Mapping[str, int]) -> None:
    """Open accounts that cannot exist yet (ids drawn for them, by code) in one executemany."""
    if opening:
        session.connection().execute(
            insert(LedgerAccount.__table__).inline(),
            [{**_new_account(code), "id": account_id} for code, account_id in opening.items()],
        )


def _new_account(code: str) -> dict:
    kind = _kind_of(code)
    owner = int(code.split(":")[1]) if ":" in code else None
    return {
        "code": code,
        "kind": kind,
        "organisation_id": owner if kind not in _THING_KINDS else None,
        "order_id": owner if kind == AccountKind.escrow else None,
        "floor_fen": None if kind in _NO_FLOOR else 0,
        "balance_fen": 0,
        "currency": "CNY",
        "created_at": utcnow(),
    }


def _insert_ignoring_duplicates(session: Session, rows):
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    table = LedgerAccount.__table__
    return (
        dialect.insert(table)
        .values(list(rows))
        .on_conflict_do_nothing(index_elements=["code"])
        .returning(table.c.code, table.c.id)
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


@dataclass(frozen=True)
class Posting:
    key: str
    kind: str
    moves: Mapping[str, int]
    order_id: int | None = None
    memo: str = ""
    actor_id: int | None = None


def ids_for(postings: int, *, new: int = 0) -> dict[Table, int]:
    """The ids post_many will draw for so many postings opening `new` accounts (for db.new_ids' `ahead`,
    so that a caller drawing its own ids draws these in the same statement)."""
    return {_TRANSACTIONS: postings, _ACCOUNTS: new}


@dataclass(frozen=True)
class LockedAccount:
    """An account its caller has locked in this transaction (SELECT ... FOR UPDATE), as it read it."""

    id: int
    balance_fen: int
    floor_fen: int | None


def lock_accounts(session: Session, codes: Iterable[str]) -> dict[str, LockedAccount]:
    """The open accounts among `codes`, locked in id order (the order every batch writer locks them in),
    as they are now; a code with no account yet is left out."""
    codes = list(codes)
    if not codes:
        return {}
    return locked_accounts(session.connection().execute(_LOCK_ACCOUNTS, {"codes": codes}))


def locking_accounts(*, also: Select) -> Select:
    """lock_accounts' statement (parameter `codes`), also locking the accounts whose codes `also`
    selects, for a caller that sends it with other statements (db.read_together); its rows go to
    locked_accounts."""
    return _locking(
        LedgerAccount.code.in_(union_all(select(LedgerAccount.code).where(_ANY_OF_CODES), also))
    )


def locked_accounts(rows: Iterable[Sequence]) -> dict[str, LockedAccount]:
    """lock_accounts' answer from its statement's rows."""
    return {code: LockedAccount(*values) for code, *values in rows}


def _locking(which: ColumnElement[bool]) -> Select:
    """The accounts `which` picks out, locked in id order as UPDATE locks them (so that the entries
    inserted naming them need not wait)."""
    return (
        select(
            LedgerAccount.code, LedgerAccount.id, LedgerAccount.balance_fen, LedgerAccount.floor_fen
        )
        .where(which)
        .order_by(LedgerAccount.id)
        .with_for_update(key_share=True)
    )


_ANY_OF_CODES = LedgerAccount.code.in_(bindparam("codes", expanding=True))
_LOCK_ACCOUNTS = _locking(_ANY_OF_CODES)


def post_many(
    session: Session,
    postings: Sequence[Posting],
    *,
    new: Sequence[str] = (),
    locked: Mapping[str, LockedAccount] | None = None,
    unseen: bool = False,
) -> int:
    """Post many transactions in a handful of statements (batch jobs, checkouts written together), each
    key once; how many moved. `new`: accounts the caller knows are not open yet (the escrows of orders it
    has just made), opened without looking for them. `locked`: accounts the caller has locked and read in
    this transaction, not looked up or locked again. `unseen`: the caller knows no key was posted before
    (they name what this transaction has just made), so the transactions go in with the moves, without
    asking first which keys are new (a key posted after all fails the whole transaction).

    Each account moves once, by the sum of its moves, so a batch that would take any account below its
    floor is refused whole (InsufficientFunds), as one posting would be."""
    if any(sum(posting.moves.values()) != 0 for posting in postings):
        raise ValueError("a transaction must sum to zero")
    if len({posting.key for posting in postings}) < len(postings):
        raise ValueError("a batch names the same key twice")
    if not postings:
        return 0
    ids = new_ids(session, ids_for(len(postings), new=len(new)))
    if unseen:
        claimed = dict(zip((posting.key for posting in postings), ids[_TRANSACTIONS], strict=True))
    else:
        claimed = _claim_keys(session, postings, ids[_TRANSACTIONS])
    fresh = [posting for posting in postings if posting.key in claimed]
    if not fresh:
        return 0
    totals: dict[str, int] = defaultdict(int)
    for posting in fresh:
        for code, amount in posting.moves.items():
            totals[code] += amount
    locked = {code: account for code, account in (locked or {}).items() if code in totals}
    opening = dict(zip([code for code in new if code in totals], ids[_ACCOUNTS], strict=False))
    accounts = opening | {code: account.id for code, account in locked.items()}
    others = [code for code in totals if code not in accounts]
    if others:
        accounts |= _open_accounts(session, others)
    _check_enough(
        session,
        {accounts[code]: (code, amount) for code, amount in totals.items() if code not in locked},
        locked={code: (account, totals[code]) for code, account in locked.items()},
    )
    with pipelined(session):  # nothing below is read back: one round trip
        if unseen:
            session.connection().execute(
                insert(_TRANSACTIONS).inline(), _transaction_rows(fresh, claimed)
            )
        _open_new_accounts(session, opening)
        _move_all(session, fresh, claimed, accounts, totals)
    return len(fresh)


def _move_all(session, postings, transaction_ids, accounts, totals) -> None:
    """Each account moved once by its total, and every posting's entries."""
    connection = session.connection()
    changes = [
        {"account": accounts[code], "amount": totals[code]}
        for code in sorted(totals, key=accounts.__getitem__)
        if totals[code]
    ]
    if changes:  # a batch's moves may cancel out (money reserved and freed again)
        connection.execute(_ADD_TO_BALANCE, changes)
    entries = [
        {
            "transaction_id": transaction_ids[posting.key],
            "account_id": accounts[code],
            "amount_fen": amount,
        }
        for posting in postings
        for code, amount in posting.moves.items()
        if amount
    ]
    if entries:
        connection.execute(insert(LedgerEntry.__table__).inline(), entries)


_ADD_TO_BALANCE = (
    update(_ACCOUNTS)
    .where(_ACCOUNTS.c.id == bindparam("account"))
    .values(balance_fen=_ACCOUNTS.c.balance_fen + bindparam("amount"))
)


def _check_enough(
    session: Session,
    moves: Mapping[int, tuple[str, int]],
    *,
    locked: Mapping[str, tuple[LockedAccount, int]],
) -> None:
    """Refuse a batch that takes an account below its floor: the `locked` accounts as their caller read
    them, the others (`moves`, by id) locked now in id order."""
    for code, (account, amount) in locked.items():
        if account.floor_fen is not None and account.balance_fen + amount < account.floor_fen:
            raise InsufficientFunds(_short_of_money(session, account.id, code), code=code)
    taking = sorted(account_id for account_id, (_code, amount) in moves.items() if amount < 0)
    if not taking:
        return
    rows = session.execute(
        select(LedgerAccount.id, LedgerAccount.balance_fen, LedgerAccount.floor_fen)
        .where(LedgerAccount.id.in_(taking))
        .order_by(LedgerAccount.id)
        .with_for_update()
    )
    for account_id, balance_fen, floor_fen in rows:
        code, amount = moves[account_id]
        if floor_fen is not None and balance_fen + amount < floor_fen:
            raise InsufficientFunds(_short_of_money(session, account_id, code), code=code)


def _claim_keys(
    session: Session, postings: Sequence[Posting], ids: Sequence[int]
) -> dict[str, int]:
    """Transaction ids by key for the keys not posted before (the others are left out), in one INSERT that
    answers the rows it inserted."""
    connection = session.connection()
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    drawn = dict(zip((posting.key for posting in postings), ids, strict=True))
    inserted = set(
        connection.execute(
            dialect.insert(_TRANSACTIONS)
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(_TRANSACTIONS.c.id),
            _transaction_rows(postings, drawn),
        ).scalars()
    )
    return {
        key: transaction_id for key, transaction_id in drawn.items() if transaction_id in inserted
    }


def _transaction_rows(postings: Sequence[Posting], ids: Mapping[str, int]) -> list[dict]:
    now = utcnow()
    return [
        {
            "id": ids[posting.key],
            "idempotency_key": posting.key,
            "kind": posting.kind,
            "order_id": posting.order_id,
            "memo": posting.memo,
            "actor_id": posting.actor_id,
            "created_at": now,
        }
        for posting in postings
    ]


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
    if code.startswith("exchange:"):
        return _(
            "Your exchange deposit has %(yuan)s free, not enough for this. Fund it from your wallet first.",
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


def check(session: Session, *, held: Mapping[str, int]) -> list[Problem]:
    """Everything wrong with the books: transactions that do not sum to zero, balances that are not the sum
    of their entries, accounts below their floor, and escrows or deposits that differ from what their order
    or contract says it holds (`held`: account code -> fen)."""
    return [
        *_unbalanced_transactions(session),
        *_balances_off_their_entries(session),
        *_below_floor(session),
        *_holdings_off(session, held),
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


def _holdings_off(session: Session, held: Mapping[str, int]) -> Iterable[Problem]:
    holdings = dict(
        session.execute(
            select(LedgerAccount.code, LedgerAccount.balance_fen).where(
                LedgerAccount.kind.in_(HOLDING_KINDS)
            )
        ).all()
    )
    for code in sorted(set(holdings) | set(held)):
        holds, expected = holdings.get(code, 0), held.get(code, 0)
        if holds != expected:
            yield Problem(
                code.split(":")[0], f"{code} holds {holds} fen, its owner says {expected}"
            )
