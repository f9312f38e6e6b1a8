"""Who may do what, in one place: organisation kinds, roles, access rules, sign-in plumbing, CSRF, tokens.

Every route declares its rule with @requires(RULE). A guard before each request applies it; a route without
a rule is refused (and the route-walk test names it), so nothing new is ever open by accident.
"""

import hashlib
import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, current_app, g, request
from flask_babel import gettext as _
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFError, CSRFProtect

from app.errors import NotSignedIn, PermissionDenied, render_error
from app.i18n import N_

log = logging.getLogger(__name__)


class OrgKind(StrEnum):
    cooperative = "cooperative"
    family_farm = "family_farm"
    enterprise = "enterprise"
    supermarket = "supermarket"
    school = "school"
    trader = "trader"
    warehouse = "warehouse"
    exchange = "exchange"
    platform = "platform"


class Role(StrEnum):
    owner = "owner"
    manager = "manager"
    staff = "staff"
    host = "host"
    inspector = "inspector"
    officer = "officer"
    supervisor = "supervisor"
    admin = "admin"


class VerificationStatus(StrEnum):
    pending = "pending"
    verified = "verified"
    rejected = "rejected"


MANAGING_ROLES = frozenset({Role.owner, Role.manager})  # who runs an organisation on the platform
SELLER_KINDS = frozenset({OrgKind.cooperative, OrgKind.family_farm, OrgKind.enterprise})
BUYER_KINDS = frozenset({OrgKind.supermarket, OrgKind.school, OrgKind.trader})
# Kinds a newcomer may register; the warehouse, the exchange and the platform are set up by the platform.
SELF_REGISTERING_KINDS = SELLER_KINDS | BUYER_KINDS
_BUSINESS_ROLES = (Role.owner, Role.manager, Role.staff, Role.inspector)
ROLES_BY_KIND: dict[OrgKind, tuple[Role, ...]] = {
    **{kind: (*_BUSINESS_ROLES, Role.host) for kind in SELLER_KINDS},
    **{kind: _BUSINESS_ROLES for kind in BUYER_KINDS},
    OrgKind.warehouse: _BUSINESS_ROLES,
    OrgKind.exchange: (Role.owner, Role.officer, Role.supervisor),
    OrgKind.platform: (Role.owner, Role.admin),
}

KIND_LABELS = {
    OrgKind.cooperative: N_("farmer cooperative"),
    OrgKind.family_farm: N_("family farm"),
    OrgKind.enterprise: N_("leading agricultural enterprise"),
    OrgKind.supermarket: N_("supermarket"),
    OrgKind.school: N_("school"),
    OrgKind.trader: N_("trader"),
    OrgKind.warehouse: N_("warehouse"),
    OrgKind.exchange: N_("tea exchange"),
    OrgKind.platform: N_("platform operator"),
}
ROLE_LABELS = {
    Role.owner: N_("owner"),
    Role.manager: N_("manager"),
    Role.staff: N_("staff"),
    Role.host: N_("live-stream host"),
    Role.inspector: N_("receiving inspector"),
    Role.officer: N_("exchange officer"),
    Role.supervisor: N_("exchange supervisor"),
    Role.admin: N_("platform admin"),
}
STATUS_LABELS = {
    VerificationStatus.pending: N_("awaiting verification"),
    VerificationStatus.verified: N_("verified"),
    VerificationStatus.rejected: N_("not verified"),
}


def kind_label(kind: str) -> str:
    return _(KIND_LABELS[OrgKind(kind)])


def role_label(role: str) -> str:
    return _(ROLE_LABELS[Role(role)])


def status_label(status: str) -> str:
    return _(STATUS_LABELS[VerificationStatus(status)])


@dataclass(frozen=True)
class Actor:
    """The person behind this request, in the organisation they are acting for."""

    user_id: int | None = None
    user_name: str = ""
    organisation_id: int | None = None
    organisation_name: str = ""  # in the reader's language
    organisation_name_zh: str = ""  # as registered, the name orders and documents carry
    kind: OrgKind | None = None
    role: Role | None = None
    status: VerificationStatus | None = None
    rejection_reason: str = ""
    via_token: bool = False

    @property
    def signed_in(self) -> bool:
        return self.user_id is not None

    def is_(self, kinds: Iterable[OrgKind], roles: Iterable[Role] = ()) -> bool:
        return self.kind in set(kinds) and (not roles or self.role in set(roles))


ANONYMOUS = Actor()


