"""Negotiating and signing order contracts, and what either side records afterwards: a breach, a force
majeure claim and the buyer's answer to it.

Every write to a contract first locks its row, so two people acting on one contract at the same moment (both
signing, one countering while the other signs) act one after the other and the second sees the first.
"""

from datetime import date, datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import events
from app.accounts.models import Organisation
from app.auth import BUYER_KINDS, SELLER_KINDS
from app.catalog.models import Listing, ListingStatus
from app.contracts import money
from app.contracts import terms as contract_terms
from app.contracts.models import (
    OPEN,
    Breach,
    ClaimStatus,
    Contract,
    ContractStatus,
    ContractVersion,
    ForceMajeureClaim,
    Instalment,
    InstalmentStatus,
    Remedy,
    Signature,
)
from app.db import local_date, utcnow
from app.errors import Conflict, NotFound, PermissionDenied, RuleViolation
from app.orders.models import Order, OrderStatus
from app.orders.services import cancel_order

_NOT_SHIPPED = (OrderStatus.placed, OrderStatus.paid, OrderStatus.cancelled)


def contract_of(
    session: Session, contract_id: int, organisation_id: int, *, lock=False
) -> Contract:
    """The contract, if `organisation_id` is one of its two parties (to anyone else it does not exist)."""
    query = select(Contract).where(Contract.id == contract_id)
    if lock:  # and read afresh: what the session knew may be older than the lock
        query = query.with_for_update().execution_options(populate_existing=True)
    contract = session.scalar(query)
    if contract is None or not contract.visible_to(organisation_id):
        raise NotFound(_("Contract %(id)s does not exist.", id=contract_id))
    return contract


def create_contract(
    session: Session,
    *,
    organisation_id: int,
    actor_id: int,
    listing_id: int,
    buyer_id: int | None,
    title: str,
    terms: dict,
    note: str = "",
    deposit_cap_bps: int = contract_terms.DEPOSIT_CAP_BPS,
    now: datetime | None = None,
) -> Contract:
    """Draft a contract for a seller's listing: the first version of its terms, not yet sent."""
    now = now or utcnow()
    listing = session.get(Listing, listing_id)
    if listing is None or listing.status == ListingStatus.draft:
        raise NotFound(_("Listing %(id)s does not exist.", id=listing_id), field="listing_id")
    buyer_id = organisation_id if listing.organisation_id != organisation_id else buyer_id
    _check_parties(session, listing, buyer_id)
    contract = Contract(
        buyer_id=buyer_id,
        seller_id=listing.organisation_id,
        listing=listing,
        title=title,
        drafted_by_org_id=organisation_id,
        created_by_id=actor_id,
        created_at=now,
    )
    session.add(contract)
    _add_version(session, contract, organisation_id, actor_id, terms, note, deposit_cap_bps, now)
    session.flush()  # the contract's id names its events
    tell_both(session, "contract.drafted", contract, organisation_id, actor_id, now)
    return contract


def _check_parties(session: Session, listing: Listing, buyer_id: int | None) -> None:
    buyer = session.get(Organisation, buyer_id) if buyer_id else None
    if buyer is None or buyer.kind not in BUYER_KINDS:
        raise RuleViolation(_("Choose the buying organisation."), field="buyer_id")
    if listing.seller.kind not in SELLER_KINDS:
        raise RuleViolation(_("Contracts are for a seller's listing."), field="listing_id")
    if not listing.visible_to_kind(buyer.kind):
        raise NotFound(_("Listing %(id)s does not exist.", id=listing.id), field="listing_id")


def _add_version(session, contract, organisation_id, actor_id, terms, note, cap, now):
    contract_terms.check(terms, today=local_date(now), deposit_cap_bps=cap)
    version = ContractVersion(
        number=len(contract.versions) + 1,
        terms=terms,
        terms_hash=contract_terms.digest(terms),
        proposed_by_org_id=organisation_id,
        proposed_by_id=actor_id,
        proposed_at=now,
        note=note,
    )
    contract.versions.append(version)
    return version


