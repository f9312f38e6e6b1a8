"""JSON API for accounts: tokens, the signed-in person, organisations, members, and admin review."""

from flask import current_app, request, url_for
from flask.views import MethodView
from flask_babel import gettext as _

from app.accounts import identity, members, organisations, people, queries, tokens
from app.accounts.models import Membership, Organisation, User
from app.accounts.schemas import (
    ApiTokenSchema,
    ChangeRoleSchema,
    EventQuerySchema,
    EventSchema,
    InvitationSchema,
    InviteMemberSchema,
    MembershipSchema,
    NewApiTokenSchema,
    OrganisationQuerySchema,
    OrganisationSchema,
    RegisterOrganisationSchema,
    RegistrationSchema,
    RejectOrganisationSchema,
    TokenRequestSchema,
    UpdateOrganisationSchema,
    UserSchema,
)
from app.auth import (
    MEMBER,
    ORG_MANAGERS,
    PLATFORM_ADMIN,
    PUBLIC,
    SIGNED_IN,
    current_actor,
    requires,
)
from app.db import get_session, transaction
from app.errors import NotFound, NotSignedIn
from app.web import ApiBlueprint

blp = ApiBlueprint(
    "accounts_api",
    __name__,
    url_prefix="/api/v1",
    description="Sign-in tokens, organisations, members and verification.",
)

_NO_TOKEN_NEEDED = {"security": []}


@blp.route("/auth/token", methods=["POST"])
@blp.doc(**_NO_TOKEN_NEEDED)
@blp.arguments(TokenRequestSchema)
@blp.response(201, NewApiTokenSchema)
@blp.alt_response(401, description="Wrong login or password.")
@blp.alt_response(429, description="Too many failures; wait for Retry-After seconds.")
@requires(PUBLIC)
def create_token(data):
    """Exchange a login and password for a bearer token (shown once)."""
    limits = people.SignInLimits.from_config(current_app.config)
    with transaction() as write:
        issued = tokens.issue_token_for_credentials(
            write, address=request.remote_addr or "", limits=limits, **data
        )
    if isinstance(issued, people.SignInOutcome):
        raise issued.lockout or NotSignedIn(_("Wrong login or password."))
    token, secret = issued
    return _fields_of(token, ApiTokenSchema, token=secret)


@blp.route("/auth/tokens")
class Tokens(MethodView):
    @blp.response(200, ApiTokenSchema(many=True))
    @requires(SIGNED_IN)
    def get(self):
        """Your API tokens, newest first (secrets are never shown again)."""
        return queries.tokens_of(get_session(), current_actor().user_id)


@blp.route("/auth/tokens/<int:token_id>", methods=["DELETE"])
@blp.response(204)
@requires(SIGNED_IN)
def revoke_token(token_id: int):
    """Revoke a token; calls with it are refused at once here, and within API_TOKEN_CACHE_SECONDS (5 s)
    on every other web process."""
    with transaction() as write:
        tokens.revoke_api_token(write, actor_id=current_actor().user_id, token_id=token_id)
    identity.forget_tokens()


@blp.route("/me")
@blp.response(200, UserSchema)
@requires(SIGNED_IN)
def me():
    """The signed-in person with their organisations and roles."""
    return get_session().get_one(User, current_actor().user_id)


@blp.route("/organisations", methods=["POST"])
@blp.doc(**_NO_TOKEN_NEEDED)
@blp.arguments(RegisterOrganisationSchema)
@blp.response(201, RegistrationSchema)
@requires(PUBLIC)
def register(data):
    """Register an organisation with its owner; it can trade once a platform admin verifies it."""
    with transaction() as write:
        membership = organisations.register_organisation(write, **data)
    registered = get_session().get_one(Membership, membership.id)
    return {"organisation": registered.organisation, "user": registered.user}


@blp.route("/organisations/<int:organisation_id>")
class OrganisationResource(MethodView):
    @blp.response(200, OrganisationSchema)
    @requires(SIGNED_IN)
    def get(self, organisation_id: int):
        """An organisation's registered details (its own members and platform admins only)."""
        actor = current_actor()
        if PLATFORM_ADMIN.refusal(actor) is not None:
            _acting_for(organisation_id)
        organisation = get_session().get(Organisation, organisation_id)
        if organisation is None:
            raise NotFound(_("That organisation does not exist."))
        return organisation

    @blp.arguments(UpdateOrganisationSchema(partial=True))
    @blp.response(200, OrganisationSchema)
    @requires(ORG_MANAGERS)
    def patch(self, data, organisation_id: int):
        """Correct the details; a new name or legal representative is verified again."""
        with transaction() as write:
            return organisations.update_organisation(
                write,
                actor_id=current_actor().user_id,
                organisation_id=_acting_for(organisation_id),
                **data,
            )


