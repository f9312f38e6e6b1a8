"""Live commerce pages: the sessions on now and coming up, the viewer's page (live, one-tap buying), the
host's sessions, schedule form and console, and the seller's report."""

import secrets
import uuid

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from marshmallow import Schema
from sqlalchemy import select

from app import events
from app.auth import BUYERS, HOSTS, PUBLIC, SIGNED_IN, current_actor, requires
from app.catalog.models import Listing, ListingStatus
from app.catalog.views import unit_name
from app.db import LOCAL_TIME, get_session, transaction, utcnow
from app.forms import Form
from app.i18n import N_, money
from app.live import buying, deals, queries, services
from app.live.models import DEAL_LABELS, STATUS_LABELS
from app.live.schemas import (
    BuyForm,
    PinSchema,
    ScheduleSessionSchema,
    StartDealSchema,
    StatusSchema,
    UpdateSessionSchema,
)

bp = Blueprint("live", __name__)

# What the host is told after each change of the session's state.
STATUS_MESSAGES = {
    "live": N_("You are live: viewers can buy now."),
    "paused": N_("Paused: buying stops until you resume."),
    "ended": N_("Session ended; its deals are closed and what they did not sell is back on sale."),
}


class _Empty(Schema):
    """A form with nothing to fill in but its CSRF token."""


@bp.app_template_global()
def live_status_label(status: str) -> str:
    return _(STATUS_LABELS[status])


@bp.app_template_global()
def deal_status_label(status: str) -> str:
    return _(DEAL_LABELS[status])


@bp.route("/live")
@requires(PUBLIC)
def index():
    """Sessions live now, coming up (to follow), and ended (with replays)."""
    reads = get_session()
    actor = current_actor()
    return render_template(
        "live/index.html",
        sessions=queries.sessions_for_viewers(reads, utcnow()),
        following=queries.followed_ids(reads, actor.user_id if actor.signed_in else None),
    )


@bp.route("/live/<int:session_id>")
@requires(PUBLIC)
def watch(session_id: int):
    """The shop beside the stream: the pinned listing, the deals with their countdowns, stock left."""
    reads = get_session()
    cursor = events.latest_cursor(reads)  # first, so no change is missed between the two
    live = services.public_session(reads, session_id)
    with transaction() as write:
        services.note_visit(write, session_id=live.id, visitor=_visitor())
    actor = current_actor()
    return render_template(
        "live/watch.html",
        live=live,
        state=queries.state(reads, live, utcnow()),
        cursor=str(cursor),
        following=live.id
        in queries.followed_ids(reads, actor.user_id if actor.signed_in else None),
        followers=queries.followers(reads, live.id),
        idempotency_key=uuid.uuid4().hex,
    )


def _visitor() -> str:
    """Who is watching, counted once per session: the person, or this browser when not signed in."""
    actor = current_actor()
    if actor.signed_in:
        return f"user:{actor.user_id}"
    session.setdefault("visitor", secrets.token_hex(8))
    return f"browser:{session['visitor']}"


@bp.route("/live/<int:session_id>/buy", methods=["POST"])
@requires(BUYERS)
def buy(session_id: int):
    """Buy in one tap from the viewer's page; the page says what was ordered, or why not."""
    form = Form(BuyForm())
    actor = current_actor()
    if form.validate_on_submit():
        placed = form.submit(
            lambda write: buying.buy(
                write,
                session_id=session_id,
                buyer_id=actor.organisation_id,
                buyer_kind=actor.kind,
                actor_id=actor.user_id,
                unpaid_minutes=current_app.config["LIVE_UNPAID_MINUTES"],
                **form.data,
            )
        )
        if placed is not None:
            order = placed.orders[0]
            flash(_bought_message(order), "success")
            return redirect(url_for("live.watch", session_id=session_id))
    return _back_with_problems(form, "live.watch", session_id)


