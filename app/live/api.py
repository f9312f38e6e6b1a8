"""JSON API for live commerce: sessions (schedule, announce, go live, pause, end), pins, flash deals, one-tap
buying, the seller's report, and the live event streams (server-sent events)."""

import time

from flask import Response, current_app, request

from app import events
from app.auth import BUYERS, HOSTS, PUBLIC, SIGNED_IN, current_actor, requires
from app.db import current_database, get_session, transaction, utcnow
from app.events import Cursor
from app.live import buying, deals, queries, services
from app.live.models import LiveSession
from app.live.schemas import (
    BuySchema,
    DealCardSchema,
    FiguresSchema,
    PinSchema,
    ReportSchema,
    ScheduleSessionSchema,
    SessionListSchema,
    SessionSchema,
    StartDealSchema,
    StateSchema,
    StatusSchema,
    UpdateSessionSchema,
)
from app.live.stream import hub_of, named_frame
from app.orders import queries as order_queries
from app.orders.api import IDEMPOTENCY_KEY, idempotency_key
from app.orders.schemas import CheckoutSchema
from app.web import ApiBlueprint

blp = ApiBlueprint(
    "live_api",
    __name__,
    url_prefix="/api/v1/live",
    description="Live commerce (直播带货): sessions, pinned listings, flash deals, live events, reports.",
)
_STREAM = {
    "description": "Server-sent events: `state` first (unless resuming), then `pin`, `deal`, `stock`, "
    "`deal_ended`, `status`, `sale`, `session` as they happen. Each frame's id is a cursor: reconnect "
    "with `Last-Event-ID` (or `?after=`) to get what was missed.",
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}


def _run(service, session_id: int, **values):
    """Run a host's step on the session as the signed-in seller; the session as it stands after."""
    actor = current_actor()
    with transaction() as write:
        service(
            write,
            organisation_id=actor.organisation_id,
            actor_id=actor.user_id,
            session_id=session_id,
            **values,
        )
    return services.own_session(get_session(), session_id, actor.organisation_id)


@blp.route("/sessions", methods=["GET"])
@blp.response(200, SessionListSchema)
@requires(PUBLIC)
def index():
    """Announced sessions: live now, coming up, and recently ended."""
    return queries.sessions_for_viewers(get_session(), utcnow())


@blp.route("/sessions", methods=["POST"])
@blp.arguments(ScheduleSessionSchema)
@blp.response(201, SessionSchema)
@requires(HOSTS)
def create(data):
    """Schedule a session with the listings it will feature (announce it to make it public)."""
    actor = current_actor()
    with transaction() as write:
        live = services.schedule_session(
            write, organisation_id=actor.organisation_id, actor_id=actor.user_id, **data
        )
    return services.own_session(get_session(), live.id, actor.organisation_id)


@blp.route("/sessions/<int:session_id>", methods=["GET"])
@blp.response(200, StateSchema)
@requires(PUBLIC)
def detail(session_id: int):
    """What a viewer sees now: the session, the pinned listing, the featured ones, the deals."""
    reads = get_session()
    cursor = events.latest_cursor(reads)  # first, so no change is missed between the two
    live = services.public_session(reads, session_id)
    return {**queries.state(reads, live, utcnow()), "cursor": str(cursor)}


@blp.route("/sessions/<int:session_id>", methods=["PATCH"])
@blp.arguments(UpdateSessionSchema)
@blp.response(200, SessionSchema)
@requires(HOSTS)
def update(data, session_id: int):
    """Change a session; its time only until it is announced."""
    return _run(services.update_session, session_id, **data)


@blp.route("/sessions/<int:session_id>/announce", methods=["POST"])
@blp.response(200, SessionSchema)
@requires(HOSTS)
def announce(session_id: int):
    """Make the session public; its time is fixed from now on."""
    return _run(services.announce_session, session_id)


@blp.route("/sessions/<int:session_id>/status", methods=["POST"])
@blp.arguments(StatusSchema)
@blp.response(200, SessionSchema)
@requires(HOSTS)
def change_status(data, session_id: int):
    """Go live, pause, resume (live again) or end the session."""
    return _run(services.change_status, session_id, **data)


@blp.route("/sessions/<int:session_id>/pin", methods=["POST"])
@blp.arguments(PinSchema)
@blp.response(200, SessionSchema)
@requires(HOSTS)
def pin(data, session_id: int):
    """Pin a listing on every viewer's screen (null takes it down)."""
    return _run(services.pin_listing, session_id, **data)


@blp.route("/sessions/<int:session_id>/deals", methods=["POST"])
@blp.arguments(StartDealSchema)
@blp.response(201, DealCardSchema)
@requires(HOSTS)
def start_deal(data, session_id: int):
    """Start a flash deal: its stock is set aside now and it opens when the countdown ends."""
    actor = current_actor()
    with transaction() as write:
        deal = deals.start_deal(
            write,
            organisation_id=actor.organisation_id,
            actor_id=actor.user_id,
            session_id=session_id,
            price_fen=data.pop("price_yuan"),
            lookback_days=current_app.config["LIVE_PRICE_LOOKBACK_DAYS"],
            **data,
        )
        return queries.deal_state(deal, utcnow())


