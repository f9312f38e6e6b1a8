"""The one scheduler's record of job runs: what each run did, shown to admins, and forgotten after two weeks."""

from datetime import timedelta

from sqlalchemy import select

from app.auth import OrgKind, Role
from app.db import utcnow
from app.jobs import JobRun
from app.scheduler import prune_runs, run_job
from tests.factories import member
from tests.helpers import sign_in


def test_the_admin_jobs_page_shows_each_run_with_its_counts(app, client, session):
    admin = member(kind=OrgKind.platform, role=Role.admin)
    session.flush()
    run_job(app, "contracts.order_instalments", by="operator")
    sign_in(client, admin.user, admin.organisation, language="en")
    page = client.get("/admin/jobs").get_data(as_text=True)
    assert "contracts.order_instalments" in page and "succeeded" in page and "ordered 0" in page


def test_job_runs_older_than_two_weeks_are_forgotten(app, session):
    session.add_all(
        [
            JobRun(job="catalog.check_imports", started_at=utcnow() - timedelta(days=15)),
            JobRun(job="catalog.check_imports", started_at=utcnow() - timedelta(days=1)),
        ]
    )
    session.flush()
    with app.app_context():
        assert prune_runs() == {"removed": 1}
    left = session.scalars(select(JobRun.started_at)).all()
    assert len(left) == 1
