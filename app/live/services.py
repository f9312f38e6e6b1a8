"""Running a live session: schedule it, announce it (its time is fixed from then on), go live, pause, end,
pin one listing at a time; viewers follow it. Every step records an event under the session's channel,
which the viewers' pages follow."""

from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app import events
from app.catalog.models import Listing, ListingStatus
from app.catalog.reserves import close_reserve
from app.catalog.services import own_listing
from app.db import utcnow
from app.errors import Conflict, NotFound, PermissionDenied, RuleViolation
from app.live.cards import listing_card
from app.live.models import (
    NEXT,
    STATUS_LABELS,
    FeaturedListing,
    FlashDeal,
    Follow,
    LiveSession,
    Presence,
    SessionStatus,
    Visit,
)
from app.live.queries import viewers_now


def schedule_session(
    session: Session,
    *,
    organisation_id: int,
    actor_id: int,
    title: str,
    starts_at: datetime,
    listing_ids: list[int],
    stream_url: str = "",
    description: str = "",
    now: datetime | None = None,
) -> LiveSession:
    """Put a session on the calendar with the listings it will feature; viewers see it once announced."""
    now = now or utcnow()
    if starts_at <= now:
        raise RuleViolation(
            _("A session is scheduled for a time still to come."), field="starts_at"
        )
    live = LiveSession(
        organisation_id=organisation_id,
        host_id=actor_id,
        title=title,
        starts_at=starts_at,
        stream_url=stream_url,
        description=description,
        created_at=now,
    )
    _feature(session, live, listing_ids)
    session.add(live)
    session.flush()  # the session's id names its channel
    _record(session, "live.scheduled", live, actor_id, now, title=title)
    return live


def update_session(
    session: Session,
    *,
    organisation_id: int,
    actor_id: int,
    session_id: int,
    now: datetime | None = None,
    **changes,
) -> LiveSession:
    """Change a session's title, description, links, featured listings, or (until announced) its time."""
    now = now or utcnow()
    live = own_session(session, session_id, organisation_id)
    if live.status == SessionStatus.ended and set(changes) - {"replay_url"}:
        raise Conflict(_("This session has ended; only its replay link can still change."))
    starts_at = changes.pop("starts_at", None)
    if starts_at is not None and starts_at != live.starts_at:
        if live.announced_at is not None:
            raise RuleViolation(
                _("The session was announced; its time is fixed. End it and schedule another."),
                field="starts_at",
            )
        if starts_at <= now:
            raise RuleViolation(
                _("A session is scheduled for a time still to come."), field="starts_at"
            )
        live.starts_at = starts_at
    if "listing_ids" in changes:
        _feature(session, live, changes.pop("listing_ids"))
    for name, value in changes.items():
        setattr(live, name, value)
    _record(session, "live.updated", live, actor_id, now, title=live.title)
    return live


def _feature(session: Session, live: LiveSession, listing_ids: list[int]) -> None:
    """The listings to feature, in this order: the seller's own, and not drafts."""
    if not listing_ids:
        raise RuleViolation(_("Feature at least one listing."), field="listing_ids")
    found = {
        listing.id: listing
        for listing in session.scalars(select(Listing).where(Listing.id.in_(listing_ids)))
    }
    for listing_id in dict.fromkeys(listing_ids):
        listing = found.get(listing_id)
        if listing is None or listing.organisation_id != live.organisation_id:
            raise RuleViolation(
                _("Listing %(id)s is not one of yours.", id=listing_id), field="listing_ids"
            )
        if listing.status == ListingStatus.draft:
            raise RuleViolation(
                _("“%(title)s” is a draft; put it on sale first.", title=listing.title),
                field="listing_ids",
            )
    live.featured = [
        FeaturedListing(listing_id=listing_id, position=position)
        for position, listing_id in enumerate(dict.fromkeys(listing_ids))
    ]


def announce_session(
    session: Session, *, organisation_id: int, actor_id: int, session_id: int, now=None
) -> LiveSession:
    """Make the session public: viewers find and follow it, and its time no longer changes."""
    now = now or utcnow()
    live = own_session(session, session_id, organisation_id)
    if live.announced_at is None:
        live.announced_at = now
        _record(
            session, "live.announced", live, actor_id, now, starts_at=live.starts_at.isoformat()
        )
    return live


def change_status(
    session: Session,
    *,
    organisation_id: int,
    actor_id: int,
    session_id: int,
    status: SessionStatus,
    now: datetime | None = None,
) -> LiveSession:
    """Go live, pause, resume or end (ending closes its deals, their unsold stock back on the listings)."""
    now = now or utcnow()
    live = own_session(session, session_id, organisation_id, lock=True)
    if status not in NEXT.get(live.status, ()):
        raise Conflict(
            _(
                "The session is %(now)s; it cannot become %(next)s.",
                now=_(STATUS_LABELS[live.status]),
                next=_(STATUS_LABELS[status]),
            ),
            field="status",
        )
    if status == SessionStatus.live and live.announced_at is None:
        live.announced_at = now
    live.status = status
    if status == SessionStatus.live and live.went_live_at is None:
        live.went_live_at = now
    if status == SessionStatus.ended:
        for deal in live.deals:
            close_deal(session, deal, actor_id=actor_id, now=now)
        live.ended_at, live.pinned_listing_id = now, None
    _record(session, "live.status", live, actor_id, now, status=str(status))
    return live