def send_contract(
    session: Session, *, organisation_id: int, actor_id: int, contract_id: int, now=None
) -> Contract:
    """Send a draft to the other side, which may now counter or sign."""
    now = now or utcnow()
    contract = contract_of(session, contract_id, organisation_id, lock=True)
    if contract.status != ContractStatus.draft:
        raise Conflict(_("This contract has already been sent."))
    contract.status = ContractStatus.negotiating
    tell_both(session, "contract.sent", contract, organisation_id, actor_id, now)
    return contract


def propose_terms(
    session: Session,
    *,
    organisation_id: int,
    actor_id: int,
    contract_id: int,
    based_on: int,
    terms: dict,
    note: str = "",
    deposit_cap_bps: int = contract_terms.DEPOSIT_CAP_BPS,
    now: datetime | None = None,
) -> ContractVersion:
    """Counter-propose (or, on a draft, revise): a new version of the terms; earlier signatures lapse.
    `based_on`: the version number the proposer was looking at, so a proposal never overtakes one unseen."""
    now = now or utcnow()
    contract = contract_of(session, contract_id, organisation_id, lock=True)
    if contract.status not in OPEN:
        raise Conflict(
            _("The terms of a %(status)s contract cannot change.", status=contract.status)
        )
    _check_latest(contract, based_on)
    version = _add_version(
        session, contract, organisation_id, actor_id, terms, note, deposit_cap_bps, now
    )
    tell_both(
        session,
        "contract.proposed",
        contract,
        organisation_id,
        actor_id,
        now,
        version=version.number,
    )
    return version


def _check_latest(contract: Contract, number: int) -> None:
    if number != contract.latest.number:
        raise Conflict(
            _(
                "Version %(seen)d is no longer the latest: version %(latest)d was proposed since. "
                "Read it first.",
                seen=number,
                latest=contract.latest.number,
            ),
            field="version",
        )


def sign_contract(
    session: Session,
    *,
    organisation_id: int,
    actor_id: int,
    contract_id: int,
    version: int,
    now: datetime | None = None,
) -> Contract:
    """Sign the latest version's exact terms; the second signature makes the contract active."""
    now = now or utcnow()
    contract = contract_of(session, contract_id, organisation_id, lock=True)
    if contract.status != ContractStatus.negotiating:
        raise Conflict(_("Only a contract under negotiation can be signed."))
    _check_latest(contract, version)
    latest = contract.latest
    if any(signature.organisation_id == organisation_id for signature in latest.signatures):
        raise Conflict(_("Your organisation has already signed version %(n)d.", n=version))
    latest.signatures.append(
        Signature(
            organisation_id=organisation_id,
            user_id=actor_id,
            terms_hash=latest.terms_hash,
            signed_at=now,
        )
    )
    tell_both(session, "contract.signed", contract, organisation_id, actor_id, now, version=version)
    if len(latest.signatures) == 2:
        _activate(session, contract, latest, actor_id, now)
    return contract


def _activate(session, contract: Contract, version: ContractVersion, actor_id, now) -> None:
    """Both signed: the schedule becomes instalments and the buyer's deposit is held."""
    contract.status, contract.activated_at = ContractStatus.active, now
    contract.signed_version_number = version.number
    terms = version.terms
    ahead = timedelta(days=terms["order_days_ahead"])
    for number, item in enumerate(sorted(terms["instalments"], key=lambda i: i["due_on"]), 1):
        due_on = date.fromisoformat(item["due_on"])
        contract.instalments.append(
            Instalment(
                number=number, due_on=due_on, order_from=due_on - ahead, quantity=item["quantity"]
            )
        )
    money.hold_deposit(session, contract, contract_terms.deposit_fen(terms), actor_id)
    tell_both(session, "contract.activated", contract, None, actor_id, now)


