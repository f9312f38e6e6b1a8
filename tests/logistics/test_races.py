"""Two schedulers making standing orders' orders at once, as separate processes. Runs on SQLite and, with
TEST_DATABASE_URL, on PostgreSQL."""

from datetime import time, timedelta
from pathlib import Path

from sqlalchemy import func, select

from app.auth import OrgKind
from app.db import get_session, local_date, transaction, utcnow
from app.logistics import services, standing
from app.logistics.models import RunStatus, StandingDelivery
from app.orders.cli import problems
from app.orders.models import Order
from tests import processes

ROOT = Path(__file__).resolve().parents[2]


def test_two_schedulers_at_once_make_each_days_orders_once(empty_database_url):
    app = processes.migrated_app(empty_database_url)
    with app.app_context(), transaction() as session:
        coop = processes.organisation(session, 1, OrgKind.cooperative, "两路口蔬菜合作社")
        user = processes.member_with_token(
            session, coop, phone="13900000001", secret="agl_race-coop"
        )
        cabbage = processes.listing(session, coop, stock=1_000_000)
        for n in range(2, 22):
            school = processes.organisation(session, n, OrgKind.school, f"第{n}小学")
            processes.fund(session, school, 10_000_000, actor_id=user.id)
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
                lines=[{"listing_id": cabbage.id, "quantity": 30}],
            )
    processes.run_job_twice_at_once(empty_database_url, "logistics.order_standing")
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
