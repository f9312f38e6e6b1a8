"""Every route, walked by every kind of person: each is allowed or refused exactly as its rule says.

A route added later without a rule fails test_every_route_declares_who_may_use_it, and a route whose guard
misbehaves for some kind of person fails the walk, so new capabilities are covered without new tests here.
"""

from dataclasses import dataclass
from datetime import date

import pytest
from flask import Flask, url_for
from werkzeug.routing import IntegerConverter

from app.auth import (
    BUYERS,
    CONTRACT_MANAGERS,
    EXCHANGE_STAFF,
    HOSTS,
    INSPECTORS,
    MEMBER,
    ORDER_STAFF,
    ORG_MANAGERS,
    PLATFORM_ADMIN,
    PUBLIC,
    ROLES_BY_KIND,
    SELF_REGISTERING_KINDS,
    SELLERS,
    SIGNED_IN,
    SUPERVISORS,
    TRADERS,
    WAREHOUSE_STAFF,
    Access,
    Actor,
    NotSignedIn,
    OrgKind,
    Role,
    VerificationStatus,
    access_rule,
    member_of,
)
from app.web import DayConverter
from tests.factories import UserFactory, member
from tests.helpers import sign_in

_WALKED_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


@dataclass(frozen=True)
class Persona:
    label: str
    kind: OrgKind | None = None
    role: Role | None = None
    status: VerificationStatus = VerificationStatus.verified
    signed_in: bool = True


PERSONAS = [
    Persona("anonymous", signed_in=False),
    Persona("signed in, in no organisation"),
    *[
        Persona(f"{kind} {role}", kind, role)
        for kind, roles in ROLES_BY_KIND.items()
        for role in roles
    ],
    *[
        Persona(f"pending {kind} owner", kind, Role.owner, VerificationStatus.pending)
        for kind in sorted(SELF_REGISTERING_KINDS)
    ],
    Persona(
        "rejected cooperative manager",
        OrgKind.cooperative,
        Role.manager,
        VerificationStatus.rejected,
    ),
]


def _sample(converter):
    """A value for a route's placeholder that names nothing that exists."""
    if isinstance(converter, IntegerConverter):
        return 999999
    if isinstance(converter, DayConverter):
        return date(2099, 1, 1)
    return "not-a-real-one"


def walked_routes(app: Flask):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods & _WALKED_METHODS):
            arguments = {name: _sample(converter) for name, converter in rule._converters.items()}
            if rule.endpoint == "static":
                arguments = {"filename": "css/app.css"}
            with app.test_request_context():
                yield rule.endpoint, method, url_for(rule.endpoint, **arguments)


