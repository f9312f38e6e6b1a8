"""Platform admin pages: the verification queue and the audit trail of the event log."""

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.accounts import queries
from app.accounts.models import Organisation
from app.accounts.organisations import reject_organisation, verify_organisation
from app.accounts.schemas import EventQuerySchema, OrganisationQuerySchema, RejectOrganisationSchema
from app.auth import PLATFORM_ADMIN, OrgKind, VerificationStatus, requires
from app.db import get_session, transaction
from app.errors import NotFound
from app.forms import Form
from app.web import query_args

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/organisations")
@requires(PLATFORM_ADMIN)
def organisations():
    """The organisations on the platform, pending ones first, filterable by status, kind and name."""
    filters = query_args(OrganisationQuerySchema())
    page = queries.organisations_page(get_session(), **filters)
    return render_template(
        "admin/organisations.html",
        page=page,
        filters=filters,
        statuses=list(VerificationStatus),
        kinds=list(OrgKind),
    )


@bp.get("/organisations/<int:organisation_id>")
@requires(PLATFORM_ADMIN)
def organisation(organisation_id: int, reject_form: Form | None = None):
    """One organisation's registered details, members and history, with verify and reject."""
    reads = get_session()
    found = reads.get(Organisation, organisation_id)
    if found is None:
        raise NotFound(_("That organisation does not exist."))
    return render_template(
        "admin/organisation.html",
        organisation=found,
        members=queries.members_of(reads, organisation_id),
        history=queries.events_page(reads, organisation_id=organisation_id, size=50).items,
        reject_form=reject_form or Form(RejectOrganisationSchema()),
    ), (reject_form.status if reject_form else 200)


@bp.post("/organisations/<int:organisation_id>/verify")
@requires(PLATFORM_ADMIN)
def verify(organisation_id: int):
    """Open trading to an organisation after checking its real-name details."""
    with transaction() as write:
        verified = verify_organisation(
            write, admin_id=current_user.id, organisation_id=organisation_id
        )
    flash(_("%(org)s is verified and can trade now.", org=verified.name_zh), "success")
    return redirect(url_for("admin.organisations", status="pending"))


@bp.post("/organisations/<int:organisation_id>/reject")
@requires(PLATFORM_ADMIN)
def reject(organisation_id: int):
    """Turn an organisation down with the reason it will see."""
    form = Form(RejectOrganisationSchema())
    if form.validate_on_submit() and form.submit(
        lambda s: reject_organisation(
            s, admin_id=current_user.id, organisation_id=organisation_id, **form.data
        )
    ):
        flash(_("The organisation is told what to correct."), "success")
        return redirect(url_for("admin.organisations", status="pending"))
    return organisation(organisation_id, reject_form=form)


@bp.get("/events")
@requires(PLATFORM_ADMIN)
def events():
    """The audit trail: every recorded change, newest first, filterable."""
    filters = query_args(EventQuerySchema())
    page = queries.events_page(get_session(), **filters)
    return render_template(
        "admin/events.html", page=page, filters=filters, kinds=queries.event_kinds(get_session())
    )
