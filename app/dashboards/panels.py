"""The panels of each role's dashboard: what is going on and what the person can do next.

Each panel is built from the reader's point of view (an Actor) with read-only queries. A domain that adds a
capability adds its panel here, so every role's dashboard grows with the platform.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from flask import url_for
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from app.accounts import queries as accounts
from app.auth import (
    BUYER_KINDS,
    BUYERS,
    SELLER_KINDS,
    Actor,
    OrgKind,
    Role,
    VerificationStatus,
    kind_label,
    role_label,
)
from app.catalog import queries as catalog
from app.contracts import queries as contracts
from app.dashboards.notices import notices_for
from app.db import local_date, utcnow
from app.i18n import N_, local_datetime, money
from app.live import queries as live
from app.logistics import queries as logistics
from app.orders import queries as orders


@dataclass(frozen=True)
class Action:
    label: str
    url: str
    primary: bool = False


@dataclass(frozen=True)
class Panel:
    title: str
    lines: list[str]
    actions: list[Action] = field(default_factory=list)
    tone: str = "neutral"  # neutral, good, warning, bad: the colour of its edge
    figure: str | None = None  # one big number, when the panel is about a count


def panels_for(session: Session, actor: Actor) -> list[Panel]:
    if actor.organisation_id is None:
        return [_no_organisation_panel()]
    found = [_verification_panel(actor), _notices_panel(session, actor), _role_panel(actor)]
    if actor.kind in SELLER_KINDS:
        found += [_selling_panel(session, actor), _orders_to_ship_panel(session, actor)]
    if actor.kind in BUYER_KINDS:
        found += [_buying_panel(session, actor), _deliveries_panel(session, actor)]
    if actor.kind in BUYER_KINDS | SELLER_KINDS:
        found.append(_contracts_panel(session, actor))
    if actor.kind in SELLER_KINDS:
        found.append(_dispatch_panel(session, actor))
    if actor.kind in BUYER_KINDS:
        found.append(_standing_panel(session, actor))
    found.append(_live_panel(session, actor))
    if actor.role in (Role.owner, Role.manager):
        found.append(_team_panel(session, actor))
    if actor.kind == OrgKind.platform:
        found += [_review_panel(session), _money_panel(session)]
    found.append(_api_panel())
    return [panel for panel in found if panel is not None]


def _notices_panel(session: Session, actor: Actor) -> Panel | None:
    latest = notices_for(session, actor.organisation_id, days=3, limit=5)
    if not latest:
        return None
    return Panel(
        title=_("Notices"),
        lines=[notice.text for notice in latest],
        actions=[Action(_("All notices"), url_for("dashboards.notices"), primary=True)],
        tone="warning" if any(notice.urgent for notice in latest) else "neutral",
    )


def _no_organisation_panel() -> Panel:
    return Panel(
        title=_("Join an organisation"),
        lines=[
            _(
                "You are not in any organisation yet. Register yours, or ask its manager for an "
                "invitation link."
            )
        ],
        actions=[Action(_("Register an organisation"), url_for("accounts.register"), primary=True)],
        tone="warning",
    )


def _verification_panel(actor: Actor) -> Panel | None:
    if actor.status == VerificationStatus.verified:
        return None
    if actor.status == VerificationStatus.rejected:
        return Panel(
            title=_("Verification: details need correcting"),
            lines=[
                _(
                    "The platform could not verify %(org)s: %(reason)s",
                    org=actor.organisation_name,
                    reason=actor.rejection_reason,
                ),
                _("Correct the details and save; they go back for verification."),
            ],
            actions=[
                Action(_("Correct the details"), url_for("organisation.details"), primary=True)
            ],
            tone="bad",
        )
    return Panel(
        title=_("Awaiting verification"),
        lines=[
            _(
                "A platform admin checks %(org)s against its business licence, usually within one "
                "working day.",
                org=actor.organisation_name,
            ),
            _("Until then you can look around and invite your team, but not trade."),
        ],
        actions=[Action(_("Check the details"), url_for("organisation.details"))],
        tone="warning",
    )


ROLE_DUTIES = {
    Role.owner: N_(
        "As owner you run the organisation on AgriLink: its details, its people and their roles."
    ),
    Role.manager: N_("As manager you look after the organisation's people and its trading."),
    Role.staff: N_("As staff you list, sell and buy for the organisation."),
    Role.host: N_("As host you run the organisation's live selling sessions."),
    Role.inspector: N_("As receiving inspector you check and accept deliveries at the gate."),
    Role.officer: N_(
        "As officer you watch trades and alerts and act on them: halt a market, cancel an "
        "order, propose a suspension."
    ),
    Role.supervisor: N_(
        "As supervisor you set the alert thresholds and approve or reject the suspensions "
        "officers propose."
    ),
    Role.admin: N_("As admin you verify organisations and keep the audit trail."),
}


def _role_panel(actor: Actor) -> Panel:
    title, text = _audience_text(actor)
    return Panel(
        title=title,
        lines=[
            text,
            _(ROLE_DUTIES[actor.role]),
            _(
                "You are %(role)s at %(org)s (%(kind)s).",
                role=role_label(actor.role),
                org=actor.organisation_name,
                kind=kind_label(actor.kind),
            ),
        ],
        tone="good" if actor.status == VerificationStatus.verified else "neutral",
    )


def _audience_text(actor: Actor) -> tuple[str, str]:
    if actor.kind in SELLER_KINDS:
        return _("Sell your produce"), _(
            "List tea, rice, chili, vegetables and fruit with grade, origin and batch; answer orders and "
            "order contracts from supermarkets and schools; ship with a delivery note."
        )
    if actor.kind == OrgKind.school:
        return _("Feed your students from local farms"), _(
            "Buy vegetables, rice and tea from Meitan's cooperatives with delivery before 06:30, inspect "
            "at the gate, and pay on account."
        )
    if actor.kind == OrgKind.supermarket:
        return _("Stock your shelves from the source"), _(
            "Order from several cooperatives in one checkout, buy on contract, and connect your ERP "
            "through the API."
        )
    if actor.kind in BUYER_KINDS:
        return _("Trade tea at the exchange"), _(
            "Fund your exchange deposit, then list, bid and buy tea lots backed by warehouse receipts."
        )
    if actor.kind == OrgKind.warehouse:
        return _("Issue warehouse receipts"), _(
            "Weigh and grade incoming tea lots and issue electronic warehouse receipts to depositors."
        )
    if actor.kind == OrgKind.exchange:
        return _("Keep the market fair"), _(
            "Watch every trade as it happens, act on alerts, halt a market when needed, and keep an "
            "audit trail of what you did."
        )
    return _("Run the platform"), _(
        "Verify organisations against their business licences, and follow everything that happens in "
        "the audit trail."
    )


def _selling_panel(session: Session, actor: Actor) -> Panel:
    counts = catalog.status_counts(session, actor.organisation_id)
    on_sale = counts.get("active", 0)
    lines = (
        [
            _(
                "%(sold_out)d sold out, %(paused)d paused, %(draft)d drafts, %(expired)d expired.",
                sold_out=counts.get("sold_out", 0),
                paused=counts.get("paused", 0),
                draft=counts.get("draft", 0),
                expired=counts.get("expired", 0),
            )
        ]
        if counts
        else [
            _(
                "Nothing listed yet. Record a harvest batch, then list produce from it (or import a spreadsheet)."
            )
        ]
    )
    return Panel(
        title=_("On sale"),
        figure=str(on_sale),
        lines=lines,
        actions=[
            Action(_("List produce"), url_for("selling.new_listing"), primary=not counts),
            Action(_("My listings"), url_for("selling.listings")),
            Action(_("Batches"), url_for("selling.batch_list")),
            Action(_("Import"), url_for("imports.upload")),
        ],
        tone="good" if on_sale else "neutral",
    )


def _buying_panel(session: Session, actor: Actor) -> Panel:
    on_sale = catalog.count_on_sale(session, viewer_kind=actor.kind, now=utcnow())
    return Panel(
        title=_("Find produce"),
        figure=str(on_sale),
        lines=[_("Listings on sale for you now, with grade, origin and the batch they come from.")],
        actions=[Action(_("Browse the market"), url_for("market.browse"), primary=True)],
    )


def _orders_to_ship_panel(session: Session, actor: Actor) -> Panel:
    counts = orders.status_counts(session, actor.organisation_id, side="selling")
    to_ship = counts.get("paid", 0)
    owed = orders.money_of(session, actor.organisation_id)["owed_to_you_fen"]
    return Panel(
        title=_("Orders to ship"),
        figure=str(to_ship),
        lines=[
            _(
                "%(shipped)d on their way, %(disputed)d disputed. The next payout owes you %(owed)s.",
                shipped=counts.get("shipped", 0) + counts.get("delivered", 0),
                disputed=counts.get("disputed", 0),
                owed=money(owed),
            )
        ],
        actions=[
            Action(
                _("Incoming orders"), url_for("orders.index", side="selling"), primary=bool(to_ship)
            ),
            Action(_("Money"), url_for("orders.wallet")),
        ],
        tone="warning" if to_ship else "neutral",
    )


def _deliveries_panel(session: Session, actor: Actor) -> Panel:
    counts = orders.status_counts(session, actor.organisation_id, side="buying")
    arriving = counts.get("shipped", 0) + counts.get("delivered", 0)
    held = orders.money_of(session, actor.organisation_id)
    due = orders.invoices_due_soon(session, actor.organisation_id, today=local_date(utcnow()))
    lines = [_("Inspect at the gate and accept what is right; the seller is paid only for that.")]
    if held["credit_limit_fen"] is None:
        lines.append(_("Wallet: %(wallet)s.", wallet=money(held["wallet_fen"])))
    else:
        lines.append(
            _(
                "Owed on account: %(owed)s of a %(limit)s limit.",
                owed=money(held["owed_by_you_fen"]),
                limit=money(held["credit_limit_fen"]),
            )
        )
    lines += [
        _(
            "Invoice %(id)d: %(owed)s due on %(due)s.",
            id=bill.id,
            owed=money(bill.amount_fen - bill.paid_fen),
            due=bill.due_on.isoformat(),
        )
        for bill in due
    ]
    actions = [
        Action(_("My orders"), url_for("orders.index", side="buying"), primary=bool(arriving))
    ]
    if BUYERS.refusal(actor) is None:  # inspectors accept deliveries but do not shop
        actions.append(Action(_("Cart"), url_for("orders.show_cart")))
    actions.append(Action(_("Money"), url_for("orders.wallet"), primary=bool(due)))
    return Panel(
        title=_("Deliveries to accept"),
        figure=str(arriving),
        lines=lines,
        actions=actions,
        tone="warning" if arriving or due else "neutral",
    )


def _contracts_panel(session: Session, actor: Actor) -> Panel:
    waiting = contracts.needing_answer(session, actor.organisation_id)
    coming = contracts.deliveries_between(
        session, actor.organisation_id, local_date(utcnow()), days=7
    )
    lines = [
        _(
            "%(n)d contract deliveries in the next 7 days; each order is made a few days ahead.",
            n=len(coming),
        )
    ]
    lines += [_("Waiting for your answer: %(title)s", title=contract.title) for contract in waiting]
    actions = [
        Action(_("Answer"), url_for("contracts.detail", contract_id=contract.id), primary=True)
        for contract in waiting[:1]
    ]
    return Panel(
        title=_("Order contracts"),
        figure=str(len(waiting)) if waiting else None,
        lines=lines,
        actions=[*actions, Action(_("Contracts"), url_for("contracts.index"))],
        tone="warning" if waiting else "neutral",
    )


def _dispatch_panel(session: Session, actor: Actor) -> Panel:
    tomorrow = local_date(utcnow()) + timedelta(days=1)
    plan = logistics.plan_of(session, actor.organisation_id, tomorrow)
    if plan is None:
        lines = [_("Tomorrow is not planned yet.")]
    else:
        unserved = sum(1 for stop in plan.stops if stop.vehicle_id is None)
        lines = [
            _(
                "Tomorrow: %(stops)d stops on %(routes)d vehicles, %(unserved)d not served.",
                stops=len(plan.stops),
                routes=len(plan.routes),
                unserved=unserved,
            )
        ]
    return Panel(
        title=_("Dispatch"),
        lines=lines,
        actions=[
            Action(_("Tomorrow's plan"), url_for("logistics.plan"), primary=plan is None),
            Action(_("Vehicles"), url_for("logistics.fleet")),
        ],
        tone="warning"
        if plan is not None and any(s.vehicle_id is None for s in plan.stops)
        else "neutral",
    )


def _standing_panel(session: Session, actor: Actor) -> Panel:
    days = logistics.standing_deliveries(session, actor.organisation_id, since=local_date(utcnow()))
    refused = [day for day in days if day.status == "not_ordered"]
    lines = [_("%(n)d coming days ordered by your standing orders.", n=len(days) - len(refused))]
    lines += [f"{day.day}: {day.problem}" for day in refused[:3]]
    return Panel(
        title=_("Standing orders"),
        figure=str(len(refused)) if refused else None,
        lines=lines,
        actions=[Action(_("Standing orders"), url_for("logistics.standing_orders"))],
        tone="bad" if refused else "neutral",
    )


def _live_panel(session: Session, actor: Actor) -> Panel | None:
    """Sessions the person follows, and (for a seller's hosts) the seller's own coming sessions."""
    own = []
    if actor.kind in SELLER_KINDS and actor.role in (Role.owner, Role.manager, Role.host):
        own = live.coming_sessions_of(session, actor.organisation_id)
    followed = live.followed_sessions(session, actor.user_id)
    if not own and not followed and actor.role != Role.host:
        return None
    lines = [_live_line(item) for item in followed + [item for item in own if item not in followed]]
    actions = [Action(_("Live"), url_for("live.index"), primary=any(_on_air(i) for i in followed))]
    if own or actor.role == Role.host:
        actions.append(Action(_("My live sessions"), url_for("live.mine")))
    return Panel(
        title=_("Live"),
        lines=lines or [_("No live sessions yet.")],
        actions=actions,
        tone="good" if any(_on_air(item) for item in followed + own) else "neutral",
    )


def _on_air(item) -> bool:
    return item.status == "live"


def _live_line(item) -> str:
    if _on_air(item):
        return _("“%(title)s” is live now.", title=item.title)
    return _("“%(title)s” starts %(time)s.", title=item.title, time=local_datetime(item.starts_at))


def _money_panel(session: Session) -> Panel:
    disputes = len(orders.open_disputes(session))
    return Panel(
        title=_("Payments"),
        figure=str(disputes),
        lines=[
            _(
                "Open disputes to decide. Sellers are owed %(owed)s for the next payout batch.",
                owed=money(orders.owed_to_sellers(session)),
            )
        ],
        actions=[Action(_("Payments"), url_for("money_admin.overview"), primary=bool(disputes))],
        tone="warning" if disputes else "neutral",
    )


def _team_panel(session: Session, actor: Actor) -> Panel:
    count = accounts.count_members(session, actor.organisation_id)
    lines = [_("Invite the people who will list, buy, inspect deliveries or host live sessions.")]
    if count == 1:
        lines.insert(0, _("You are the only member so far."))
    return Panel(
        title=_("Your team"),
        figure=str(count),
        lines=lines,
        actions=[
            Action(
                _("Members and invitations"), url_for("organisation.members"), primary=count == 1
            )
        ],
    )


def _review_panel(session: Session) -> Panel:
    pending = accounts.count_pending_organisations(session)
    lines = (
        [_("Organisations await verification. Check each against its business licence.")]
        if pending
        else [_("No organisation is waiting for verification.")]
    )
    return Panel(
        title=_("Verification queue"),
        figure=str(pending),
        lines=lines,
        actions=[
            Action(
                _("Review organisations"),
                url_for("admin.organisations", status="pending"),
                primary=bool(pending),
            ),
            Action(_("Audit trail"), url_for("admin.events")),
        ],
        tone="warning" if pending else "good",
    )


def _api_panel() -> Panel:
    return Panel(
        title=_("Connect your systems"),
        lines=[_("Your IT team can call the AgriLink JSON API with a token.")],
        actions=[
            Action(_("API tokens"), url_for("accounts.tokens")),
            Action(_("API documentation"), url_for("dashboards.api_docs")),
        ],
    )