# Who may use what, written down here independently of the routes: a route whose declared rule differs
# (an admin page marked public, say) fails test_each_route_has_the_rule_this_table_gives_it, and a new
# route must be added here, which is a decision someone takes on purpose.
EXPECTED_RULES = {
    PUBLIC: {
        "static", "dashboards.home", "dashboards.api_docs", "dashboards.health", "api-docs.openapi_json",
        "accounts.sign_in", "accounts.sign_out", "accounts.register", "accounts.set_language",
        "organisation.accept_invitation", "accounts_api.create_token", "accounts_api.register",
        "files.serve", "market.browse", "market.listing", "trace.trace", "trace.qr_code_png",
        "trace.qr_code_svg", "trace.label", "catalog_api.catalogue", "catalog_api.Listings GET",
        "catalog_api.ListingResource GET", "catalog_api.batch", "orders_api.stripe_webhook",
        "live.index", "live.watch", "live_api.index", "live_api.detail", "live_api.stream",
        "exchange.market", "exchange.instrument", "auctions.index", "auctions.detail", "tenders.index",
        "tenders.detail", "exchange_api.instruments_index", "exchange_api.calendar",
        "exchange_api.instrument_detail",
        "exchange_api.book", "exchange_api.trades", "exchange_api.candles", "exchange_venues_api.lots_index",
        "exchange_venues_api.auctions_index", "exchange_venues_api.auction_detail",
        "exchange_venues_api.tenders_index", "exchange_venues_api.tender_detail",
        "exchange_venues_api.price_index",
    },
    SIGNED_IN: {
        "dashboards.dashboard", "accounts.profile", "accounts.change_password",
        "accounts.sign_out_everywhere", "accounts.tokens", "accounts.revoke_token", "accounts_api.me",
        "accounts_api.Tokens", "accounts_api.revoke_token", "accounts_api.OrganisationResource GET",
        "logistics.supply_demand", "logistics_api.supply_demand", "live.follow", "live_api.follow",
    },
    MEMBER: {
        "dashboards.notices", "exchange_api.receipts_index",
        "accounts.switch_organisation", "organisation.details", "organisation.members",
        "organisation.remove_member", "accounts_api.Members", "accounts_api.Member DELETE",
    },
    ORG_MANAGERS: {
        "organisation.change_role", "organisation.revoke_invitation", "accounts_api.invite",
        "accounts_api.Member PATCH", "accounts_api.OrganisationResource PATCH",
    },
    SELLERS: {
        "selling.listings", "selling.new_listing", "selling.listing", "selling.adjust_stock", "selling.pause",
        "selling.publish", "selling.add_photos", "selling.remove_photo", "selling.batch_list",
        "selling.new_batch", "selling.batch", "selling.add_input", "selling.add_test", "imports.upload",
        "imports.status", "imports.progress", "imports.apply", "imports.export", "imports.template",
        "catalog_api.Listings POST", "catalog_api.ListingResource PATCH", "catalog_api.Stock",
        "catalog_api.add_photo", "catalog_api.record_batch", "catalog_api.add_test",
        "orders.ship", "orders.deliver", "orders_api.ship", "orders_api.deliver", "orders.connect_stripe",
        "logistics.fleet", "logistics.set_supply_terms", "logistics.plan", "logistics.make_plan",
        "logistics.move_stop", "logistics.depart", "logistics.arrive", "logistics.deliver",
        "logistics.route_sheet", "logistics.harvests", "logistics_api.set_supply_terms",
        "logistics_api.vehicles", "logistics_api.add_vehicle", "logistics_api.plan_day", "logistics_api.plan",
        "logistics_api.move_stop", "logistics_api.depart", "logistics_api.arrive", "logistics_api.deliver",
        "logistics_api.harvests", "logistics_api.add_harvest",
        "tenders.bid", "exchange_venues_api.tender_bid",
    },
    BUYERS: {
        "logistics.points", "logistics.add_closure", "logistics.remove_closure", "logistics.standing_orders",
        "logistics.new_standing_order", "logistics.stop_standing_order", "logistics.deliveries",
        "logistics_api.delivery_points", "logistics_api.add_delivery_point", "logistics_api.closures",
        "logistics_api.add_closure", "logistics_api.standing_orders", "logistics_api.create_standing_order",
        "logistics_api.stop_standing_order", "logistics_api.standing_deliveries",
        "orders.put_in_cart", "orders.show_cart", "orders.checkout", "orders.pay", "orders.dispute",
        "orders.pay_by_card", "orders.start_card_payment",
        "orders_api.create", "orders_api.pay", "orders_api.dispute", "live.buy", "live_api.buy",
        "tenders.new", "tenders.withdraw", "exchange_venues_api.post_tender",
    },
    HOSTS: {
        "live.mine", "live.new", "live.edit", "live.console", "live.change_status", "live.announce",
        "live.pin", "live.start_deal", "live.end_deal", "live.report", "live_api.create",
        "live_api.update", "live_api.announce", "live_api.change_status", "live_api.pin",
        "live_api.start_deal", "live_api.end_deal", "live_api.figures", "live_api.report",
        "live_api.console_stream",
    },
    INSPECTORS: {"orders.accept", "orders_api.accept"},
    TRADERS: {
        "orders.index", "orders.detail", "orders.delivery_note", "orders.receipt",
        "orders.wallet", "orders_api.index", "orders_api.detail", "orders_api.wallet",
        "contracts.index", "contracts.detail", "contracts.diff", "contracts.printable",
        "contracts_api.index", "contracts_api.detail", "contracts_api.diff",
    },
    CONTRACT_MANAGERS: {
        "contracts.create", "contracts.propose", "contracts.send", "contracts.sign", "contracts.withdraw",
        "contracts.breach", "contracts.claim", "contracts.decide",
        "contracts_api.create", "contracts_api.send", "contracts_api.propose", "contracts_api.sign",
        "contracts_api.withdraw", "contracts_api.breach", "contracts_api.claim", "contracts_api.decide",
    },
    ORDER_STAFF: {
        "orders.cancel", "orders_api.cancel",
        # the exchange's members (EXCHANGE_MEMBERS): trading, their deposit and receipts
        "exchange.place", "exchange.cancel", "exchange.take", "exchange.orders", "exchange.move_deposit",
        "receipts.mine", "receipts.split", "receipts.merge", "receipts.list_lot", "receipts.delist",
        "receipts.pledge", "exchange_api.pledge", "auctions.new", "auctions.bid", "auctions.accept",
        "exchange_api.place", "exchange_api.orders_index", "exchange_api.order_detail", "exchange_api.cancel",
        "exchange_api.my_trades", "exchange_api.deposit", "exchange_api.fund", "exchange_api.withdraw",
        "exchange_api.split", "exchange_api.merge", "exchange_venues_api.list_lot", "exchange_venues_api.take",
        "exchange_venues_api.delist", "exchange_venues_api.create_auction", "exchange_venues_api.bid",
        "exchange_venues_api.accept",
    },
    WAREHOUSE_STAFF: {
        "receipts.warehouse", "receipts.release", "exchange_api.issue", "exchange_api.release",
        "receipts.discharge", "exchange_api.discharge",
    },
    EXCHANGE_STAFF: {
        "surveillance_api.open_instrument", "staff.new_instrument",
        "staff.calendar", "staff.reopen_day", "surveillance_api.close_day", "surveillance_api.reopen_day",
        "surveillance.console", "surveillance.live",
        "surveillance.alerts", "surveillance.alert",
        "surveillance.alert_step", "surveillance.cases", "surveillance.open_case", "surveillance.case",
        "surveillance.note_case", "staff.halt", "staff.resume", "staff.halt_auction", "staff.force_cancel",
        "staff.member", "staff.suspensions", "staff.thresholds", "staff.audit", "staff.audit_csv",
        "staff.report", "surveillance_api.alerts_index", "surveillance_api.alert_detail",
        "surveillance_api.acknowledge", "surveillance_api.assign", "surveillance_api.escalate",
        "surveillance_api.annotate", "surveillance_api.close", "surveillance_api.cases_index",
        "surveillance_api.open_case", "surveillance_api.note_case", "surveillance_api.halt",
        "surveillance_api.resume", "surveillance_api.halt_auction", "surveillance_api.resume_auction",
        "surveillance_api.force_cancel", "surveillance_api.suspensions_index",
        "surveillance_api.propose_suspension", "surveillance_api.thresholds_index", "surveillance_api.tape",
        "surveillance_api.audit_index", "surveillance_api.audit_csv",
    },
    SUPERVISORS: {
        "staff.decide", "staff.lift", "staff.set_thresholds", "surveillance_api.decide_suspension",
        "surveillance_api.lift_suspension", "surveillance_api.set_thresholds",
    },
    PLATFORM_ADMIN: {
        "admin.organisations", "admin.organisation", "admin.verify", "admin.reject", "admin.events",
        "accounts_api.organisation_list", "accounts_api.verify", "accounts_api.reject",
        "accounts_api.events", "money_admin.overview", "money_admin.confirm_transfer",
        "money_admin.set_credit", "money_admin.set_fee", "money_admin.run_payouts", "money_admin.order",
        "money_admin.payout_file", "money_admin.resolve", "dashboards.job_runs",
    },
}  # fmt: skip


