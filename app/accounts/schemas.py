"""What people and systems send about organisations, users and tokens, and what they get back."""

import re

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.accounts.identifiers import (
    credit_code_problem,
    is_mainland_mobile,
    normalise_credit_code,
    normalise_mobile,
)
from app.auth import SELF_REGISTERING_KINDS, OrgKind, Role, VerificationStatus
from app.web import ID_RANGE, PAGE_RANGE

_LANDLINE = re.compile(r"0\d{2,3}-?\d{7,8}")


class CreditCode(fields.String):
    """统一社会信用代码: 18 characters whose last one checks the rest."""

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        code = normalise_credit_code(super()._deserialize(value, attr, data, **kwargs))
        problems = {
            "length": _(
                "A unified social credit code has 18 characters; this one has %(n)d.", n=len(code)
            ),
            "alphabet": _(
                "A unified social credit code uses digits and capital letters except I, O, S, "
                "V and Z."
            ),
            "check": _(
                "The last character does not match the rest of the code; please check it "
                "against the business licence."
            ),
        }
        problem = credit_code_problem(code)
        if problem:
            raise ValidationError(problems[problem])
        return code


class Mobile(fields.String):
    """A mainland China mobile number (11 digits starting with 1), spaces and +86 allowed."""

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        number = normalise_mobile(super()._deserialize(value, attr, data, **kwargs))
        if not is_mainland_mobile(number):
            raise ValidationError(
                _("Enter a mainland mobile number of 11 digits, such as 13908520001.")
            )
        return number


class ContactPhone(fields.String):
    """A mobile number or a landline with its area code (0851-27221234)."""

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        number = normalise_mobile(super()._deserialize(value, attr, data, **kwargs))
        if not (is_mainland_mobile(number) or _LANDLINE.fullmatch(number)):
            raise ValidationError(
                _(
                    "Enter a mobile number (13908520001) or a landline with its area code (0851-27221234)."
                )
            )
        return number


