import pytest

from app.accounts import tokens
from app.auth import OrgKind, Role
from app.errors import NotFound, PermissionDenied
from tests.factories import (
    ApiTokenFactory,
    MembershipFactory,
    OrganisationFactory,
    UserFactory,
    member,
)


def test_an_api_token_is_stored_only_as_a_digest(session):
    owner = member(kind=OrgKind.supermarket)

    token, secret = tokens.create_api_token(
        session, user_id=owner.user_id, organisation_id=owner.organisation_id, name="ERP"
    )

    assert secret.startswith("agl_") and len(secret) > 40
    assert secret not in (token.digest, token.prefix)
    assert token.prefix == secret[:12]


def test_a_token_for_an_organisation_one_is_not_in_is_refused(session):
    with pytest.raises(PermissionDenied):
        tokens.create_api_token(
            session, user_id=UserFactory().id, organisation_id=OrganisationFactory().id, name="ERP"
        )


def test_someone_elses_token_cannot_be_revoked(session):
    token = ApiTokenFactory()
    with pytest.raises(NotFound):
        tokens.revoke_api_token(session, actor_id=UserFactory().id, token_id=token.id)
    assert token.revoked_at is None


def test_a_manager_revokes_a_token_of_their_organisation(session):
    manager = member(role=Role.manager)
    colleague = MembershipFactory(organisation=manager.organisation, role=Role.staff)
    token = ApiTokenFactory(user=colleague.user, organisation_id=manager.organisation_id)

    tokens.revoke_api_token(session, actor_id=manager.user_id, token_id=token.id)

    assert token.revoked_at is not None