@dataclass(frozen=True)
class Access:
    """A route's rule: who may use it, and the reason a refused person is given."""

    label: str
    signed_in: bool = True
    member: bool = False
    kinds: frozenset[OrgKind] = field(default_factory=frozenset)
    roles: frozenset[Role] = field(default_factory=frozenset)
    verified: bool = False

    def refusal(self, actor: Actor) -> NotSignedIn | PermissionDenied | None:
        if not self.signed_in:
            return None
        if not actor.signed_in:
            return NotSignedIn(g.get("auth_problem") or _("Please sign in to continue."))
        if not (self.member or self.kinds or self.roles or self.verified):
            return None
        if actor.organisation_id is None:
            return PermissionDenied(
                _(
                    "This is for members of an organisation. Register one, or ask "
                    "your organisation's manager to invite you."
                )
            )
        return self._kind_refusal(actor) or self._role_refusal(actor) or self._status_refusal(actor)

    def _kind_refusal(self, actor: Actor) -> PermissionDenied | None:
        if not self.kinds or actor.kind in self.kinds:
            return None
        kinds = "、".join(sorted(kind_label(kind) for kind in self.kinds))
        return PermissionDenied(
            _(
                "This is only for %(kinds)s. %(org)s is a %(kind)s.",
                kinds=kinds,
                org=actor.organisation_name,
                kind=kind_label(actor.kind),
            )
        )

    def _role_refusal(self, actor: Actor) -> PermissionDenied | None:
        if not self.roles or actor.role in self.roles:
            return None
        roles = "、".join(sorted(role_label(role) for role in self.roles))
        return PermissionDenied(
            _(
                "This needs the role %(roles)s. You are %(role)s at %(org)s; ask its owner to change "
                "your role.",
                roles=roles,
                role=role_label(actor.role),
                org=actor.organisation_name,
            )
        )

    def _status_refusal(self, actor: Actor) -> PermissionDenied | None:
        if not self.verified or actor.status == VerificationStatus.verified:
            return None
        if actor.status == VerificationStatus.rejected:
            return PermissionDenied(
                _(
                    "%(org)s was not verified (%(reason)s). Correct its details and ask for "
                    "verification again; until then you can look but not trade.",
                    org=actor.organisation_name,
                    reason=actor.rejection_reason,
                )
            )
        return PermissionDenied(
            _(
                "%(org)s is awaiting verification by the platform. You can look around, but trading "
                "opens once it is verified.",
                org=actor.organisation_name,
            )
        )


def member_of(
    label: str, kinds: Iterable[OrgKind] = (), roles: Iterable[Role] = (), *, verified: bool = True
) -> Access:
    return Access(
        label, member=True, kinds=frozenset(kinds), roles=frozenset(roles), verified=verified
    )


PUBLIC = Access(N_("anyone"), signed_in=False)
SIGNED_IN = Access(N_("anyone signed in"))
MEMBER = Access(N_("members of an organisation"), member=True)
ORG_MANAGERS = Access(N_("owners and managers"), member=True, roles=MANAGING_ROLES)
EXCHANGE_STAFF = member_of(
    N_("exchange staff"), [OrgKind.exchange], [Role.officer, Role.supervisor]
)
# Who approves suspensions and sets the surveillance thresholds (officers propose and act).
SUPERVISORS = member_of(N_("exchange supervisors"), [OrgKind.exchange], [Role.supervisor])
SELLERS = member_of(N_("verified sellers"), SELLER_KINDS, [Role.owner, Role.manager, Role.staff])
BUYERS = member_of(N_("verified buyers"), BUYER_KINDS, [Role.owner, Role.manager, Role.staff])
# Who signs off a delivery at the gate: the buyer's inspectors, or those who run the buyer.
INSPECTORS = member_of(
    N_("a verified buyer's inspectors"), BUYER_KINDS, [Role.owner, Role.manager, Role.inspector]
)
TRADERS = member_of(N_("verified buyers and sellers"), BUYER_KINDS | SELLER_KINDS)
# Who may call an order off: the people who buy or sell for the organisation, not its inspectors or hosts.
ORDER_STAFF = member_of(
    N_("owners, managers and staff of verified buyers and sellers"),
    BUYER_KINDS | SELLER_KINDS,
    [Role.owner, Role.manager, Role.staff],
)
# Who binds an organisation to an order contract: those who run it.
CONTRACT_MANAGERS = member_of(
    N_("owners and managers of verified buyers and sellers"),
    BUYER_KINDS | SELLER_KINDS,
    MANAGING_ROLES,
)
# Who runs a seller's live sessions: its hosts, and those who run the seller.
HOSTS = member_of(
    N_("hosts, owners and managers of verified sellers"),
    SELLER_KINDS,
    [Role.owner, Role.manager, Role.host],
)
# Who trades on the exchange for a member: the people who buy or sell for it.
EXCHANGE_MEMBERS = ORDER_STAFF
# Who weighs tea in and out of an approved warehouse and issues its receipts.
WAREHOUSE_STAFF = member_of(
    N_("warehouse staff"), [OrgKind.warehouse], [Role.owner, Role.manager, Role.staff]
)
PLATFORM_ADMIN = member_of(N_("platform admins"), [OrgKind.platform], [Role.owner, Role.admin])