def pin_listing(
    session: Session,
    *,
    organisation_id: int,
    actor_id: int,
    session_id: int,
    listing_id: int | None,
    now: datetime | None = None,
) -> LiveSession:
    """Show one listing on every viewer's screen (None takes the pin down); it joins the featured list."""
    now = now or utcnow()
    live = own_session(session, session_id, organisation_id, lock=True)
    if not live.is_open:
        raise Conflict(_("Pin listings while the session is live."), field="listing_id")
    if listing_id is None:
        live.pinned_listing_id = None
        _record(session, "live.pinned", live, actor_id, now, listing=None)
        return live
    listing = own_listing(session, organisation_id, listing_id)
    if listing.status == ListingStatus.draft:
        raise RuleViolation(_("Put the listing on sale before pinning it."), field="listing_id")
    if all(featured.listing_id != listing.id for featured in live.featured):
        live.featured.append(FeaturedListing(listing_id=listing.id, position=len(live.featured)))
    live.pinned_listing_id = listing.id
    _record(session, "live.pinned", live, actor_id, now, listing=listing_card(listing))
    return live


def follow_session(session: Session, *, user_id: int, session_id: int, following: bool) -> None:
    """Follow a session (to find it again and hear when it goes live), or stop following it."""
    live = public_session(session, session_id)
    if not following:
        session.execute(
            delete(Follow).where(Follow.live_session_id == live.id, Follow.user_id == user_id)
        )
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(
        dialect.insert(Follow)
        .values(live_session_id=live.id, user_id=user_id, created_at=utcnow())
        .on_conflict_do_nothing()
    )


def close_deal(session: Session, deal: FlashDeal, *, actor_id: int | None, now: datetime) -> None:
    """End a deal (if it has not ended): what it did not sell goes back on the listing."""
    session.refresh(deal, with_for_update=True)  # the host and the scheduler may end it at once
    if deal.ended_at is not None:
        return
    deal.ended_at = min(now, deal.closes_at)
    returned = close_reserve(session, reserve_id=deal.reserve_id, actor_id=actor_id, now=now)
    _record(
        session,
        "live.deal_ended",
        deal.live_session,
        actor_id,
        now,
        deal_id=deal.id,
        returned=returned,
    )


def own_session(
    session: Session, session_id: int, organisation_id: int, *, lock: bool = False
) -> LiveSession:
    """A session its seller runs (another seller's is refused, not hidden)."""
    live = session.get(LiveSession, session_id, with_for_update=lock)
    if live is None:
        raise NotFound(_("Live session %(id)s does not exist.", id=session_id))
    if live.organisation_id != organisation_id:
        raise PermissionDenied(_("Only the seller running this session can do that."))
    return live


def public_session(session: Session, session_id: int) -> LiveSession:
    """A session viewers may see: announced (or already live)."""
    live = session.get(LiveSession, session_id)
    if live is None or live.announced_at is None:
        raise NotFound(_("Live session %(id)s does not exist.", id=session_id))
    return live


def _record(session, kind: str, live: LiveSession, actor_id, now, /, **payload) -> None:
    events.record(
        session,
        kind,
        organisation_id=live.organisation_id,
        actor_id=actor_id,
        subject=live.channel,
        payload={"session_id": live.id, **payload},
        now=now,
    )


def note_visit(session: Session, *, session_id: int, visitor: str, now=None) -> None:
    """Count someone who opened the session's page, once however often they come back."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(
        dialect.insert(Visit)
        .values(live_session_id=session_id, visitor=visitor[:64], first_seen=now or utcnow())
        .on_conflict_do_nothing()
    )


def report_presence(
    session: Session, *, process: str, viewers: dict[int, int], now: datetime | None = None
) -> None:
    """One web process says how many viewers it streams each session to; peaks follow the sums."""
    now = now or utcnow()
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    for session_id, count in sorted(viewers.items()):
        statement = dialect.insert(Presence).values(
            live_session_id=session_id, process=process, viewers=count, seen_at=now
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["live_session_id", "process"],
                set_={"viewers": count, "seen_at": now},
            )
        )
        total = viewers_now(session, session_id, now)
        session.execute(
            update(LiveSession)
            .where(LiveSession.id == session_id, LiveSession.peak_viewers < total)
            .values(peak_viewers=total)
            .execution_options(synchronize_session=False)
        )