def withdraw_contract(
    session: Session, *, organisation_id: int, actor_id: int, contract_id: int, now=None
) -> Contract:
    """Either side walks away before both have signed: the contract is terminated."""
    now = now or utcnow()
    contract = contract_of(session, contract_id, organisation_id, lock=True)
    if contract.status not in OPEN:
        raise Conflict(_("Only a contract not yet signed by both can be withdrawn."))
    contract.status, contract.ended_at = ContractStatus.terminated, now
    tell_both(session, "contract.withdrawn", contract, organisation_id, actor_id, now)
    return contract


def record_breach(
    session: Session,
    *,
    organisation_id: int,
    actor_id: int,
    contract_id: int,
    reason: str,
    remedy: Remedy | None,
    now: datetime | None = None,
) -> Breach:
    """The wronged side records that the other defaulted and picks the remedy the contract allows."""
    now = now or utcnow()
    contract = contract_of(session, contract_id, organisation_id, lock=True)
    if contract.status != ContractStatus.active:
        raise Conflict(_("A breach is recorded on an active contract."))
    _check_remedy(contract, remedy)
    defaulting = contract.other_side(organisation_id)
    _cancel_open_orders(session, contract, actor_id, now)
    paid, owed = money.settle_breach(
        session, contract, defaulting_org_id=defaulting, remedy=remedy, actor_id=actor_id
    )
    breach = Breach(
        defaulting_org_id=defaulting,
        remedy=remedy,
        reason=reason,
        paid_fen=paid,
        owed_fen=owed,
        recorded_by_id=actor_id,
        recorded_at=now,
    )
    contract.breach = breach
    contract.status, contract.ended_at = ContractStatus.breached, now
    tell_both(session, "contract.breached", contract, organisation_id, actor_id, now, paid_fen=paid)
    return breach


def _check_remedy(contract: Contract, remedy: Remedy | None) -> None:
    terms = contract.signed_version.terms
    agreed = {Remedy.deposit: terms["deposit_bps"], Remedy.penalty: terms["penalty_bps"]}
    if remedy is None and any(agreed.values()):
        raise RuleViolation(
            _("Choose the remedy: the deposit rules or the penalty."), field="remedy"
        )
    if remedy is not None and not agreed[remedy]:
        raise RuleViolation(
            _("This contract agreed no %(remedy)s.", remedy=remedy_label(remedy)), field="remedy"
        )


def remedy_label(remedy: Remedy) -> str:
    return _("deposit") if remedy == Remedy.deposit else _("penalty")


def _cancel_open_orders(session, contract: Contract, actor_id, now) -> None:
    """Orders of the contract not yet shipped are cancelled: their stock and money go back."""
    waiting = session.scalars(
        select(Order)
        .join(Instalment, Instalment.order_id == Order.id)
        .where(
            Instalment.contract_id == contract.id,
            Order.status.in_((OrderStatus.placed, OrderStatus.paid)),
        )
    ).all()
    for order in waiting:
        cancel_unshipped(session, order, actor_id, _("contract ended by breach"), now)


def claim_force_majeure(
    session: Session,
    *,
    organisation_id: int,
    actor_id: int,
    contract_id: int,
    instalment: int,
    reason: str,
    evidence_id: int | None = None,
    now: datetime | None = None,
) -> ForceMajeureClaim:
    """The seller asks to be excused an instalment (a hailstorm), with evidence; the buyer decides."""
    now = now or utcnow()
    contract = contract_of(session, contract_id, organisation_id, lock=True)
    if organisation_id != contract.seller_id:
        raise PermissionDenied(_("The seller claims force majeure on its deliveries."))
    if contract.status != ContractStatus.active:
        raise Conflict(_("Force majeure is claimed on an active contract."))
    target = next((item for item in contract.instalments if item.number == instalment), None)
    if target is None:
        raise NotFound(_("Instalment %(n)d does not exist.", n=instalment), field="instalment")
    if target.status in (InstalmentStatus.excused, InstalmentStatus.missed) or _shipped(
        session, target
    ):
        raise Conflict(_("Instalment %(n)d is no longer open.", n=instalment), field="instalment")
    if any(
        c.instalment_id == target.id and c.status == ClaimStatus.claimed for c in contract.claims
    ):
        raise Conflict(_("A claim for instalment %(n)d awaits the buyer.", n=instalment))
    claim = ForceMajeureClaim(
        instalment=target,
        reason=reason,
        evidence_id=evidence_id,
        claimed_by_id=actor_id,
        claimed_at=now,
    )
    contract.claims.append(claim)
    session.flush()  # the claim's id is what the buyer answers
    tell_both(session, "contract.force_majeure_claimed", contract, organisation_id, actor_id, now)
    return claim