def _bought_message(order) -> str:
    line = order.lines[0]
    if order.paid_at is not None:
        return _(
            "Ordered %(n)d %(unit)s of “%(title)s” for %(total)s, paid from your wallet (order "
            "%(id)d).",
            n=line.quantity,
            unit=unit_name(line.unit_code),
            title=line.title,
            total=money(order.total_fen),
            id=order.id,
        )
    return _(
        "Ordered %(n)d %(unit)s of “%(title)s” for %(total)s (order %(id)d). Pay it within "
        "%(minutes)d minutes, or the stock goes back.",
        n=line.quantity,
        unit=unit_name(line.unit_code),
        title=line.title,
        total=money(order.total_fen),
        id=order.id,
        minutes=current_app.config["LIVE_UNPAID_MINUTES"],
    )


@bp.route("/live/<int:session_id>/follow", methods=["POST"])
@requires(SIGNED_IN)
def follow(session_id: int):
    """Follow a session, or stop following it."""
    reads = get_session()
    following = session_id in queries.followed_ids(reads, current_actor().user_id)
    with transaction() as write:
        services.follow_session(
            write, user_id=current_actor().user_id, session_id=session_id, following=not following
        )
    flash(_("You no longer follow this session.") if following else _("Following."), "success")
    return redirect(url_for("live.watch", session_id=session_id))


# --- hosts -------------------------------------------------------------------------------------------


@bp.route("/live/mine")
@requires(HOSTS)
def mine():
    """The seller's sessions, to schedule, run and look back on."""
    return render_template(
        "live/mine.html",
        sessions=queries.sessions_of(get_session(), current_actor().organisation_id),
    )


@bp.route("/live/new", methods=["GET", "POST"])
@requires(HOSTS)
def new():
    """Schedule a session: title, time, the stream's link, the listings to feature."""
    form = Form(ScheduleSessionSchema())
    actor = current_actor()
    if form.validate_on_submit():
        live = form.submit(
            lambda write: services.schedule_session(
                write, organisation_id=actor.organisation_id, actor_id=actor.user_id, **form.data
            )
        )
        if live is not None:
            flash(_("Session scheduled. Announce it when its time is settled."), "success")
            return redirect(url_for("live.console", session_id=live.id))
    page = render_template("live/form.html", form=form, live=None, listings=_own_listings())
    return page, form.status


@bp.route("/live/<int:session_id>/edit", methods=["GET", "POST"])
@requires(HOSTS)
def edit(session_id: int):
    """Change a session (its time only until it is announced; after it ends, its replay link)."""
    actor = current_actor()
    live = services.own_session(get_session(), session_id, actor.organisation_id)
    form = Form(UpdateSessionSchema(), values=_values_of(live))
    if form.validate_on_submit():
        changed = form.submit(
            lambda write: services.update_session(
                write,
                organisation_id=actor.organisation_id,
                actor_id=actor.user_id,
                session_id=session_id,
                **form.data,
            )
        )
        if changed is not None:
            flash(_("Session saved."), "success")
            return redirect(url_for("live.console", session_id=session_id))
    page = render_template("live/form.html", form=form, live=live, listings=_own_listings())
    return page, form.status


def _values_of(live) -> dict:
    return {
        "title": live.title,
        "starts_at": live.starts_at.astimezone(LOCAL_TIME).strftime("%Y-%m-%dT%H:%M"),
        "listing_ids": [str(item.listing_id) for item in live.featured],
        "stream_url": live.stream_url,
        "replay_url": live.replay_url,
        "description": live.description,
    }


def _own_listings() -> list[Listing]:
    return list(
        get_session().scalars(
            select(Listing)
            .where(
                Listing.organisation_id == current_actor().organisation_id,
                Listing.status != ListingStatus.draft,
            )
            .order_by(Listing.title)
        )
    )


@bp.route("/live/<int:session_id>/console")
@requires(HOSTS)
def console(session_id: int):
    """The host's console: go live, pin, start and end deals, and the figures as they happen."""
    reads = get_session()
    live = services.own_session(reads, session_id, current_actor().organisation_id)
    return _console_page(live, Form(StartDealSchema(), values=_deal_defaults()))


def _deal_defaults() -> dict:
    return {"countdown_seconds": 30, "duration_minutes": 5, "per_customer_limit": 2}