class Email(fields.Email):
    """An email address, kept in lower case so that Li.Ming@Example.com signs in as li.ming@example.com."""

    def __init__(self, **kwargs) -> None:
        super().__init__(validate=validate.Length(max=254), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        return super()._deserialize(value, attr, data, **kwargs).strip().lower()


class Text(fields.String):
    """Text a person typed: spaces around it are dropped (passwords use plain String, kept as typed)."""

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        return super()._deserialize(value, attr, data, **kwargs).strip()


class Login(fields.String):
    """Sign-in name: a mobile number or an email address, normalised the way it was stored."""

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        return text.lower() if "@" in text else normalise_mobile(text)


class Contact(fields.String):
    """How to reach a person: a mainland mobile number or an email address."""

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if "@" in text:
            return Email().deserialize(text)
        number = normalise_mobile(text)
        if not is_mainland_mobile(number):
            raise ValidationError(_("Enter a mobile number or an email address."))
        return number


def _text(max_length: int, *, required: bool = True, **kwargs) -> Text:
    length = validate.Length(min=1 if required else 0, max=max_length)
    if required:
        return Text(required=True, validate=length, **kwargs)
    return Text(load_default="", validate=length, **kwargs)


_PASSWORD = fields.String(
    required=True,
    load_only=True,
    validate=validate.Length(min=8, max=128, error=_l("Use between {min} and {max} characters.")),
)
_LANGUAGE = fields.String(load_default="zh_CN", validate=validate.OneOf(["zh_CN", "en"]))


class OrganisationDetailsSchema(Schema):
    name_zh = _text(120)
    name_en = _text(160, required=False)
    legal_representative = _text(60)
    contact_phone = ContactPhone(required=True)
    town = _text(60, required=False)
    village = _text(60, required=False)
    address = _text(200, required=False)


class RegisterOrganisationSchema(OrganisationDetailsSchema):
    kind = fields.Enum(
        OrgKind, required=True, validate=validate.OneOf(sorted(SELF_REGISTERING_KINDS))
    )
    credit_code = CreditCode(required=True)
    owner_name = _text(60)
    owner_phone = Mobile(load_default=None)
    owner_email = Email(load_default=None)
    password = _PASSWORD
    language = _LANGUAGE

    @validates_schema
    def _needs_a_way_to_sign_in(self, data, **kwargs) -> None:
        if not data.get("owner_phone") and not data.get("owner_email"):
            raise ValidationError(
                _("Give a mobile number or an email address to sign in with."), "owner_phone"
            )


class UpdateOrganisationSchema(OrganisationDetailsSchema):
    pass


class SignInSchema(Schema):
    login = Login(required=True, validate=validate.Length(min=1, max=254))
    password = fields.String(
        required=True, load_only=True, validate=validate.Length(min=1, max=128)
    )
    remember = fields.Boolean(load_default=False)
    next = fields.String(load_default="")


class TokenRequestSchema(Schema):
    login = Login(required=True, validate=validate.Length(min=1, max=254))
    password = fields.String(
        required=True, load_only=True, validate=validate.Length(min=1, max=128)
    )
    name = _text(80, required=False, metadata={"description": "A label to recognise the token by."})


class CreateTokenSchema(Schema):
    name = _text(80)


class InviteMemberSchema(Schema):
    contact = Contact(
        required=True,
        metadata={"description": "The mobile number or email address of the person invited."},
    )
    role = fields.Enum(Role, required=True)
    name = _text(60, required=False)


class AcceptInvitationSchema(Schema):
    name = _text(60)
    password = _PASSWORD
    language = _LANGUAGE


class ChangeRoleSchema(Schema):
    role = fields.Enum(Role, required=True)


class ProfileSchema(Schema):
    name = _text(60)
    language = _LANGUAGE


class ChangePasswordSchema(Schema):
    current_password = fields.String(required=True, load_only=True)
    new_password = _PASSWORD


class RejectOrganisationSchema(Schema):
    reason = _text(500)


class OrganisationQuerySchema(Schema):
    status = fields.Enum(VerificationStatus, load_default=None)
    kind = fields.Enum(OrgKind, load_default=None)
    q = Text(load_default="", validate=validate.Length(max=100))
    page = fields.Integer(load_default=1, validate=PAGE_RANGE)


class EventQuerySchema(Schema):
    kind = fields.String(load_default="", validate=validate.Length(max=80))
    organisation_id = fields.Integer(load_default=None, validate=ID_RANGE)
    actor_id = fields.Integer(load_default=None, validate=ID_RANGE)
    since = fields.Date(load_default=None)
    until = fields.Date(load_default=None)
    page = fields.Integer(load_default=1, validate=PAGE_RANGE)


# --- what goes out --------------------------------------------------------------------------------


class OrganisationSchema(Schema):
    id = fields.Integer()
    kind = fields.Enum(OrgKind)
    name_zh = fields.String()
    name_en = fields.String()
    credit_code = fields.String()
    legal_representative = fields.String()
    contact_phone = fields.String()
    town = fields.String()
    village = fields.String()
    address = fields.String()
    status = fields.Enum(VerificationStatus)
    rejection_reason = fields.String()
    created_at = fields.DateTime()
    reviewed_at = fields.DateTime()


class MembershipSchema(Schema):
    id = fields.Integer()
    role = fields.Enum(Role)
    user_id = fields.Integer()
    user_name = fields.String(attribute="user.name")
    organisation_id = fields.Integer()
    organisation_name = fields.String(attribute="organisation.name_zh")
    organisation_kind = fields.Enum(OrgKind, attribute="organisation.kind")
    organisation_status = fields.Enum(VerificationStatus, attribute="organisation.status")


class UserSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    phone = fields.String()
    email = fields.String()
    language = fields.String()
    memberships = fields.List(fields.Nested(MembershipSchema))


class RegistrationSchema(Schema):
    organisation = fields.Nested(OrganisationSchema)
    user = fields.Nested(UserSchema)


class InvitationSchema(Schema):
    id = fields.Integer()
    contact = fields.String()
    name = fields.String()
    role = fields.Enum(Role)
    expires_at = fields.DateTime()
    link = fields.String(
        metadata={"description": "Only in the answer that creates it: send it to the person."}
    )


class ApiTokenSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    prefix = fields.String()
    organisation_id = fields.Integer()
    created_at = fields.DateTime()
    last_used_at = fields.DateTime()
    revoked_at = fields.DateTime()


class NewApiTokenSchema(ApiTokenSchema):
    token = fields.String(
        metadata={
            "description": "The secret, shown this once. Send it as 'Authorization: Bearer <token>'."
        }
    )


class EventSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    organisation_id = fields.Integer()
    actor_id = fields.Integer()
    subject = fields.String()
    payload = fields.Dict()
    created_at = fields.DateTime()