_RULE_ATTRIBUTE = "__access_rule__"


def requires(rule: Access) -> Callable:
    """Declare who may call this view (or MethodView method)."""

    def declare(view: Callable) -> Callable:
        setattr(view, _RULE_ATTRIBUTE, rule)
        return view

    return declare


def declare_access(app: Flask, endpoint: str, rule: Access) -> None:
    """Declare the rule of a view we did not write (static files, the OpenAPI document)."""
    app.extensions["agrilink.access"][endpoint] = rule


def access_rule(app: Flask, endpoint: str, method: str) -> Access | None:
    view = app.view_functions.get(endpoint)
    if view is None:
        return None
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        handler = getattr(view_class, method.lower(), None) or getattr(view_class, "get", None)
        rule = getattr(handler, _RULE_ATTRIBUTE, None)
    else:
        rule = getattr(view, _RULE_ATTRIBUTE, None)
    return rule or app.extensions["agrilink.access"].get(endpoint)


def current_actor() -> Actor:
    return g.get("actor", ANONYMOUS)


def can(endpoint: str, method: str = "GET") -> bool:
    """Whether the current person may use a route: navigation shows only what would be allowed."""
    rule = access_rule(current_app, endpoint, method)
    return rule is not None and rule.refusal(current_actor()) is None


# --- secrets --------------------------------------------------------------------------------------

_passwords = PasswordHasher()  # argon2id with the RFC 9106 low-memory parameters


def hash_password(password: str) -> str:
    return _passwords.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return _passwords.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    return _passwords.check_needs_rehash(password_hash)


TOKEN_PREFIX = "agl_"  # noqa: S105 - a marker that makes leaked tokens easy to spot, not a secret


def new_token() -> str:
    """A fresh secret for an API token or an invitation link, shown once and stored only as a digest."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    # The secret is 256 random bits, so a fast digest is as safe as a slow one here.
    return hashlib.sha256(token.encode()).hexdigest()


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _sep, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


# --- wiring ---------------------------------------------------------------------------------------

_UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def init_app(
    app: Flask,
    *,
    load_user: Callable,
    load_token_user: Callable,
    actor_of: Callable[[object], Actor],
) -> None:
    """Connect sign-in (session cookie or bearer token) to the access guard and CSRF protection."""
    app.extensions["agrilink.access"] = {}
    login = LoginManager(app)
    login.user_loader(load_user)
    login.request_loader(load_token_user)
    csrf = CSRFProtect(app)

    def guard() -> None:
        g.actor = actor_of(current_user) if current_user.is_authenticated else ANONYMOUS
        if request.endpoint is None or request.method == "OPTIONS":
            return  # Flask answers 404/405/OPTIONS itself
        rule = access_rule(app, request.endpoint, request.method)
        if rule is None:
            log.error("route %s has no access rule; refused", request.endpoint)
            raise PermissionDenied(_("This page is not open to anyone yet."))
        refusal = rule.refusal(g.actor)
        if refusal is not None:
            raise refusal
        if _needs_csrf_check(app) and app.config["WTF_CSRF_ENABLED"]:
            csrf.protect()

    app.before_request(guard)
    app.jinja_env.globals.update(
        can=can,
        current_actor=current_actor,
        kind_label=kind_label,
        role_label=role_label,
        status_label=status_label,
    )
    app.register_error_handler(CSRFError, _csrf_failed)
    app.after_request(_security_headers)


def _needs_csrf_check(app: Flask) -> bool:
    """Forms always; the JSON API only when a browser's session cookie is what signs the request in.

    A token is sent deliberately by its holder, and an anonymous JSON call carries no session to abuse
    (a page on another site cannot send JSON here without CORS, which we do not grant).
    """
    if request.method not in _UNSAFE_METHODS:
        return False
    if request.path.startswith("/api/"):
        return g.actor.signed_in and not g.actor.via_token
    return True


def _csrf_failed(_error: CSRFError):
    message = _(
        "This form has expired or did not come from our site. Reload the page and try again."
    )
    return render_error(400, "csrf_failed", message)


def _security_headers(response):
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'",
    )
    if current_app.config["SESSION_COOKIE_SECURE"]:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response
