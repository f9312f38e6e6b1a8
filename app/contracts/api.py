"""JSON API for order contracts: draft, send, counter-propose, compare, sign, withdraw; once active, record a
breach, claim force majeure and answer a claim."""

from app.auth import CONTRACT_MANAGERS, TRADERS, current_actor, requires
from app.contracts import queries, services
from app.contracts import terms as contract_terms
from app.contracts.schemas import (
    BreachSchema,
    ClaimSchema,
    ContractPageSchema,
    ContractProgressSchema,
    ContractQuerySchema,
    CreateContractSchema,
    DecideClaimSchema,
    ProposeTermsSchema,
    SignSchema,
    TermsChangeSchema,
    deposit_cap_bps,
)
from app.db import get_session, transaction
from app.errors import NotFound
from app.web import ApiBlueprint

blp = ApiBlueprint(
    "contracts_api",
    __name__,
    url_prefix="/api/v1",
    description="Order contracts (订单农业): negotiation, signatures, instalments, deposits, breaches.",
)


def _with_progress(session, contract) -> dict:
    return {"contract": contract, "progress": queries.progress_of(session, [contract])[contract.id]}


def _show(contract_id: int) -> dict:
    reads = get_session()
    return _with_progress(
        reads, services.contract_of(reads, contract_id, current_actor().organisation_id)
    )


def _step(service, contract_id: int, **values) -> dict:
    """Run one step on the contract as the signed-in organisation, then show the contract as it stands."""
    actor = current_actor()
    with transaction() as write:
        service(
            write,
            organisation_id=actor.organisation_id,
            actor_id=actor.user_id,
            contract_id=contract_id,
            **values,
        )
    return _show(contract_id)


@blp.route("/contracts", methods=["POST"])
@blp.arguments(CreateContractSchema)
@blp.response(201, ContractProgressSchema)
@requires(CONTRACT_MANAGERS)
def create(data):
    """Draft a contract for a seller's listing (a seller names the buyer); send it when ready."""
    actor = current_actor()
    with transaction() as write:
        contract = services.create_contract(
            write,
            organisation_id=actor.organisation_id,
            actor_id=actor.user_id,
            deposit_cap_bps=deposit_cap_bps(),
            **data,
        )
    return _show(contract.id)


@blp.route("/contracts", methods=["GET"])
@blp.arguments(ContractQuerySchema, location="query")
@blp.response(200, ContractPageSchema)
@requires(TRADERS)
def index(query):
    """Your organisation's contracts, as buyer or seller, newest first, with their progress."""
    reads = get_session()
    found = queries.contracts_of(reads, current_actor().organisation_id, **query)
    progress = queries.progress_of(reads, list(found.items))
    items = [{"contract": contract, "progress": progress[contract.id]} for contract in found.items]
    return {"items": items, "page": found.number, "total": found.total}


@blp.route("/contracts/<int:contract_id>", methods=["GET"])
@blp.response(200, ContractProgressSchema)
@requires(TRADERS)
def detail(contract_id: int):
    """One contract: every version, signatures with their hashes, instalments, progress, breach, claims."""
    return _show(contract_id)


@blp.route("/contracts/<int:contract_id>/diff/<int:before>/<int:after>", methods=["GET"])
@blp.response(200, TermsChangeSchema(many=True))
@requires(TRADERS)
def diff(contract_id: int, before: int, after: int):
    """What changed between two versions of the terms, field by field."""
    reads = get_session()
    contract = services.contract_of(reads, contract_id, current_actor().organisation_id)
    versions = {version.number: version.terms for version in contract.versions}
    if before not in versions or after not in versions:
        raise NotFound("No such version.")
    changes = contract_terms.changes(versions[before], versions[after])
    return [{"field": name, "before": old, "after": new} for name, old, new in changes]


@blp.route("/contracts/<int:contract_id>/send", methods=["POST"])
@blp.response(200, ContractProgressSchema)
@requires(CONTRACT_MANAGERS)
def send(contract_id: int):
    """Send a draft to the other side."""
    return _step(services.send_contract, contract_id)


@blp.route("/contracts/<int:contract_id>/versions", methods=["POST"])
@blp.arguments(ProposeTermsSchema)
@blp.response(201, ContractProgressSchema)
@requires(CONTRACT_MANAGERS)
def propose(data, contract_id: int):
    """Counter-propose: new terms as a new version, answering `version` (refused if a newer one exists)."""
    return _step(
        services.propose_terms,
        contract_id,
        based_on=data.pop("version"),
        deposit_cap_bps=deposit_cap_bps(),
        **data,
    )


@blp.route("/contracts/<int:contract_id>/sign", methods=["POST"])
@blp.arguments(SignSchema)
@blp.response(200, ContractProgressSchema)
@requires(CONTRACT_MANAGERS)
def sign(data, contract_id: int):
    """Sign the latest version's exact terms; the second signature activates the contract."""
    return _step(services.sign_contract, contract_id, **data)


@blp.route("/contracts/<int:contract_id>/withdraw", methods=["POST"])
@blp.response(200, ContractProgressSchema)
@requires(CONTRACT_MANAGERS)
def withdraw(contract_id: int):
    """Walk away before both have signed."""
    return _step(services.withdraw_contract, contract_id)


@blp.route("/contracts/<int:contract_id>/breach", methods=["POST"])
@blp.arguments(BreachSchema)
@blp.response(200, ContractProgressSchema)
@requires(CONTRACT_MANAGERS)
def breach(data, contract_id: int):
    """Record that the other side defaulted, with the remedy the contract allows."""
    return _step(services.record_breach, contract_id, **data)


@blp.route("/contracts/<int:contract_id>/claims", methods=["POST"])
@blp.arguments(ClaimSchema)
@blp.response(201, ContractProgressSchema)
@requires(CONTRACT_MANAGERS)
def claim(data, contract_id: int):
    """The seller claims force majeure for an instalment (evidence files go through the contract page)."""
    return _step(services.claim_force_majeure, contract_id, **data)


@blp.route("/contracts/<int:contract_id>/claims/<int:claim_id>", methods=["POST"])
@blp.arguments(DecideClaimSchema)
@blp.response(200, ContractProgressSchema)
@requires(CONTRACT_MANAGERS)
def decide(data, contract_id: int, claim_id: int):
    """The buyer accepts (the instalment is excused) or rejects a force majeure claim."""
    return _step(services.decide_claim, contract_id, claim_id=claim_id, **data)
