from datetime import timedelta
from functools import cache

import factory

from app.accounts.identifiers import credit_code_check_character
from app.accounts.models import ApiToken, Invitation, Membership, Organisation, SignInAttempt, User
from app.auth import OrgKind, Role, VerificationStatus, hash_password, token_digest
from app.db import utcnow
from app.events import Event
from tests.factories.base import BaseFactory

PASSWORD = "correct horse battery"


@cache
def password_hash() -> str:
    return hash_password(PASSWORD)  # argon2 is slow by design: hash once per run


def _credit_code(n: int) -> str:
    first_17 = f"93520328MA7T{n:05d}"
    return first_17 + credit_code_check_character(first_17)


class OrganisationFactory(BaseFactory):
    class Meta:
        model = Organisation

    kind = OrgKind.cooperative
    name_zh = factory.Sequence(lambda n: f"湄潭县测试{n}号茶叶专业合作社")
    name_en = factory.Sequence(lambda n: f"Test Tea Cooperative No. {n}")
    credit_code = factory.Sequence(_credit_code)
    # Each its own, as real organisations are (surveillance treats a shared one as a relation).
    legal_representative = factory.Sequence(lambda n: f"王建国{n}")
    contact_phone = factory.Sequence(lambda n: f"0851-2422{n:04d}")
    town = "兴隆镇"
    village = "龙凤村"
    status = VerificationStatus.verified

    class Params:
        pending = factory.Trait(status=VerificationStatus.pending)
        rejected = factory.Trait(
            status=VerificationStatus.rejected, rejection_reason="名称与营业执照不符"
        )


class UserFactory(BaseFactory):
    class Meta:
        model = User

    name = factory.Sequence(lambda n: f"测试用户{n}")
    phone = factory.Sequence(lambda n: f"137{n:08d}")
    email = None
    password_hash = factory.LazyFunction(password_hash)
    language = "zh_CN"


class MembershipFactory(BaseFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organisation = factory.SubFactory(OrganisationFactory)
    role = Role.owner


def member(
    kind: OrgKind = OrgKind.cooperative, role: Role = Role.owner, **organisation
) -> Membership:
    """A person with `role` in a new organisation of `kind` (verified unless told otherwise)."""
    return MembershipFactory(role=role, organisation=OrganisationFactory(kind=kind, **organisation))


class InvitationFactory(BaseFactory):
    class Meta:
        model = Invitation
        exclude = ("secret",)

    secret = factory.Sequence(lambda n: f"agl_invitation-secret-{n}")
    organisation = factory.SubFactory(OrganisationFactory)
    role = Role.staff
    contact = factory.Sequence(lambda n: f"136{n:08d}")
    digest = factory.LazyAttribute(lambda o: token_digest(o.secret))
    invited_by_id = factory.LazyFunction(lambda: UserFactory().id)
    expires_at = factory.LazyFunction(lambda: utcnow() + timedelta(days=7))


class ApiTokenFactory(BaseFactory):
    class Meta:
        model = ApiToken
        exclude = ("secret",)

    secret = factory.Sequence(lambda n: f"agl_api-token-secret-{n}")
    user = factory.SubFactory(UserFactory)
    organisation_id = None
    name = "ERP"
    prefix = factory.LazyAttribute(lambda o: o.secret[:12])
    digest = factory.LazyAttribute(lambda o: token_digest(o.secret))


class EventFactory(BaseFactory):
    class Meta:
        model = Event

    kind = "test.happened"
    payload = factory.Dict({})


class SignInAttemptFactory(BaseFactory):
    class Meta:
        model = SignInAttempt

    login = "13908520001"
    address = "127.0.0.1"
    succeeded = False
