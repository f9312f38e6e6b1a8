"""Two schedulers making standing orders' orders at once, as separate processes. Runs on SQLite and, with
TEST_DATABASE_URL, on PostgreSQL."""

import os
import subprocess
import sys
from datetime import time, timedelta
from pathlib import Path

from sqlalchemy import func, select

from app import create_app
from app.accounts.models import User
from app.auth import OrgKind
from app.catalog.models import Listing, ListingStatus
from app.db import get_session, local_date, transaction, utcnow
from app.logistics import services, standing
from app.logistics.models import RunStatus, StandingDelivery
from app.models import migrate
from app.orders.cli import problems
from app.orders.models import Order
from app.payments.services import confirm_bank_transfer
from config import TestConfig
from tests.factories.accounts import password_hash
from tests.orders.test_races import _organisation

ROOT = Path(__file__).resolve().parents[2]


def test_two_schedulers_at_once_make_each_days_orders_once(empty_database_url):
    app = create_app(TestConfig, {"DATABASE_URL": empty_database_url})
    migrate(app.extensions["agrilink.db"])
    with app.app_context(), transaction() as session:
        coop = _organisation(1, OrgKind.cooperative, "两路口蔬菜合作社")
        user = User(name="张丽", phone="13900000001", password_hash=password_hash())
        session.add(coop)
        session.add(user)
        session.flush()  # the listing and the schools name them
        listing = Listing(
            organisation_id=coop.id,
            product_id=7,
            category_id=6,
            grade_id=8,
            title="大白菜 一级",
            unit_code="kg",
            price_fen=240,
            price_per_kg_fen=240,
            quantity=1_000_000,
            status=ListingStatus.active,
        )
        session.add(listing)
        session.flush()  # the standing orders name it
        for n in range(2, 22):
            school = _organisation(n, OrgKind.school, f"第{n}小学")
            session.add(school)
            session.flush()  # its wallet and its point name it
            confirm_bank_transfer(
                session,
                actor_id=user.id,
                organisation_id=school.id,
                reference=f"RACE-{n}",
                amount_fen=10_000_000,
                received_on=local_date(utcnow()),
            )
            point = services.save_delivery_point(
                session,
                organisation_id=school.id,
                name="食堂",
                address="",
                latitude=27.77,
                longitude=107.48,
                window_start=time(6),
                window_end=time(6, 30),
            )
            standing.create_standing_order(
                session,
                buyer_id=school.id,
                buyer_kind=school.kind,
                actor_id=user.id,
                delivery_point_id=point.id,
                weekdays="1234567",
                window_start=time(6),
                window_end=time(6, 30),
                starts_on=local_date(utcnow()),
                days_ahead=3,
                lines=[{"listing_id": listing.id, "quantity": 30}],
            )
    environment = {**os.environ, "DATABASE_URL": empty_database_url, "FLASK_APP": "wsgi"}
    command = [
        str(Path(sys.executable).parent / "flask"),
        "jobs",
        "run",
        "logistics.order_standing",
    ]
    runs = [
        subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.PIPE)  # noqa: S603 - our own CLI
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=180)[0].decode() for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    with app.app_context():
        reads = get_session()
        days = reads.scalars(select(StandingDelivery)).all()
        assert len(days) == 20 * 3 and {day.status for day in days} == {RunStatus.ordered}
        assert reads.scalar(select(func.count()).select_from(Order)) == 60
        delivered_on = {day for (day,) in reads.execute(select(Order.delivery_date).distinct())}
        today = local_date(utcnow())
        assert delivered_on == {today + timedelta(days=n) for n in (1, 2, 3)}
        assert problems(reads) == []
    app.extensions["agrilink.db"].dispose()