def _expected_rule(endpoint: str, method: str) -> Access | None:
    for rule, routes in EXPECTED_RULES.items():
        if f"{endpoint} {method}" in routes or endpoint in routes:
            return rule
    return None


def test_each_route_has_the_rule_this_table_gives_it(app):
    differences = [
        f"{method} {endpoint}: declared {getattr(access_rule(app, endpoint, method), 'label', None)!r}, "
        f"expected {getattr(_expected_rule(endpoint, method), 'label', None)!r}"
        for endpoint, method, _url in walked_routes(app)
        if _expected_rule(endpoint, method) is None
        or access_rule(app, endpoint, method) is not _expected_rule(endpoint, method)
    ]
    assert differences == []


@pytest.mark.parametrize("persona", PERSONAS, ids=[p.label for p in PERSONAS])
def test_each_route_allows_or_refuses_this_person_as_its_rule_says(app, client, session, persona):
    actor = _sign_in_as(client, persona)
    mismatches = []
    for endpoint, method, url in walked_routes(app):
        with app.test_request_context():
            refusal = access_rule(app, endpoint, method).refusal(actor)
        response = client.open(url, method=method)
        outcome = _outcome(response)
        expected = (
            "allowed"
            if refusal is None
            else ("not signed in" if isinstance(refusal, NotSignedIn) else "forbidden")
        )
        if outcome != expected or response.status_code >= 500:
            mismatches.append(f"{method} {url}: expected {expected}, got {response.status_code}")
    assert mismatches == []