def _console_page(live, deal_form: Form):
    reads = get_session()
    now = utcnow()
    cursor = events.latest_cursor(reads)  # before the state, so no change is missed between the two
    state = queries.state(reads, live, now)
    page = render_template(
        "live/console.html",
        live=live,
        state=state,
        cursor=str(cursor),
        figures=queries.console_figures(reads, live, now),
        deal_form=deal_form,
        listing_options=[(item["listing_id"], item["title"]) for item in state["featured"]],
    )
    return page, deal_form.status


def _host_step(session_id: int, service, schema, message: str):
    """Run one console action from its form; back to the console with what happened."""
    actor = current_actor()
    form = Form(schema)
    if form.validate_on_submit() and form.submit(
        lambda write: service(
            write,
            organisation_id=actor.organisation_id,
            actor_id=actor.user_id,
            session_id=session_id,
            **form.data,
        )
    ):
        flash(message, "success")
    return _back_with_problems(form, "live.console", session_id)


def _back_with_problems(form: Form, endpoint: str, session_id: int):
    """Back to the page the button was on, which says what was wrong."""
    form.flash_problems()
    return redirect(url_for(endpoint, session_id=session_id))


@bp.route("/live/<int:session_id>/status", methods=["POST"])
@requires(HOSTS)
def change_status(session_id: int):
    """Go live, pause, resume or end."""
    told = STATUS_MESSAGES.get(request.form.get("status", ""), "")
    return _host_step(session_id, services.change_status, StatusSchema(), _(told) if told else "")


@bp.route("/live/<int:session_id>/announce", methods=["POST"])
@requires(HOSTS)
def announce(session_id: int):
    """Announce the session: viewers see it, and its time is fixed."""
    return _host_step(
        session_id,
        services.announce_session,
        _Empty(),
        _("Announced: viewers can find and follow the session now."),
    )


@bp.route("/live/<int:session_id>/pin", methods=["POST"])
@requires(HOSTS)
def pin(session_id: int):
    """Pin a listing on every viewer's screen, or take the pin down."""
    return _host_step(session_id, services.pin_listing, PinSchema(), _("Pinned for every viewer."))


@bp.route("/live/<int:session_id>/deals", methods=["POST"])
@requires(HOSTS)
def start_deal(session_id: int):
    """Start a flash deal from the console's form; a refused form comes back with its errors."""
    actor = current_actor()
    form = Form(StartDealSchema())
    if form.validate_on_submit():
        data = dict(form.data)
        deal = form.submit(
            lambda write: deals.start_deal(
                write,
                organisation_id=actor.organisation_id,
                actor_id=actor.user_id,
                session_id=session_id,
                price_fen=data.pop("price_yuan"),
                lookback_days=current_app.config["LIVE_PRICE_LOOKBACK_DAYS"],
                **data,
            )
        )
        if deal is not None:
            flash(_("Deal announced; it opens when the countdown ends."), "success")
            return redirect(url_for("live.console", session_id=session_id))
    live = services.own_session(get_session(), session_id, actor.organisation_id)
    return _console_page(live, form)


@bp.route("/live/deals/<int:deal_id>/end", methods=["POST"])
@requires(HOSTS)
def end_deal(deal_id: int):
    """End a deal early; its unsold stock goes back on the listing."""
    actor = current_actor()
    with transaction() as write:
        deal = deals.end_deal(
            write, organisation_id=actor.organisation_id, actor_id=actor.user_id, deal_id=deal_id
        )
        session_id = deal.live_session_id
    flash(_("Deal ended; what it did not sell is back on the listing."), "success")
    return redirect(url_for("live.console", session_id=session_id))


@bp.route("/live/<int:session_id>/report")
@requires(HOSTS)
def report(session_id: int):
    """The seller's report: viewers, orders, sales and conversion, per item and per deal, with charts."""
    reads = get_session()
    live = services.own_session(reads, session_id, current_actor().organisation_id)
    return render_template("live/report.html", report=queries.report(reads, live), now=utcnow())
