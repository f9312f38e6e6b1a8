"""Pages for an organisation's own people: its details, members, roles and invitations."""

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.accounts import members as membership
from app.accounts import organisations, queries
from app.accounts.models import Organisation
from app.accounts.schemas import (
    AcceptInvitationSchema,
    ChangeRoleSchema,
    InviteMemberSchema,
    UpdateOrganisationSchema,
)
from app.accounts.views import start_session
from app.auth import (
    MEMBER,
    ORG_MANAGERS,
    PUBLIC,
    ROLES_BY_KIND,
    current_actor,
    requires,
    role_label,
)
from app.db import get_session, transaction, utcnow
from app.forms import Form

bp = Blueprint("organisation", __name__, url_prefix="/organisation")


def _details(organisation: Organisation) -> dict:
    return {name: getattr(organisation, name) for name in UpdateOrganisationSchema().fields}


@bp.route("", methods=["GET", "POST"])
@requires(MEMBER)
def details():
    """See the organisation's registered details; owners and managers correct them."""
    actor = current_actor()
    organisation = get_session().get_one(Organisation, actor.organisation_id)
    form = Form(UpdateOrganisationSchema(), values=_details(organisation))
    if form.validate_on_submit() and form.submit(
        lambda s: organisations.update_organisation(
            s, actor_id=actor.user_id, organisation_id=organisation.id, **form.data
        )
    ):
        flash(_("The details are saved."), "success")
        return redirect(url_for("organisation.details"))
    return render_template(
        "accounts/organisation.html", organisation=organisation, form=form
    ), form.status


@bp.route("/members", methods=["GET", "POST"])
@requires(MEMBER)
def members():
    """Who is in the organisation with which role; owners and managers invite more people."""
    actor = current_actor()
    form, link = Form(InviteMemberSchema()), None
    if form.validate_on_submit():
        created = form.submit(
            lambda s: membership.invite_member(
                s,
                actor_id=actor.user_id,
                organisation_id=actor.organisation_id,
                valid_days=current_app.config["INVITATION_DAYS"],
                **form.data,
            )
        )
        if created is not None:
            link = url_for("organisation.accept_invitation", secret=created[1], _external=True)
            form = Form(InviteMemberSchema())
    reads = get_session()
    return render_template(
        "accounts/members.html",
        form=form,
        link=link,
        members=queries.members_of(reads, actor.organisation_id),
        invitations=queries.open_invitations(reads, actor.organisation_id, utcnow()),
        roles=[(role.value, role_label(role)) for role in ROLES_BY_KIND[actor.kind]],
    ), form.status


@bp.post("/members/<int:membership_id>/role")
@requires(ORG_MANAGERS)
def change_role(membership_id: int):
    """Give a member another role."""
    form = Form(ChangeRoleSchema())
    if form.validate_on_submit():
        changed = form.submit(
            lambda s: membership.change_member_role(
                s,
                actor_id=current_user.id,
                organisation_id=current_actor().organisation_id,
                membership_id=membership_id,
                **form.data,
            )
        )
        if changed is not None:
            flash(_("The role is changed."), "success")
    for messages in form.errors.values():
        for message in messages:
            flash(message, "error")
    return redirect(url_for("organisation.members"))


@bp.post("/members/<int:membership_id>/remove")
@requires(MEMBER)
def remove_member(membership_id: int):
    """Take someone out of the organisation, or leave it yourself."""
    with transaction() as write:
        membership.remove_member(
            write,
            actor_id=current_user.id,
            organisation_id=current_actor().organisation_id,
            membership_id=membership_id,
        )
    flash(_("The member is removed."), "success")
    return redirect(url_for("organisation.members"))


@bp.post("/invitations/<int:invitation_id>/revoke")
@requires(ORG_MANAGERS)
def revoke_invitation(invitation_id: int):
    """Withdraw an unused invitation."""
    with transaction() as write:
        membership.revoke_invitation(
            write,
            actor_id=current_user.id,
            organisation_id=current_actor().organisation_id,
            invitation_id=invitation_id,
        )
    flash(_("The invitation is withdrawn."), "success")
    return redirect(url_for("organisation.members"))


@bp.route("/join/<secret>", methods=["GET", "POST"])
@requires(PUBLIC)
def accept_invitation(secret: str):
    """Join an organisation from an invitation link, creating an account if needed."""
    invitation = membership.find_invitation(get_session(), secret)
    form = Form(AcceptInvitationSchema(), values={"name": invitation.name})
    joined = None
    if request.method == "POST" and current_user.is_authenticated:
        joined = form.submit(
            lambda s: membership.accept_invitation(s, secret=secret, user_id=current_user.id)
        )
    elif form.validate_on_submit():
        joined = form.submit(lambda s: membership.accept_invitation(s, secret=secret, **form.data))
    if joined is not None:
        start_session(joined.user.id, organisation_id=joined.organisation_id)
        flash(_("Welcome to %(org)s.", org=invitation.organisation.name_zh), "success")
        return redirect(url_for("dashboards.dashboard"))
    return render_template(
        "accounts/invitation.html",
        invitation=invitation,
        form=form,
        state=invitation.state(utcnow()),
    ), form.status
