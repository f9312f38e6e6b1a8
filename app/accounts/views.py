"""Pages for a person: sign in and out, register an organisation, profile, password, API tokens."""

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from app.accounts import identity, organisations, people, queries
from app.accounts import tokens as api_tokens
from app.accounts.identity import ORGANISATION_KEY, current_membership
from app.accounts.models import User
from app.accounts.schemas import (
    ChangePasswordSchema,
    CreateTokenSchema,
    ProfileSchema,
    RegisterOrganisationSchema,
    SignInSchema,
)
from app.auth import (
    MEMBER,
    PUBLIC,
    SELF_REGISTERING_KINDS,
    SIGNED_IN,
    current_actor,
    kind_label,
    requires,
)
from app.db import get_session, transaction
from app.errors import TooManyRequests
from app.forms import FORM_ERROR, Form
from app.web import back_url, safe_next

bp = Blueprint("accounts", __name__)


def start_session(
    user_id: int, *, organisation_id: int | None = None, remember: bool = False
) -> None:
    """Sign this browser in as the person, acting for `organisation_id` (else their first)."""
    user = get_session().get_one(User, user_id)
    login_user(user, remember=remember)
    session["language"] = user.language
    membership = current_membership(user, organisation_id)
    session[ORGANISATION_KEY] = membership.organisation_id if membership else None


@bp.route("/sign-in", methods=["GET", "POST"])
@requires(PUBLIC)
def sign_in():
    """Let a person in with their mobile number or email and their password."""
    form = Form(SignInSchema(), values={"next": request.args.get("next", "")})
    if not form.validate_on_submit():
        return render_template("accounts/sign_in.html", form=form), form.status
    limits = people.SignInLimits.from_config(current_app.config)
    address = request.remote_addr or ""
    try:
        outcome = form.submit(
            lambda s: people.attempt_sign_in(
                s,
                login=form.data["login"],
                password=form.data["password"],
                address=address,
                limits=limits,
            )
        )
    except TooManyRequests as paused:
        outcome = people.SignInOutcome(user=None, lockout=paused)
    if outcome is not None and outcome.user is not None:
        return _signed_in(outcome, remember=form.data["remember"], next_url=form.data["next"])
    if outcome is not None and outcome.lockout is not None:
        form.errors[FORM_ERROR] = [outcome.lockout.message]
        return render_template("accounts/sign_in.html", form=form), 429, outcome.lockout.headers
    if outcome is not None:
        form.errors[FORM_ERROR] = [
            _(
                "Wrong mobile number, email or password. %(n)d tries left before a short pause.",
                n=outcome.failures_left,
            )
        ]
    return render_template("accounts/sign_in.html", form=form), 401


def _signed_in(outcome: people.SignInOutcome, *, remember: bool, next_url: str):
    start_session(outcome.user.id, remember=remember)
    if outcome.failures_since_last_sign_in:
        flash(
            _(
                "Someone typed a wrong password for your account %(n)d times since you last signed in. "
                "If that was not you, change your password now.",
                n=outcome.failures_since_last_sign_in,
            ),
            "warning",
        )
    return redirect(safe_next(next_url) or url_for("dashboards.dashboard"))


@bp.post("/sign-out")
@requires(PUBLIC)
def sign_out():
    """End this browser's session."""
    logout_user()
    session.pop(ORGANISATION_KEY, None)
    flash(_("You have signed out."), "info")
    return redirect(url_for("dashboards.home"))


@bp.route("/register", methods=["GET", "POST"])
@requires(PUBLIC)
def register():
    """Let a cooperative, farm, enterprise, supermarket, school or trader sign up."""
    form = Form(
        RegisterOrganisationSchema(), values={"kind": request.args.get("kind", "cooperative")}
    )
    if form.validate_on_submit():
        membership = form.submit(lambda s: organisations.register_organisation(s, **form.data))
        if membership is not None:
            start_session(membership.user.id)
            flash(
                _(
                    "Welcome to AgriLink. %(org)s is registered and awaits verification by the platform; "
                    "meanwhile you can invite your team and look around.",
                    org=membership.organisation.name_zh,
                ),
                "success",
            )
            return redirect(url_for("dashboards.dashboard"))
    kinds = [(kind.value, kind_label(kind)) for kind in sorted(SELF_REGISTERING_KINDS)]
    return render_template("accounts/register.html", form=form, kinds=kinds), form.status


