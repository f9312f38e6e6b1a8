"""Organisations, the people in them, and how people prove who they are."""

from datetime import datetime

from flask_babel import gettext as _
from flask_login import UserMixin
from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth import ROLES_BY_KIND, OrgKind, Role, VerificationStatus
from app.db import Base, BigId, utcnow
from app.errors import Conflict, RuleViolation

# What the platform checks against the business licence: changing it means checking again.
REAL_NAME_FIELDS = frozenset({"name_zh", "legal_representative"})


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[OrgKind]
    name_zh: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(160), default="")
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    legal_representative: Mapped[str] = mapped_column(String(60))
    contact_phone: Mapped[str] = mapped_column(String(20))
    town: Mapped[str] = mapped_column(String(60), default="")
    village: Mapped[str] = mapped_column(String(60), default="")
    address: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[VerificationStatus] = mapped_column(
        default=VerificationStatus.pending, index=True
    )
    rejection_reason: Mapped[str] = mapped_column(String(500), default="")
    reviewed_at: Mapped[datetime | None]
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    memberships: Mapped[list["Membership"]] = relationship(
        back_populates="organisation", cascade="all, delete-orphan"
    )

    def display_name(self, language: str) -> str:
        return self.name_en if language == "en" and self.name_en else self.name_zh

    def allows_role(self, role: Role) -> bool:
        return role in ROLES_BY_KIND[self.kind]

    def verify(self, *, by_user_id: int, now: datetime) -> None:
        if self.status == VerificationStatus.verified:
            raise Conflict(_("%(org)s is already verified.", org=self.name_zh))
        self.status = VerificationStatus.verified
        self.rejection_reason = ""
        self.reviewed_at, self.reviewed_by_id = now, by_user_id

    def reject(self, *, reason: str, by_user_id: int, now: datetime) -> None:
        if self.status == VerificationStatus.rejected:
            raise Conflict(_("%(org)s has already been turned down.", org=self.name_zh))
        self.status = VerificationStatus.rejected
        self.rejection_reason = reason
        self.reviewed_at, self.reviewed_by_id = now, by_user_id

    def after_details_changed(self, *, real_name_changed: bool) -> None:
        """Corrected details of a turned-down organisation go back in the queue, and so does a verified
        one whose name or legal representative changed: the admin checked the old ones."""
        if self.status == VerificationStatus.rejected or (
            real_name_changed and self.status == VerificationStatus.verified
        ):
            self.status = VerificationStatus.pending


class User(UserMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(8), default="zh_CN")
    # Part of the session cookie's user id: raising it signs the user out of every browser at once.
    session_version: Mapped[int] = mapped_column(default=1)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    memberships: Mapped[list["Membership"]] = relationship(
        back_populates="user", cascade="all, delete-orphan", foreign_keys="Membership.user_id"
    )

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def login(self) -> str:
        return self.phone or self.email or ""


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "organisation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[Role]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships", foreign_keys=[user_id])
    organisation: Mapped[Organisation] = relationship(back_populates="memberships")


class Invitation(Base):
    """A link that lets one person join an organisation with a given role, once, for a few days."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[Role]
    name: Mapped[str] = mapped_column(String(60), default="")
    contact: Mapped[str] = mapped_column(String(254))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None]

    organisation: Mapped[Organisation] = relationship()

    def state(self, now: datetime) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        return "expired" if now >= self.expires_at else "open"

    def ensure_open(self, now: datetime) -> None:
        refusals = {
            "accepted": _("This invitation has already been used."),
            "revoked": _("This invitation was withdrawn. Ask for a new one."),
            "expired": _("This invitation has expired. Ask for a new one."),
        }
        state = self.state(now)
        if state in refusals:
            raise RuleViolation(refusals[state])

    def accept(self, *, user_id: int, now: datetime) -> None:
        self.ensure_open(now)
        self.accepted_at, self.accepted_by_id = now, user_id


class ApiToken(Base):
    """A bearer token for a system acting as one member; only its digest is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(80))
    prefix: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class SignInAttempt(Base):
    """One try at a password, kept a short while to slow down guessing."""

    __tablename__ = "sign_in_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    login: Mapped[str] = mapped_column(String(254), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    succeeded: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
