"""Site-wide pages: the front page, each role's dashboard, the API documentation, a health check, and the
scheduler's job runs for admins."""

from flask import Blueprint, current_app, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select, text

from app.auth import MEMBER, PLATFORM_ADMIN, PUBLIC, SIGNED_IN, current_actor, requires
from app.dashboards.notices import notices_for
from app.dashboards.panels import panels_for
from app.db import get_session
from app.i18n import N_
from app.jobs import JobRun, Outcome
from app.scheduler import all_jobs

bp = Blueprint("dashboards", __name__)


@bp.get("/")
@requires(PUBLIC)
def home():
    """What AgriLink is, with the way in; signed-in people go straight to their dashboard."""
    if current_user.is_authenticated:
        return redirect(url_for("dashboards.dashboard"))
    return render_template("dashboards/home.html")


@bp.get("/dashboard")
@requires(SIGNED_IN)
def dashboard():
    """The signed-in person's dashboard, made for their organisation and role."""
    actor = current_actor()
    return render_template(
        "dashboards/dashboard.html",
        panels=panels_for(get_session(), actor),
        memberships=sorted(current_user.memberships, key=lambda m: m.id),
    )


@bp.get("/api/v1/docs")
@requires(PUBLIC)
def api_docs():
    """Readable documentation of the JSON API, from its OpenAPI document."""
    return render_template("dashboards/api_docs.html")


@bp.get("/healthz")
@requires(PUBLIC)
def health():
    """For load balancers: the app answers and its database does too."""
    get_session().execute(text("SELECT 1"))
    return {"status": "ok", "version": current_app.config["API_VERSION"]}


_OUTCOMES = {
    Outcome.running: N_("running"),
    Outcome.succeeded: N_("succeeded"),
    Outcome.failed: N_("ended with an error"),
}


@bp.app_template_global()
def job_outcome_label(outcome: str) -> str:
    return _(_OUTCOMES[outcome])


@bp.get("/admin/jobs")
@requires(PLATFORM_ADMIN)
def job_runs():
    """Every scheduled job with its schedule, and the latest runs: start, end, outcome, counts."""
    runs = get_session().scalars(select(JobRun).order_by(JobRun.id.desc()).limit(200)).all()
    return render_template("dashboards/jobs.html", jobs=all_jobs(), runs=runs)


@bp.get("/notices")
@requires(MEMBER)
def notices():
    """What the organisation should know of the last two weeks: deliveries due, late trucks, refusals."""
    found = notices_for(get_session(), current_actor().organisation_id)
    return render_template("dashboards/notices.html", notices=found)