@blp.route("/organisations/<int:organisation_id>/members")
class Members(MethodView):
    @blp.response(200, MembershipSchema(many=True))
    @requires(MEMBER)
    def get(self, organisation_id: int):
        """Who belongs to the organisation, with which role."""
        return queries.members_of(get_session(), _acting_for(organisation_id))


@blp.route("/organisations/<int:organisation_id>/members/<int:membership_id>")
class Member(MethodView):
    @blp.arguments(ChangeRoleSchema)
    @blp.response(200, MembershipSchema)
    @requires(ORG_MANAGERS)
    def patch(self, data, organisation_id: int, membership_id: int):
        """Give a member another role (owners only for anything to do with owners)."""
        with transaction() as write:
            members.change_member_role(
                write,
                actor_id=current_actor().user_id,
                organisation_id=_acting_for(organisation_id),
                membership_id=membership_id,
                **data,
            )
        return get_session().get(Membership, membership_id)

    @blp.response(204)
    @requires(MEMBER)
    def delete(self, organisation_id: int, membership_id: int):
        """Remove a member (or leave, with your own membership)."""
        with transaction() as write:
            members.remove_member(
                write,
                actor_id=current_actor().user_id,
                organisation_id=_acting_for(organisation_id),
                membership_id=membership_id,
            )


@blp.route("/organisations/<int:organisation_id>/invitations", methods=["POST"])
@blp.arguments(InviteMemberSchema)
@blp.response(201, InvitationSchema)
@requires(ORG_MANAGERS)
def invite(data, organisation_id: int):
    """Invite a person by mobile number or email; send them the returned link."""
    with transaction() as write:
        invitation, secret = members.invite_member(
            write,
            actor_id=current_actor().user_id,
            organisation_id=_acting_for(organisation_id),
            valid_days=current_app.config["INVITATION_DAYS"],
            **data,
        )
    link = url_for("organisation.accept_invitation", secret=secret, _external=True)
    return _fields_of(invitation, InvitationSchema, link=link)


@blp.route("/admin/organisations")
@blp.arguments(OrganisationQuerySchema, location="query")
@blp.response(200, OrganisationSchema(many=True))
@requires(PLATFORM_ADMIN)
def organisation_list(filters):
    """Organisations for review, pending first, 20 a page (X-Total-Count holds the total)."""
    page = queries.organisations_page(get_session(), **filters)
    return page.items, 200, {"X-Total-Count": str(page.total)}


@blp.route("/admin/organisations/<int:organisation_id>/verify", methods=["POST"])
@blp.response(200, OrganisationSchema)
@requires(PLATFORM_ADMIN)
def verify(organisation_id: int):
    """Verify an organisation: it can trade from now on."""
    with transaction() as write:
        return organisations.verify_organisation(
            write, admin_id=current_actor().user_id, organisation_id=organisation_id
        )


@blp.route("/admin/organisations/<int:organisation_id>/reject", methods=["POST"])
@blp.arguments(RejectOrganisationSchema)
@blp.response(200, OrganisationSchema)
@requires(PLATFORM_ADMIN)
def reject(data, organisation_id: int):
    """Turn an organisation down with the reason it will see."""
    with transaction() as write:
        return organisations.reject_organisation(
            write, admin_id=current_actor().user_id, organisation_id=organisation_id, **data
        )


@blp.route("/admin/events")
@blp.arguments(EventQuerySchema, location="query")
@blp.response(200, EventSchema(many=True))
@requires(PLATFORM_ADMIN)
def events(filters):
    """The audit trail, newest first, 50 a page (X-Total-Count holds the total)."""
    page = queries.events_page(get_session(), **filters)
    return page.items, 200, {"X-Total-Count": str(page.total)}


def _fields_of(record, schema, **secrets) -> dict:
    """A record's documented fields plus the one-time secrets that are never stored."""
    return {
        name: getattr(record, name) for name in schema().fields if hasattr(record, name)
    } | secrets


def _acting_for(organisation_id: int) -> int:
    """The organisation in the URL, if it is the one this person or token acts for.

    A token acts for one organisation only; naming another in the URL finds nothing."""
    if current_actor().organisation_id != organisation_id:
        raise NotFound(_("That organisation does not exist or is not visible to you."))
    return organisation_id
