"""Order contracts (订单农业): the contract, each proposed version of its terms, signatures, instalments,
breaches and force-majeure claims.

Terms live in versions as JSON (see terms.py), so a counter-proposal is a new row and two versions compare
field by field; a signature keeps the SHA-256 of the exact terms it signed. Once both sides sign the latest
version the contract is active and its schedule becomes instalment rows, each ordered exactly once.
"""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Organisation, User
from app.catalog.models import Listing
from app.db import Base, BigId, utcnow
from app.i18n import N_
from app.uploads import Upload


class ContractStatus(StrEnum):
    draft = "draft"  # the proposer's first terms, not yet sent
    negotiating = "negotiating"  # sent: the other side may counter or sign
    active = "active"  # both signed the latest version: instalments are ordered on schedule
    completed = "completed"  # every instalment accepted or excused; the deposit went back
    expired = "expired"  # past its last delivery with instalments missed and no breach recorded
    breached = "breached"  # one side defaulted: deposit or penalty applied
    terminated = "terminated"  # withdrawn before both signed


class InstalmentStatus(StrEnum):
    scheduled = "scheduled"  # not ordered yet
    ordered = "ordered"  # its order exists (see the order for delivery and acceptance)
    missed = "missed"  # its day passed undelivered
    excused = "excused"  # force majeure accepted by the buyer


class ClaimStatus(StrEnum):
    claimed = "claimed"
    accepted = "accepted"
    rejected = "rejected"


class Remedy(StrEnum):
    deposit = (
        "deposit"  # 定金 rules: a defaulting payer loses it, a defaulting recipient returns double
    )
    penalty = "penalty"  # 违约金: the defaulting side pays the agreed share of the value


OPEN = frozenset({ContractStatus.draft, ContractStatus.negotiating})
SETTLED = frozenset({ContractStatus.completed, ContractStatus.expired, ContractStatus.breached})


class Contract(Base):
    __tablename__ = "contracts"

    id: Mapped[int] = mapped_column(primary_key=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id"))  # product, grade and unit
    title: Mapped[str] = mapped_column(String(120))
    status: Mapped[ContractStatus] = mapped_column(default=ContractStatus.draft, index=True)
    drafted_by_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    activated_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    deposit_fen: Mapped[int] = mapped_column(BigInteger, default=0)  # held while active
    signed_version_number: Mapped[int | None]  # once active: the version both signed (the terms)

    buyer: Mapped[Organisation] = relationship(foreign_keys=[buyer_id])
    seller: Mapped[Organisation] = relationship(foreign_keys=[seller_id])
    drafted_by_org: Mapped[Organisation] = relationship(foreign_keys=[drafted_by_org_id])
    listing: Mapped[Listing] = relationship()
    versions: Mapped[list["ContractVersion"]] = relationship(
        back_populates="contract", order_by="ContractVersion.number"
    )
    instalments: Mapped[list["Instalment"]] = relationship(
        back_populates="contract", order_by="Instalment.number"
    )
    breach: Mapped["Breach | None"] = relationship(back_populates="contract")
    claims: Mapped[list["ForceMajeureClaim"]] = relationship(
        back_populates="contract", order_by="ForceMajeureClaim.id"
    )

    def party(self, organisation_id: int) -> str | None:
        """ "buyer", "seller" or None: which side `organisation_id` is on."""
        if organisation_id == self.buyer_id:
            return "buyer"
        if organisation_id == self.seller_id:
            return "seller"
        return None

    def visible_to(self, organisation_id: int) -> bool:
        """The two parties see a contract; a draft only its drafter, until it is sent."""
        if self.status == ContractStatus.draft:
            return organisation_id == self.drafted_by_org_id
        return self.party(organisation_id) is not None

    def other_side(self, organisation_id: int) -> int:
        return self.seller_id if organisation_id == self.buyer_id else self.buyer_id

    @property
    def latest(self) -> "ContractVersion":
        return self.versions[-1]

    @property
    def signed_version(self) -> "ContractVersion | None":
        if self.signed_version_number is None:
            return None
        return self.versions[self.signed_version_number - 1]


class ContractVersion(Base):
    __tablename__ = "contract_versions"
    __table_args__ = (UniqueConstraint("contract_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"))
    number: Mapped[int]
    terms: Mapped[dict] = mapped_column(JSON)
    terms_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of the canonical JSON of `terms`
    proposed_by_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    proposed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    proposed_at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str] = mapped_column(String(500), default="")

    contract: Mapped[Contract] = relationship(back_populates="versions")
    proposed_by: Mapped[User] = relationship()
    signatures: Mapped[list["Signature"]] = relationship(
        back_populates="version", order_by="Signature.signed_at"
    )


