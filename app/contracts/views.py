"""Order contract pages: the list with progress, drafting and counter-proposing terms, the version diff,
signing, and once active the schedule, breach, force majeure claims and a bilingual print."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from marshmallow import Schema
from sqlalchemy import select

from app.accounts.models import Organisation
from app.auth import (
    BUYER_KINDS,
    CONTRACT_MANAGERS,
    TRADERS,
    VerificationStatus,
    current_actor,
    requires,
)
from app.catalog.models import Listing, ListingStatus
from app.contracts import queries, services
from app.contracts import terms as contract_terms
from app.contracts.models import CLAIM_LABELS, INSTALMENT_LABELS, STATUS_LABELS, ContractStatus
from app.contracts.prices import price_source_label
from app.contracts.schemas import (
    BreachSchema,
    ClaimSchema,
    ContractQuerySchema,
    CreateContractSchema,
    DecideClaimSchema,
    ProposeTermsSchema,
    SignSchema,
    deposit_cap_bps,
)
from app.db import get_session
from app.errors import NotFound
from app.forms import Form
from app.uploads import UploadKind, store_upload, upload_folder
from app.web import id_from, query_args

bp = Blueprint("contracts", __name__)


@bp.app_template_global()
def contract_status_label(status: str) -> str:
    return _(STATUS_LABELS[status])


@bp.app_template_global()
def instalment_status_label(status: str) -> str:
    return _(INSTALMENT_LABELS[status])


@bp.app_template_global()
def claim_status_label(status: str) -> str:
    return _(CLAIM_LABELS[status])


bp.add_app_template_global(price_source_label)
bp.add_app_template_global(services.remedy_label)


@bp.app_template_global()
def term_label(name: str) -> str:
    return _(contract_terms.FIELD_LABELS[name])


@bp.app_template_global()
def term_value(name: str, value, unit: str = "") -> str:
    """A term as a person reads it: yuan, percent, the rule's words, the schedule in brief."""
    if value is None or value == "":
        return "—"
    if name == "price_fen":
        return f"¥{value / 100:,.2f}/{unit}" if unit else f"¥{value / 100:,.2f}"
    if name.endswith("_bps"):
        return f"{contract_terms.percent(value)}%"
    if name == "price_rule":
        return _(contract_terms.PRICE_RULE_LABELS[value])
    if name == "payment":
        return _(contract_terms.PAYMENT_LABELS[value])
    if name == "follows_output":
        return _("yes") if value else _("no")
    if name == "instalments":
        total = sum(item["quantity"] for item in value)
        return _(
            "%(n)d deliveries, %(first)s to %(last)s, %(total)d in all",
            n=len(value),
            first=value[0]["due_on"],
            last=value[-1]["due_on"],
            total=total,
        )
    return str(value)


@bp.get("/contracts")
@requires(TRADERS)
def index():
    """The organisation's contracts on either side, with their progress."""
    query = query_args(ContractQuerySchema())
    reads = get_session()
    found = queries.contracts_of(reads, current_actor().organisation_id, **query)
    return render_template(
        "contracts/index.html",
        found=found,
        progress=queries.progress_of(reads, list(found.items)),
        status=query["status"],
        statuses=list(ContractStatus),
    )


@bp.route("/contracts/new", methods=["GET", "POST"])
@requires(CONTRACT_MANAGERS)
def create():
    """Draft a contract: the product (a seller's listing), the other side, and the terms."""
    actor = current_actor()
    form = Form(CreateContractSchema(), values=_starting_values())
    if form.validate_on_submit():
        contract = form.submit(
            lambda session: services.create_contract(
                session,
                organisation_id=actor.organisation_id,
                actor_id=actor.user_id,
                deposit_cap_bps=deposit_cap_bps(),
                **form.data,
            )
        )
        if contract is not None:
            flash(_("Draft saved. Check it, then send it to the other side."), "success")
            return redirect(url_for("contracts.detail", contract_id=contract.id))
    return _terms_page(form, None), form.status


def _starting_values() -> dict:
    """A new contract's form: the listing it came from, and the school story's everyday defaults."""
    return {
        "listing_id": request.args.get("listing", ""),
        "price_rule": "floor_or_market",
        "payment": "on_acceptance",
        "window_start": "06:00",
        "window_end": "06:30",
        "deposit_pct": "10",
        "tolerance_pct": "2",
        "order_days_ahead": "3",
    }


