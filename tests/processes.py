"""What tests against real processes share: a migrated database of their own, verified organisations,
members with API tokens, a listing with deep stock, money in a wallet, and a job run by two processes at
once. These write through the app's own transactions, since the processes under test see only what is
committed."""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy.orm import Session

from app import create_app
from app.accounts.identifiers import credit_code_check_character
from app.accounts.models import ApiToken, Membership, Organisation, User
from app.auth import OrgKind, Role, VerificationStatus, token_digest
from app.catalog.models import Listing, ListingStatus
from app.db import local_date, utcnow
from app.live import deals
from app.live import services as live_services
from app.live.models import SessionStatus
from app.models import migrate
from app.payments.services import confirm_bank_transfer
from config import TestConfig
from tests.factories.accounts import password_hash

ROOT = Path(__file__).resolve().parents[1]


def migrated_app(database_url: str) -> Flask:
    app = create_app(TestConfig, {"DATABASE_URL": database_url})
    migrate(app.extensions["agrilink.db"])
    return app


def organisation(session: Session, n: int, kind: OrgKind, name: str) -> Organisation:
    """A verified organisation, its credit code numbered `n`."""
    first_17 = f"93520328MA7R{n:05d}"
    found = Organisation(
        kind=kind,
        name_zh=name,
        credit_code=first_17 + credit_code_check_character(first_17),
        legal_representative="王建国",
        contact_phone="0851-24221234",
        status=VerificationStatus.verified,
    )
    session.add(found)
    session.flush()  # members, listings and wallets name it
    return found


def member_with_token(
    session: Session,
    organisation: Organisation,
    *,
    phone: str,
    secret: str,
    role: Role = Role.manager,
) -> User:
    """A person with `role` in the organisation, calling the API with the token `secret`."""
    user = User(name=f"{organisation.name_zh}的{role}", phone=phone, password_hash=password_hash())
    session.add(user)
    session.flush()  # the membership and the token name the user
    session.add(Membership(user_id=user.id, organisation_id=organisation.id, role=role))
    session.add(
        ApiToken(
            user_id=user.id,
            organisation_id=organisation.id,
            name="race",
            prefix=secret[:12],
            digest=token_digest(secret),
        )
    )
    return user


def listing(
    session: Session,
    seller: Organisation,
    *,
    stock: int,
    price_fen: int = 240,
    tea: bool = False,
    title: str = "",
) -> Listing:
    """A listing on sale: Chinese cabbage (or Meitan Cuiya) by the kg."""
    product, category, grade, name = (1, 2, 2, "湄潭翠芽 一级") if tea else (7, 6, 8, "大白菜 一级")
    found = Listing(
        organisation_id=seller.id,
        product_id=product,
        category_id=category,
        grade_id=grade,
        title=title or name,
        unit_code="kg",
        price_fen=price_fen,
        price_per_kg_fen=price_fen,
        quantity=stock,
        status=ListingStatus.active,
    )
    session.add(found)
    session.flush()  # orders, contracts and standing orders name it
    return found


def fund(session: Session, organisation: Organisation, fen: int, *, actor_id: int) -> None:
    """Money in the organisation's wallet: a bank transfer confirmed today."""
    confirm_bank_transfer(
        session,
        actor_id=actor_id,
        organisation_id=organisation.id,
        reference=f"RACE-{organisation.id}",
        amount_fen=fen,
        received_on=local_date(utcnow()),
    )


def live_deal(session: Session, *, stock: int, per_customer_limit: int) -> dict[str, int]:
    """A chili cooperative's host live with a flash deal on 1,000,000 kg of dried chili at ¥19.90 (below
    ¥30.00), `stock` units at most `per_customer_limit` each, open for 20 minutes: the ids of the session,
    the deal, the listing and the deal's reserve."""
    coop = organisation(session, 0, OrgKind.cooperative, "湄潭县辣椒合作社")
    host = member_with_token(
        session, coop, phone="13800000000", secret=f"agl_live-host-{coop.id}", role=Role.host
    )
    chili = listing(session, coop, stock=1_000_000, price_fen=3000, title="湄潭干辣椒")
    started = utcnow() - timedelta(seconds=15)  # the deal's 10-second countdown is over
    live = live_services.schedule_session(
        session,
        organisation_id=coop.id,
        actor_id=host.id,
        title="辣椒节",
        starts_at=started + timedelta(minutes=1),
        listing_ids=[chili.id],
        now=started,
    )
    live_services.change_status(
        session,
        organisation_id=coop.id,
        actor_id=host.id,
        session_id=live.id,
        status=SessionStatus.live,
        now=started,
    )
    deal = deals.start_deal(
        session,
        organisation_id=coop.id,
        actor_id=host.id,
        session_id=live.id,
        listing_id=chili.id,
        price_fen=1990,
        stock=stock,
        per_customer_limit=per_customer_limit,
        countdown_seconds=10,
        duration_minutes=20,
        now=started,
    )
    return {"session": live.id, "deal": deal.id, "listing": chili.id, "reserve": deal.reserve_id}


def run_job_twice_at_once(database_url: str, job: str, *, timeout: int = 180) -> None:
    """`flask jobs run JOB` in two processes started together; both must finish without error."""
    environment = {**os.environ, "DATABASE_URL": database_url, "FLASK_APP": "wsgi"}
    command = [str(Path(sys.executable).parent / "flask"), "jobs", "run", job]
    runs = [
        subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.PIPE)  # noqa: S603 - our own CLI
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=timeout)[0].decode() for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