class Signature(Base):
    __tablename__ = "contract_signatures"
    __table_args__ = (UniqueConstraint("version_id", "organisation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("contract_versions.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    terms_hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(default=utcnow)

    version: Mapped[ContractVersion] = relationship(back_populates="signatures")
    organisation: Mapped[Organisation] = relationship()
    user: Mapped[User] = relationship()


class Instalment(Base):
    __tablename__ = "contract_instalments"
    __table_args__ = (UniqueConstraint("contract_id", "number"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"))
    number: Mapped[int]
    due_on: Mapped[date]
    order_from: Mapped[date] = mapped_column(index=True)  # its order is made from this day on
    quantity: Mapped[int]
    status: Mapped[InstalmentStatus] = mapped_column(default=InstalmentStatus.scheduled, index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), unique=True)
    price_fen: Mapped[int | None]  # per unit, fixed when the order was made
    price_source: Mapped[str] = mapped_column(String(200), default="")  # how that price was found
    problem: Mapped[str] = mapped_column(String(300), default="")  # why it could not be ordered yet
    reminded_at: Mapped[datetime | None]
    settled_at: Mapped[datetime | None]  # missed or excused

    contract: Mapped[Contract] = relationship(back_populates="instalments")


class Breach(Base):
    __tablename__ = "contract_breaches"

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), unique=True)
    defaulting_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    remedy: Mapped[Remedy | None]
    reason: Mapped[str] = mapped_column(Text)
    paid_fen: Mapped[int] = mapped_column(BigInteger, default=0)  # moved to the wronged side
    owed_fen: Mapped[int] = mapped_column(BigInteger, default=0)  # still owed: for mediation
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    contract: Mapped[Contract] = relationship(back_populates="breach")
    defaulting_org: Mapped[Organisation] = relationship()


class ForceMajeureClaim(Base):
    __tablename__ = "force_majeure_claims"

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    instalment_id: Mapped[int] = mapped_column(ForeignKey("contract_instalments.id"))
    reason: Mapped[str] = mapped_column(Text)
    evidence_id: Mapped[int | None] = mapped_column(ForeignKey("uploads.id"))
    status: Mapped[ClaimStatus] = mapped_column(default=ClaimStatus.claimed)
    claimed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    answer: Mapped[str] = mapped_column(String(500), default="")

    contract: Mapped[Contract] = relationship(back_populates="claims")
    instalment: Mapped[Instalment] = relationship()
    evidence: Mapped[Upload | None] = relationship()


STATUS_LABELS = {
    ContractStatus.draft: N_("draft"),
    ContractStatus.negotiating: N_("negotiating"),
    ContractStatus.active: N_("active"),
    ContractStatus.completed: N_("completed"),
    ContractStatus.expired: N_("expired"),
    ContractStatus.breached: N_("breached"),
    ContractStatus.terminated: N_("terminated"),
}
INSTALMENT_LABELS = {
    InstalmentStatus.scheduled: N_("scheduled"),
    InstalmentStatus.ordered: N_("orders made"),
    InstalmentStatus.missed: N_("missed"),
    InstalmentStatus.excused: N_("excused (force majeure)"),
}
CLAIM_LABELS = {
    ClaimStatus.claimed: N_("awaiting the buyer"),
    ClaimStatus.accepted: N_("accepted"),
    ClaimStatus.rejected: N_("rejected"),
}