def _terms_page(form: Form, contract):
    """The terms form, with what the acting side may choose from."""
    reads = get_session()
    actor = current_actor()
    listing = _listing_of(reads, form.values.get("listing_id"))
    selling = actor.kind not in BUYER_KINDS
    return render_template(
        "contracts/terms_form.html",
        form=form,
        contract=contract,
        listing=contract.listing if contract else listing,
        own_listings=_own_listings(reads, actor.organisation_id) if selling else [],
        buyers=_buyers(reads) if selling and contract is None else [],
        price_rules=[(rule, _(label)) for rule, label in contract_terms.PRICE_RULE_LABELS.items()],
        payments=[(way, _(label)) for way, label in contract_terms.PAYMENT_LABELS.items()],
    )


def _listing_of(session, listing_id) -> Listing | None:
    """The listing the form names, if it is one this organisation may see."""
    number = id_from(listing_id)
    listing = session.get(Listing, number) if number else None
    if listing is None or listing.status == ListingStatus.draft:
        return None
    return listing if listing.visible_to_kind(current_actor().kind) else None


def _own_listings(session, organisation_id: int) -> list[Listing]:
    query = select(Listing).where(
        Listing.organisation_id == organisation_id, Listing.status != ListingStatus.draft
    )
    return list(session.scalars(query.order_by(Listing.title)))


def _buyers(session) -> list[Organisation]:
    query = select(Organisation).where(
        Organisation.kind.in_(BUYER_KINDS), Organisation.status == VerificationStatus.verified
    )
    return list(session.scalars(query.order_by(Organisation.name_zh)))


@bp.get("/contracts/<int:contract_id>")
@requires(TRADERS)
def detail(contract_id: int, forms: dict | None = None, status: int = 200):
    """A contract: its terms, versions and signatures; once active its schedule, progress and remedies."""
    reads = get_session()
    contract = services.contract_of(reads, contract_id, current_actor().organisation_id)
    forms = forms or {}
    return render_template(
        "contracts/detail.html",
        contract=contract,
        terms=(contract.signed_version or contract.latest).terms,
        progress=queries.progress_of(reads, [contract])[contract.id],
        orders=queries.instalment_orders(reads, contract),
        breach_form=forms.get("breach") or Form(BreachSchema()),
        claim_form=forms.get("claim") or Form(ClaimSchema()),
        errors=forms.get("step"),
        value_fen=contract_terms.value_fen((contract.signed_version or contract.latest).terms),
    ), status


@bp.route("/contracts/<int:contract_id>/propose", methods=["GET", "POST"])
@requires(CONTRACT_MANAGERS)
def propose(contract_id: int):
    """Change the terms: a counter-proposal (or, on a draft, a revision) as a new version."""
    actor = current_actor()
    contract = services.contract_of(get_session(), contract_id, actor.organisation_id)
    form = Form(ProposeTermsSchema(), values=_form_values(contract.latest))
    if form.validate_on_submit():
        version = form.submit(
            lambda session: services.propose_terms(
                session,
                organisation_id=actor.organisation_id,
                actor_id=actor.user_id,
                contract_id=contract_id,
                based_on=form.data.pop("version"),
                deposit_cap_bps=deposit_cap_bps(),
                **form.data,
            )
        )
        if version is not None:
            flash(_("Version %(n)d proposed.", n=version.number), "success")
            return redirect(url_for("contracts.detail", contract_id=contract_id))
    return _terms_page(form, contract), form.status


def _form_values(version) -> dict:
    """A version's terms as the form shows them: yuan, percent, one delivery per line."""
    terms = version.terms
    values = {name: terms[name] for name in terms if not name.endswith("_bps")}
    values.update(
        {
            name.replace("_bps", "_pct"): contract_terms.percent(terms[name])
            for name in terms
            if name.endswith("_bps")
        }
    )
    values.update(
        version=version.number,
        price_yuan=f"{terms['price_fen'] / 100:.2f}",
        instalments="\n".join(
            f"{item['due_on']} {item['quantity']}" for item in terms["instalments"]
        ),
        area_mu=terms["area_mu"] or "",
        yield_per_mu=terms["yield_per_mu"] or "",
    )
    return values