@blp.route("/deals/<int:deal_id>/end", methods=["POST"])
@blp.response(200, DealCardSchema)
@requires(HOSTS)
def end_deal(deal_id: int):
    """End a deal early; what it did not sell goes back on the listing."""
    actor = current_actor()
    with transaction() as write:
        deal = deals.end_deal(
            write, organisation_id=actor.organisation_id, actor_id=actor.user_id, deal_id=deal_id
        )
        return queries.deal_state(deal, utcnow())


@blp.route("/sessions/<int:session_id>/follow", methods=["PUT", "DELETE"])
@blp.response(204)
@requires(SIGNED_IN)
def follow(session_id: int):
    """Follow a session (PUT) or stop following it (DELETE)."""
    with transaction() as write:
        services.follow_session(
            write,
            user_id=current_actor().user_id,
            session_id=session_id,
            following=request.method == "PUT",
        )


@blp.route("/sessions/<int:session_id>/orders", methods=["POST"])
@blp.doc(parameters=[IDEMPOTENCY_KEY])
@blp.arguments(BuySchema)
@blp.response(201, CheckoutSchema)
@blp.alt_response(200, schema=CheckoutSchema, description="A replay of an Idempotency-Key.")
@requires(BUYERS)
def buy(data, session_id: int):
    """Buy in one tap: from a flash deal (its price, its stock, its limit) or a featured listing."""
    actor = current_actor()
    with transaction() as write:
        placed = buying.buy(
            write,
            session_id=session_id,
            buyer_id=actor.organisation_id,
            buyer_kind=actor.kind,
            actor_id=actor.user_id,
            idempotency_key=idempotency_key(),
            unpaid_minutes=current_app.config["LIVE_UNPAID_MINUTES"],
            **data,
        )
    orders = order_queries.checkout_orders(get_session(), placed.checkout_id)
    return {"id": placed.checkout_id, "orders": orders}, 200 if placed.replayed else 201


@blp.route("/sessions/<int:session_id>/figures", methods=["GET"])
@blp.response(200, FiguresSchema)
@requires(HOSTS)
def figures(session_id: int):
    """The host's live figures: viewers now and at the peak, orders, sales, conversion."""
    reads = get_session()
    live = services.own_session(reads, session_id, current_actor().organisation_id)
    return queries.console_figures(reads, live, utcnow())


@blp.route("/sessions/<int:session_id>/report", methods=["GET"])
@blp.response(200, ReportSchema)
@requires(HOSTS)
def report(session_id: int):
    """The seller's report: totals, each item, each deal, and sales minute by minute."""
    reads = get_session()
    live = services.own_session(reads, session_id, current_actor().organisation_id)
    return queries.report(reads, live)


@blp.route("/sessions/<int:session_id>/events", methods=["GET"])
@blp.doc(responses={"200": _STREAM})
@requires(PUBLIC)
def stream(session_id: int):
    """The session's live events for viewers (server-sent events)."""
    return _event_stream(session_id, figures_for=None)


@blp.route("/sessions/<int:session_id>/console-events", methods=["GET"])
@blp.doc(responses={"200": _STREAM})
@requires(HOSTS)
def console_stream(session_id: int):
    """The viewers' events plus the host's `figures` (about every second while anything happens)."""
    services.own_session(get_session(), session_id, current_actor().organisation_id)
    return _event_stream(session_id, figures_for=session_id)


def _event_stream(session_id: int, *, figures_for: int | None) -> Response:
    reads = get_session()
    services.public_session(reads, session_id)
    resume = request.headers.get("Last-Event-ID") or request.args.get("after")
    first = ""
    if resume is None:  # a new viewer: everything as it stands, then what changes
        cursor = events.latest_cursor(reads)
        state = queries.state(reads, services.public_session(reads, session_id), utcnow())
        first = named_frame("state", state, cursor)
    else:
        cursor = Cursor.parse(resume)
    feed = hub_of(current_app).follow(session_id, cursor, tick=2.0 if figures_for else 15.0)
    body = _with_figures(first, feed, figures_for) if figures_for else _with_heartbeat(first, feed)
    return Response(
        body,
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _with_heartbeat(first: str, feed):
    yield first or ": live\n\n"
    for text in feed:
        yield text or ": keep-alive\n\n"


def _with_figures(first: str, feed, session_id: int):
    """The feed, and the host's figures after what changed (at most once a second)."""
    app = current_app._get_current_object()
    yield first + _figures_frame(app, session_id)
    sent_at = time.monotonic()
    for text in feed:
        if time.monotonic() - sent_at >= 1.0:
            text += _figures_frame(app, session_id)
            sent_at = time.monotonic()
        yield text or ": keep-alive\n\n"


def _figures_frame(app, session_id: int) -> str:
    with app.app_context():
        reads = current_database().read_session()
        try:
            live = reads.get(LiveSession, session_id)
            return named_frame("figures", queries.console_figures(reads, live, utcnow()))
        finally:
            reads.close()
