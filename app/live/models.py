"""Live sessions (直播带货): the shop beside a stream. Sessions are scheduled, go live, pause and end; the host
pins one listing at a time and runs flash deals on stock set aside from a listing; every order line sold
through a session remembers the session, the deal and the host (LiveSale)."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Organisation, User
from app.catalog.models import Listing, StockReserve
from app.db import Base, BigId, utcnow
from app.i18n import N_


class SessionStatus(StrEnum):
    scheduled = "scheduled"  # on the calendar; its time is fixed once announced
    live = "live"
    paused = "paused"  # the stream is on a break: nothing can be bought
    ended = "ended"


STATUS_LABELS = {
    SessionStatus.scheduled: N_("scheduled"),
    SessionStatus.live: N_("live now"),
    SessionStatus.paused: N_("paused"),
    SessionStatus.ended: N_("ended"),
}

# Where a session may go next.
NEXT = {
    SessionStatus.scheduled: {SessionStatus.live, SessionStatus.ended},
    SessionStatus.live: {SessionStatus.paused, SessionStatus.ended},
    SessionStatus.paused: {SessionStatus.live, SessionStatus.ended},
}


class LiveSession(Base):
    __tablename__ = "live_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    title: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    stream_url: Mapped[str] = mapped_column(String(300), default="")
    replay_url: Mapped[str] = mapped_column(String(300), default="")
    starts_at: Mapped[datetime] = mapped_column(index=True)
    announced_at: Mapped[datetime | None]  # from then on viewers see it, and its time is fixed
    status: Mapped[SessionStatus] = mapped_column(default=SessionStatus.scheduled, index=True)
    went_live_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    pinned_listing_id: Mapped[int | None] = mapped_column(ForeignKey("listings.id"))
    peak_viewers: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    seller: Mapped[Organisation] = relationship()
    host: Mapped[User] = relationship()
    pinned: Mapped[Listing | None] = relationship()
    featured: Mapped[list["FeaturedListing"]] = relationship(
        back_populates="live_session",
        order_by="FeaturedListing.position",
        cascade="all, delete-orphan",
    )
    deals: Mapped[list["FlashDeal"]] = relationship(
        back_populates="live_session", order_by="FlashDeal.id"
    )

    @property
    def channel(self) -> str:
        """The event subject of everything that happens in the session."""
        return f"live:{self.id}"

    @property
    def is_open(self) -> bool:
        return self.status in (SessionStatus.live, SessionStatus.paused)


class FeaturedListing(Base):
    """A listing the session means to show, in the host's order."""

    __tablename__ = "live_featured_listings"

    live_session_id: Mapped[int] = mapped_column(
        ForeignKey("live_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id"), primary_key=True)
    position: Mapped[int] = mapped_column(default=0)

    live_session: Mapped[LiveSession] = relationship(back_populates="featured")
    listing: Mapped[Listing] = relationship()


class DealStatus(StrEnum):
    counting = "counting"  # announced, the countdown is running
    running = "running"
    ended = "ended"


DEAL_LABELS = {
    DealStatus.counting: N_("starting soon"),
    DealStatus.running: N_("on now"),
    DealStatus.ended: N_("ended"),
}


class FlashDeal(Base):
    """A deal price on stock set aside from a listing, for a few minutes, at most so many per customer."""

    __tablename__ = "flash_deals"
    __table_args__ = (CheckConstraint("price_fen > 0", name="price_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    live_session_id: Mapped[int] = mapped_column(ForeignKey("live_sessions.id"), index=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id"), index=True)
    reserve_id: Mapped[int] = mapped_column(ForeignKey("stock_reserves.id"), unique=True)
    price_fen: Mapped[int]  # per unit
    was_fen: Mapped[int]  # the lowest price of the look-back period, which the deal undercuts
    stock: Mapped[int]
    per_customer_limit: Mapped[int]
    opens_at: Mapped[datetime]  # when the countdown ends
    closes_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime | None]  # closed (by the host, the session's end, or its time)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    live_session: Mapped[LiveSession] = relationship(back_populates="deals")
    listing: Mapped[Listing] = relationship()
    reserve: Mapped[StockReserve] = relationship()

    def status_at(self, now: datetime) -> DealStatus:
        if self.ended_at is not None or now >= self.closes_at:
            return DealStatus.ended
        return DealStatus.counting if now < self.opens_at else DealStatus.running


class Follow(Base):
    """A viewer who wants to hear when a session goes live."""

    __tablename__ = "live_follows"

    live_session_id: Mapped[int] = mapped_column(
        ForeignKey("live_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Visit(Base):
    """Someone who opened the session's page (signed in or not), counted once: conversion's denominator."""

    __tablename__ = "live_visits"

    live_session_id: Mapped[int] = mapped_column(
        ForeignKey("live_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    visitor: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)


class Presence(Base):
    """How many viewers one web process streams the session to now; their sum is the viewer count."""

    __tablename__ = "live_presence"

    live_session_id: Mapped[int] = mapped_column(
        ForeignKey("live_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    process: Mapped[str] = mapped_column(String(64), primary_key=True)
    viewers: Mapped[int]
    seen_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class LiveSale(Base):
    """Attribution: the session, deal and host an order line was sold through."""

    __tablename__ = "live_sales"

    order_line_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("order_lines.id", ondelete="CASCADE"), primary_key=True
    )
    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("orders.id"), index=True)
    live_session_id: Mapped[int] = mapped_column(ForeignKey("live_sessions.id"), index=True)
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("flash_deals.id"), index=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    buyer_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