@bp.get("/contracts/<int:contract_id>/diff")
@requires(TRADERS)
def diff(contract_id: int):
    """Two versions side by side: only what changed."""
    contract = services.contract_of(get_session(), contract_id, current_actor().organisation_id)
    numbers = [version.number for version in contract.versions]
    after = request.args.get("after", type=int) or numbers[-1]
    before = request.args.get("before", type=int) or max(after - 1, 1)
    if before not in numbers or after not in numbers:
        raise NotFound(_("No such version."))
    versions = contract.versions
    changes = contract_terms.changes(versions[before - 1].terms, versions[after - 1].terms)
    return render_template(
        "contracts/diff.html",
        contract=contract,
        before=versions[before - 1],
        after=versions[after - 1],
        changes=changes,
        numbers=numbers,
    )


def _step(contract_id: int, service, schema: Schema, done: str, name: str = "step", **values):
    """One step on the contract for the signed-in organisation; a refusal shows the contract with it."""
    actor = current_actor()
    form = Form(schema)
    if form.validate_on_submit() and form.submit(
        lambda session: service(
            session,
            organisation_id=actor.organisation_id,
            actor_id=actor.user_id,
            contract_id=contract_id,
            **values,
            **form.data,
        )
    ):
        flash(done, "success")
        return redirect(url_for("contracts.detail", contract_id=contract_id))
    return detail(contract_id, {name: form}, 422)


@bp.post("/contracts/<int:contract_id>/send")
@requires(CONTRACT_MANAGERS)
def send(contract_id: int):
    """Send the draft to the other side."""
    done = _("Sent. The other side can now counter-propose or sign.")
    return _step(contract_id, services.send_contract, Schema(), done)


@bp.post("/contracts/<int:contract_id>/sign")
@requires(CONTRACT_MANAGERS)
def sign(contract_id: int):
    """Sign the latest version."""
    done = _("Signed. When both sides have signed, the contract is active.")
    return _step(contract_id, services.sign_contract, SignSchema(), done)


@bp.post("/contracts/<int:contract_id>/withdraw")
@requires(CONTRACT_MANAGERS)
def withdraw(contract_id: int):
    """Walk away before both have signed."""
    done = _("Withdrawn. The contract is terminated.")
    return _step(contract_id, services.withdraw_contract, Schema(), done)


@bp.post("/contracts/<int:contract_id>/breach")
@requires(CONTRACT_MANAGERS)
def breach(contract_id: int):
    """Record that the other side defaulted."""
    done = _("The breach is recorded and the remedy applied.")
    return _step(contract_id, services.record_breach, BreachSchema(), done, "breach")


@bp.post("/contracts/<int:contract_id>/claims")
@requires(CONTRACT_MANAGERS)
def claim(contract_id: int):
    """Claim force majeure for an instalment, with evidence (a photo or a weather bureau's certificate)."""
    evidence = request.files.get("evidence")
    actor = current_actor()

    def claim_with_evidence(session, **values):
        upload = None
        if evidence and evidence.filename:
            upload = store_upload(
                session,
                organisation_id=actor.organisation_id,
                kind=UploadKind.document,
                filename=evidence.filename,
                data=evidence.read(),
                folder=upload_folder(),
                field="evidence",
            )
            session.flush()  # the evidence's id goes on the claim
        return services.claim_force_majeure(session, evidence_id=upload and upload.id, **values)

    done = _("Claim sent to the buyer.")
    return _step(contract_id, claim_with_evidence, ClaimSchema(), done, "claim")


@bp.post("/contracts/<int:contract_id>/claims/<int:claim_id>")
@requires(CONTRACT_MANAGERS)
def decide(contract_id: int, claim_id: int):
    """Accept or reject a force majeure claim."""
    done = _("Your answer is recorded.")
    return _step(contract_id, services.decide_claim, DecideClaimSchema(), done, claim_id=claim_id)


@bp.get("/contracts/<int:contract_id>/print")
@requires(TRADERS)
def printable(contract_id: int):
    """The contract to print: terms, schedule and signature hashes, in Chinese and in English."""
    reads = get_session()
    contract = services.contract_of(reads, contract_id, current_actor().organisation_id)
    version = contract.signed_version or contract.latest
    parts = []
    for language in ("zh", "en"):
        with force_locale(language):
            parts.append(
                render_template(
                    "contracts/_print_part.html",
                    contract=contract,
                    version=version,
                    terms=version.terms,
                    language=language,
                    value_fen=contract_terms.value_fen(version.terms),
                    deposit_fen=contract_terms.deposit_fen(version.terms),
                )
            )
    return render_template("contracts/print.html", contract=contract, parts=parts)