def _sign_in_as(client, persona: Persona) -> Actor:
    if not persona.signed_in:
        return Actor()
    if persona.kind is None:
        user = UserFactory()
        sign_in(client, user)
        return Actor(user_id=user.id, user_name=user.name)
    membership = member(kind=persona.kind, role=persona.role, status=persona.status)
    sign_in(client, membership.user, membership.organisation)
    organisation = membership.organisation
    return Actor(
        user_id=membership.user_id,
        user_name=membership.user.name,
        organisation_id=organisation.id,
        organisation_name=organisation.name_zh,
        kind=organisation.kind,
        role=membership.role,
        status=organisation.status,
    )


def _outcome(response) -> str:
    if response.status_code == 401 or (
        response.status_code == 302 and "/sign-in" in response.headers.get("Location", "")
    ):
        return "not signed in"
    if response.status_code == 403:
        return "forbidden"
    return "allowed"


def test_only_platform_admins_reach_verification_and_the_audit_trail(client, session):
    admin = member(kind=OrgKind.platform, role=Role.admin)
    officer = member(kind=OrgKind.exchange, role=Role.officer)
    manager = member(kind=OrgKind.cooperative, role=Role.manager)

    for membership, expected in ((admin, 200), (officer, 403), (manager, 403)):
        sign_in(client, membership.user, membership.organisation)
        assert client.get("/admin/organisations").status_code == expected
        assert client.get("/admin/events").status_code == expected


def test_a_refusal_says_why(client, session):
    manager = member(
        kind=OrgKind.cooperative, role=Role.manager, name_zh="湄潭县龙凤村茶叶专业合作社"
    )
    sign_in(client, manager.user, manager.organisation)

    page = client.get("/admin/organisations").get_data(as_text=True)

    assert "仅限平台运营方使用" in page
    assert "湄潭县龙凤村茶叶专业合作社 是农民专业合作社" in page


def test_a_pending_organisation_is_told_it_may_look_but_not_trade_yet(app):
    trading = member_of("sellers", [OrgKind.cooperative])
    waiting = Actor(
        user_id=1,
        organisation_id=2,
        organisation_name="湄潭县新建村果蔬专业合作社",
        kind=OrgKind.cooperative,
        role=Role.owner,
        status=VerificationStatus.pending,
    )
    turned_down = Actor(
        user_id=1,
        organisation_id=2,
        organisation_name="湄潭县新建村果蔬专业合作社",
        kind=OrgKind.cooperative,
        role=Role.owner,
        status=VerificationStatus.rejected,
        rejection_reason="名称与营业执照不符",
    )
    with app.test_request_context():
        pending_refusal, rejected_refusal = trading.refusal(waiting), trading.refusal(turned_down)

    assert "正在等待平台审核" in pending_refusal.message and pending_refusal.status == 403
    assert "名称与营业执照不符" in rejected_refusal.message
    assert (
        trading.refusal(
            Actor(
                user_id=1,
                organisation_id=2,
                kind=OrgKind.cooperative,
                role=Role.owner,
                status=VerificationStatus.verified,
            )
        )
        is None
    )
