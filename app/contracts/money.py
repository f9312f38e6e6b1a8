"""A contract's money in the ledger: the deposit held while it runs, returned at its end, and what a breach
moves from the defaulting side to the wronged one.

Every posting's key names the contract and the step, so a step retried moves the money once. Where the
defaulting side has less on the platform than it owes, what it has is moved and the rest is recorded as owed,
for mediation: the ledger never lends on anyone's behalf.
"""

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from app.contracts import terms as contract_terms
from app.contracts.models import Contract, Remedy
from app.i18n import money
from app.payments import ledger
from app.payments.ledger import InsufficientFunds


def _post(session: Session, contract: Contract, step: str, kind: str, moves, actor_id) -> None:
    ledger.post(
        session,
        key=f"contract:{contract.id}:{step}",
        kind=kind,
        memo=f"contract {contract.id}",
        actor_id=actor_id,
        moves=moves,
    )


def hold_deposit(session: Session, contract: Contract, amount_fen: int, actor_id: int) -> None:
    """Take the deposit from the buyer's wallet into the contract's deposit account."""
    if not amount_fen:
        return
    wallet = ledger.wallet(contract.buyer_id)
    try:
        _post(
            session,
            contract,
            "deposit",
            "deposit",
            {wallet: -amount_fen, ledger.deposit(contract.id): amount_fen},
            actor_id,
        )
    except InsufficientFunds as short:
        raise InsufficientFunds(
            _(
                "The deposit of %(deposit)s comes from the buyer's wallet, which holds %(held)s. "
                "The buyer tops it up by bank transfer, then the contract can be signed.",
                deposit=money(amount_fen),
                held=money(ledger.available(session, wallet)),
            ),
            code=short.code,
        ) from short
    contract.deposit_fen = amount_fen


def return_deposit(session: Session, contract: Contract, actor_id: int | None) -> None:
    """The contract ended as agreed: the deposit goes back to the buyer."""
    if contract.deposit_fen:
        _post(
            session,
            contract,
            "deposit:return",
            "deposit_return",
            _deposit_back(contract),
            actor_id,
        )


def _deposit_back(contract: Contract) -> dict[str, int]:
    return {
        ledger.deposit(contract.id): -contract.deposit_fen,
        ledger.wallet(contract.buyer_id): contract.deposit_fen,
    }


def settle_breach(
    session: Session, contract: Contract, *, defaulting_org_id: int, remedy: Remedy | None, actor_id
) -> tuple[int, int]:
    """Apply the remedy the wronged side chose: (fen moved to the wronged side, fen still owed)."""
    terms = contract.signed_version.terms
    deposit, buyer_defaults = contract.deposit_fen, defaulting_org_id == contract.buyer_id
    wallet, payable = ledger.wallet(contract.buyer_id), ledger.payable(contract.seller_id)
    moves: dict[str, int] = {ledger.deposit(contract.id): -deposit}
    if remedy == Remedy.deposit and buyer_defaults:  # the payer loses its deposit
        moves[payable] = deposit
        due, paid = deposit, deposit
    else:  # the deposit goes back; a defaulting seller pays as much again, or the penalty applies
        moves[wallet] = deposit
        due = deposit if remedy == Remedy.deposit else 0
        if remedy == Remedy.penalty:
            due = contract_terms.penalty_fen(terms)
        source, target = (wallet, payable) if buyer_defaults else (payable, wallet)
        paid = min(due, ledger.available(session, source) + moves.get(source, 0))
        moves[source] = moves.get(source, 0) - paid
        moves[target] = moves.get(target, 0) + paid
    _post(session, contract, "breach", "breach", moves, actor_id)
    contract.deposit_fen = 0
    return paid, due - paid