@bp.post("/language/<code>")
@requires(PUBLIC)
def set_language(code: str):
    """Switch every page to Chinese or English (remembered for a signed-in person)."""
    if code in current_app.config["LANGUAGES"]:
        session["language"] = code
        if current_user.is_authenticated:
            with transaction() as write:
                people.choose_language(write, user_id=current_user.id, language=code)
    return redirect(safe_next(request.form.get("next")) or back_url(url_for("dashboards.home")))


@bp.post("/organisation/switch")
@requires(MEMBER)
def switch_organisation():
    """Act for another organisation this person belongs to."""
    wanted = request.form.get("organisation_id", type=int)
    if any(m.organisation_id == wanted for m in current_user.memberships):
        session[ORGANISATION_KEY] = wanted
    return redirect(url_for("dashboards.dashboard"))


@bp.route("/account", methods=["GET", "POST"])
@requires(SIGNED_IN)
def profile():
    """A person's own name and language."""
    user = current_user
    form = Form(ProfileSchema(), values={"name": user.name, "language": user.language})
    if form.validate_on_submit() and form.submit(
        lambda s: people.update_profile(s, user_id=user.id, **form.data)
    ):
        session["language"] = form.data["language"]
        flash(_("Your profile is saved."), "success")
        return redirect(url_for("accounts.profile"))
    return _account_page(profile_form=form)


@bp.post("/account/password")
@requires(SIGNED_IN)
def change_password():
    """Set a new password; other browsers are signed out."""
    form = Form(ChangePasswordSchema())
    if form.validate_on_submit():
        user = form.submit(
            lambda s: people.change_password(s, user_id=current_user.id, **form.data)
        )
        if user is not None:
            start_session(user.id)
            flash(_("Your password is changed. Other browsers have been signed out."), "success")
            return redirect(url_for("accounts.profile"))
    return _account_page(password_form=form)


@bp.post("/account/sign-out-everywhere")
@requires(SIGNED_IN)
def sign_out_everywhere():
    """End every session of this person, in every browser, including this one."""
    revoke_tokens = request.form.get("revoke_tokens") == "true"
    with transaction() as write:
        people.sign_out_everywhere(write, user_id=current_user.id, revoke_tokens=revoke_tokens)
    identity.forget_tokens()
    logout_user()
    if revoke_tokens:
        flash(_("You are signed out on every device, and your API tokens are revoked."), "info")
    else:
        flash(
            _("You are signed out on every device. API tokens keep working until you revoke them."),
            "info",
        )
    return redirect(url_for("accounts.sign_in"))


def _account_page(*, profile_form: Form | None = None, password_form: Form | None = None):
    user = current_user
    profile_form = profile_form or Form(
        ProfileSchema(), values={"name": user.name, "language": user.language}
    )
    password_form = password_form or Form(ChangePasswordSchema())
    status = max(profile_form.status, password_form.status)
    return render_template(
        "accounts/profile.html", profile_form=profile_form, password_form=password_form
    ), status


@bp.route("/account/tokens", methods=["GET", "POST"])
@requires(SIGNED_IN)
def tokens():
    """Create and list API tokens for a system (an ERP, say) acting as this person."""
    form, secret = Form(CreateTokenSchema()), None
    if form.validate_on_submit():
        created = form.submit(
            lambda s: api_tokens.create_api_token(
                s,
                user_id=current_user.id,
                organisation_id=current_actor().organisation_id,
                **form.data,
            )
        )
        if created is not None:
            secret, form = created[1], Form(CreateTokenSchema())
    listed = queries.tokens_of(get_session(), current_user.id)
    return render_template(
        "accounts/tokens.html", form=form, tokens=listed, secret=secret
    ), form.status


@bp.post("/account/tokens/<int:token_id>/revoke")
@requires(SIGNED_IN)
def revoke_token(token_id: int):
    """Stop a token working at once."""
    with transaction() as write:
        token = api_tokens.revoke_api_token(write, actor_id=current_user.id, token_id=token_id)
    identity.forget_tokens()
    flash(
        _(
            "The token “%(name)s” is revoked; calls with it are refused from now on.",
            name=token.name,
        ),
        "success",
    )
    return redirect(url_for("accounts.tokens"))