def _shipped(session: Session, instalment: Instalment) -> bool:
    """True once the instalment's goods are on their way (or further): too late to excuse or to miss."""
    if instalment.order_id is None:
        return False
    return session.get(Order, instalment.order_id).status not in _NOT_SHIPPED


def decide_claim(
    session: Session,
    *,
    organisation_id: int,
    actor_id: int,
    contract_id: int,
    claim_id: int,
    accept: bool,
    answer: str = "",
    now: datetime | None = None,
) -> ForceMajeureClaim:
    """The buyer accepts (the instalment is excused, its order cancelled) or rejects a claim."""
    now = now or utcnow()
    contract = contract_of(session, contract_id, organisation_id, lock=True)
    if organisation_id != contract.buyer_id:
        raise PermissionDenied(_("The buyer decides a force majeure claim."))
    claim = next((c for c in contract.claims if c.id == claim_id), None)
    if claim is None:
        raise NotFound(_("Claim %(id)s does not exist.", id=claim_id))
    if claim.status != ClaimStatus.claimed:
        raise Conflict(_("This claim has already been decided."))
    if contract.status != ContractStatus.active:
        raise Conflict(_("Force majeure is claimed on an active contract."))
    if accept and (
        claim.instalment.status in (InstalmentStatus.excused, InstalmentStatus.missed)
        or _shipped(session, claim.instalment)
    ):
        raise Conflict(
            _(
                "Instalment %(n)d is no longer open: its goods are on their way, or its day passed.",
                n=claim.instalment.number,
            )
        )
    claim.status = ClaimStatus.accepted if accept else ClaimStatus.rejected
    claim.decided_by_id, claim.decided_at, claim.answer = actor_id, now, answer
    if accept:
        excuse(session, claim.instalment, actor_id, now)
    tell_both(
        session, f"contract.force_majeure_{claim.status}", contract, organisation_id, actor_id, now
    )
    return claim


def excuse(session: Session, instalment: Instalment, actor_id, now) -> None:
    """An excused instalment is not delivered: its order, if not shipped, is cancelled."""
    if instalment.order_id is not None:
        order = session.get(Order, instalment.order_id)
        cancel_unshipped(session, order, actor_id, _("excused by force majeure"), now)
    instalment.status, instalment.settled_at = InstalmentStatus.excused, now


def cancel_unshipped(session: Session, order: Order, actor_id, reason: str, now) -> None:
    """Call off a contract's order that has not left the seller: its stock and money go back."""
    if order.status in (OrderStatus.placed, OrderStatus.paid):
        cancel_order(
            session,
            organisation_id=order.seller_id,
            actor_id=actor_id,
            order_id=order.id,
            reason=reason,
            now=now,
        )


def tell_both(session, kind, contract: Contract, organisation_id, actor_id, now, **payload) -> None:
    """The event, for each side to see in its log and its notices; `organisation_id` is the side that
    acted (None: the scheduler)."""
    for party in (contract.buyer_id, contract.seller_id):
        events.record(
            session,
            kind,
            organisation_id=party,
            actor_id=actor_id,
            subject=f"contract:{contract.id}",
            payload={"by": organisation_id, **payload},
            now=now,
        )
