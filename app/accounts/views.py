"""Sign-up, sign-in (password or emailed code), verification, password reset and account pages.

These pages answer on every host: the platform and each store share one account.
"""

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext, refresh
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, login_user

from app.accounts import otp, service, sessions, stepup, throttle
from app.accounts.forms import (
    ChangeEmailForm,
    ChangePasswordForm,
    CodeForm,
    EmailForm,
    NewPasswordForm,
    ProfileForm,
    RegisterForm,
    SignInForm,
)
from app.accounts.redirects import safe_next
from app.accounts.service import AccountError
from app.accounts.tokens import user_for_reset_token
from app.background import enqueue
from app.extensions import limiter
from app.i18n import current_language
from app.rendering import is_htmx, render_partial

bp = Blueprint("accounts", __name__, url_prefix="/account")

# Where each code flow keeps the address it is confirming, between its two pages.
FLOW_SESSION_KEYS = {
    "verify": "verify_email",
    "signin": "signin_email",
    "email_change": "email_change_to",
}


def _email_key() -> str:
    """Rate-limit key for the account a form names (normalised, so case games don't help)."""
    try:
        return "account:" + service.normalise_email(request.form.get("email", ""))
    except AccountError:
        return "account:invalid"


def _flow_key() -> str:
    purpose = request.view_args.get("purpose") if request.view_args else None
    return "flow:" + str(_flow_email(purpose) if purpose in FLOW_SESSION_KEYS else "none")


def _failed(response) -> bool:
    return response.status_code == 422


per_ip = limiter.limit("30 per 5 minutes", methods=["POST"], key_func=get_remote_address)


def _render_form(template: str, form, status: int | None = None, **context):
    """Render a form page; a submitted form with errors answers 422."""
    if status is None:
        status = 422 if request.method == "POST" and form.errors else 200
    return render_template(template, form=form, **context), status


def _field_error(form, error: AccountError, default_field: str):
    field = getattr(form, error.field or default_field, None) or getattr(form, default_field)
    field.errors = [*field.errors, error.message]


def _code_step(purpose: str, email: str, title: str, done):
    """The page where an emailed code is entered: `done(code)` acts on a submitted code and
    returns the response, or raises AccountError, which is shown on the code field."""
    form = CodeForm()
    if form.validate_on_submit():
        try:
            return done(form.code.data)
        except AccountError as exc:
            _field_error(form, exc, "code")
    return _render_form(
        "account/code.html",
        form,
        purpose=purpose,
        email=email,
        wait=otp.cooldown_left(purpose, email),
        title=title,
        action=request.path,
    )


def _flow_email(purpose: str) -> str | None:
    if purpose == "verify" and current_user.is_authenticated and not current_user.is_verified:
        return current_user.email
    return session.get(FLOW_SESSION_KEYS[purpose])


def _resend_state(purpose: str):
    """The resend button, disabled with the seconds left while the cooldown runs."""
    email = _flow_email(purpose)
    wait = otp.cooldown_left(purpose, email) if email else 0
    return render_template("account/_partials/resend.html", purpose=purpose, wait=wait)


@bp.route("/register", methods=["GET", "POST"])
@per_ip
@limiter.limit("10 per hour", methods=["POST"], key_func=get_remote_address)
def register():
    """Create an account with email and password; a code confirms the address."""
    if current_user.is_authenticated:
        return redirect(url_for("accounts.profile"))
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            email = service.register(
                form.email.data, form.password.data, form.name.data, request.remote_addr
            )
        except AccountError as exc:
            _field_error(form, exc, "email")
        except otp.OtpRefused as exc:
            flash(exc.message, "warning")
            session["verify_email"] = service.normalise_email(form.email.data)
            return redirect(url_for("accounts.verify"), code=303)
        else:
            session["verify_email"] = email
            flash(
                gettext(
                    "We sent a 6-digit code to %(email)s. Enter it below to finish.", email=email
                ),
                "info",
            )
            return redirect(url_for("accounts.verify"), code=303)
    return _render_form("account/register.html", form)


@bp.route("/verify", methods=["GET", "POST"])
@per_ip
def verify():
    """Enter the emailed code that confirms the address."""
    email = _flow_email("verify")
    if email is None:
        if current_user.is_authenticated:
            flash(gettext("Your email address is already verified."), "info")
            return redirect(url_for("accounts.profile"))
        return redirect(url_for("accounts.register"))

    def done(code: str):
        user = service.verify_email(email, code)
        session.pop("verify_email", None)
        # Always a new session: proving the address ended every one set up before it.
        held = stepup.begin_sign_in(
            user, method="verification code", next_url=url_for("accounts.profile")
        )
        if held is not None:
            return held
        flash(gettext("Your email address is verified. Welcome to Pasar!"), "success")
        return redirect(url_for("accounts.profile"), code=303)

    return _code_step("verify", email, "Check your email", done)


@bp.get("/code/<purpose>/resend")
def resend_state(purpose: str):
    """The resend control (polled once by htmx when its cooldown ends)."""
    if purpose not in FLOW_SESSION_KEYS:
        abort(404)
    return _resend_state(purpose)


@bp.post("/code/<purpose>/resend")
@per_ip
@limiter.limit("10 per hour", key_func=_flow_key)
def resend(purpose: str):
    """Send a new code for a flow in progress."""
    if purpose not in FLOW_SESSION_KEYS:
        abort(404)
    email = _flow_email(purpose)
    if email is None:
        abort(400, description=gettext("There is no code to resend. Start again."))
    try:
        if purpose == "verify":
            service.resend_verification(email, request.remote_addr)
        else:
            service.send_code(purpose, email, request.remote_addr)
    except otp.OtpRefused as exc:
        message, category = exc.message, "warning"
    else:
        message, category = f"We sent a new code to {email}.", "success"
    if is_htmx():
        return render_partial(
            "account/_partials/resend_result.html",
            message=message,
            category=category,
            purpose=purpose,
            wait=otp.cooldown_left(purpose, email),
        )
    flash(message, category)
    return redirect(url_for(f"accounts.{_flow_page(purpose)}"), code=303)


def _flow_page(purpose: str) -> str:
    return {
        "verify": "verify",
        "signin": "signin_code_verify",
        "email_change": "change_email_verify",
    }[purpose]


@bp.route("/signin", methods=["GET", "POST"])
@per_ip
def signin():
    """Sign in with email and password (wrong guesses slow down this address, not others)."""
    target = safe_next(request.values.get("next"), default=url_for("accounts.profile"))
    if current_user.is_authenticated and request.method == "GET":
        return redirect(target)
    form = SignInForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        try:
            email = service.normalise_email(form.email.data)
        except AccountError:
            email = "invalid"
        ip = request.remote_addr
        wait = throttle.wait_seconds(
            email, ip, known_source=lambda: throttle.is_known_source(email, ip)
        )
        if wait:
            return _too_many_failures(form, wait)
        try:
            user = service.authenticate(form.email.data, form.password.data)
        except service.AddressNotProven as unproven:
            throttle.record_success(email, ip)
            return _prove_address_first(unproven.user)
        if user is None:
            wait = throttle.record_failure(email, ip)
            form.password.errors = ["Email or password is incorrect."]
            if wait:
                form.password.errors.append(_wait_message(wait))
        else:
            throttle.record_success(email, ip)
            held = stepup.begin_sign_in(
                user,
                remember=form.remember.data,
                method="password",
                next_url=safe_next(form.next.data, default="/"),
            )
            if held is not None:
                return held
            flash(
                gettext("Welcome back, %(name)s!", name=user.name)
                if user.name
                else gettext("Welcome back!"),
                "success",
            )
            return redirect(safe_next(form.next.data, default="/"), code=303)
    return _render_form("account/signin.html", form)


def _wait_message(wait: int) -> str:
    return (
        f"Too many failed sign-ins. Try your password again in "
        f"{throttle.describe_wait(wait)}, or email yourself a sign-in code."
    )


def _too_many_failures(form, wait: int):
    """The sign-in page, answered 429 with how long this source must wait."""
    form.password.errors = [_wait_message(wait)]
    body, _ = _render_form("account/signin.html", form)
    return body, 429, {"Retry-After": str(wait)}


def _prove_address_first(user):
    """A right password on an account whose address isn't proven: send a code to prove it."""
    try:
        service.prove_address_to_sign_in(user, request.remote_addr)
    except otp.OtpRefused as exc:
        flash(exc.message, "warning")
    else:
        flash(
            f"Confirm your email address to finish signing in: we sent a 6-digit code to "
            f"{user.email}.",
            "info",
        )
    session["verify_email"] = user.email
    return redirect(url_for("accounts.verify"), code=303)


@bp.route("/signin/code", methods=["GET", "POST"])
@per_ip
@limiter.limit("10 per hour", methods=["POST"], key_func=_email_key)
def signin_code():
    """Ask for a sign-in code by email (the passwordless way in; it also signs up)."""
    form = EmailForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        try:
            email = service.normalise_email(form.email.data)
        except AccountError as exc:
            _field_error(form, exc, "email")
        else:
            session["signin_email"] = email
            session["signin_next"] = safe_next(form.next.data, default="/")
            try:
                service.send_code("signin", email, request.remote_addr)
            except otp.OtpRefused as exc:
                flash(exc.message, "warning")
            else:
                flash(gettext("We sent a 6-digit code to %(email)s.", email=email), "info")
            return redirect(url_for("accounts.signin_code_verify"), code=303)
    return _render_form("account/signin_code.html", form)


@bp.route("/signin/code/verify", methods=["GET", "POST"])
@per_ip
def signin_code_verify():
    """Enter the emailed sign-in code."""
    email = session.get("signin_email")
    if email is None:
        return redirect(url_for("accounts.signin_code"))

    def done(code: str):
        user = service.finish_code_sign_in(email, code)
        target = session.get("signin_next") or "/"
        held = stepup.begin_sign_in(user, method="email code", next_url=safe_next(target))
        if held is not None:
            return held
        flash(gettext("You're signed in."), "success")
        return redirect(safe_next(target), code=303)

    return _code_step("signin", email, "Enter your sign-in code", done)


@bp.post("/signout")
def signout():
    """Sign out of this browser."""
    service.sign_out()
    flash(gettext("You're signed out."), "info")
    return redirect("/", code=303)


@bp.route("/reset", methods=["GET", "POST"])
@per_ip
@limiter.limit("5 per 15 minutes", methods=["POST"], key_func=get_remote_address)
@limiter.limit("3 per hour", methods=["POST"], key_func=_email_key)
def reset_request():
    """Ask for a password-reset link; the answer is the same for every address."""
    form = EmailForm()
    if form.validate_on_submit():
        try:
            email = service.normalise_email(form.email.data)
        except AccountError as exc:
            _field_error(form, exc, "email")
        else:
            enqueue("jobs.accounts.send_password_reset", email, None, current_language())
            flash(
                f"If there is an account for {email}, we've emailed it a link to choose a "
                "new password. The link works once, for an hour.",
                "info",
            )
            return redirect(url_for("accounts.signin"), code=303)
    return _render_form("account/reset_request.html", form)


@bp.route("/reset/<token>", methods=["GET", "POST"])
@per_ip
def reset_password(token: str):
    """Choose a new password from an emailed link."""
    user = user_for_reset_token(token)
    if user is None:
        return render_template("account/reset_invalid.html"), 400
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            service.reset_password(user, form.password.data)
        except AccountError as exc:
            _field_error(form, exc, "password")
        else:
            service.sign_out()
            flash(gettext("Your password is changed. Sign in with your new password."), "success")
            return redirect(url_for("accounts.signin"), code=303)
    return _render_form("account/reset_password.html", form, token=token)


@bp.route("/", methods=["GET", "POST"])
@login_required
def profile():
    """The account's profile: name, email and security."""
    form = ProfileForm(obj=current_user)
    if form.validate_on_submit():
        try:
            # A form without the field (an older page) keeps the language as it was.
            language = form.language.data if "language" in request.form else current_user.language
            service.update_profile(current_user, form.name.data, language)
        except AccountError as exc:
            _field_error(form, exc, "name")
        else:
            refresh()  # the confirmation speaks the language just chosen
            flash(gettext("Your profile is saved."), "success")
            return redirect(url_for("accounts.profile"), code=303)
    return _render_form(
        "account/profile.html",
        form,
        user_sessions=sessions.live_sessions(current_user),
        describe_agent=sessions.describe_agent,
    )


@bp.post("/sessions/<int:session_id>/revoke")
@login_required
def revoke_session(session_id: int):
    """Sign one browser out (from the list of places you're signed in)."""
    if session_id == current_user.session_id:
        service.sign_out()
        flash(gettext("You're signed out."), "info")
        return redirect("/", code=303)
    if not service.end_session(current_user, session_id):
        abort(404)
    flash(gettext("That browser is signed out."), "success")
    return redirect(url_for("accounts.profile"), code=303)


@bp.route("/email", methods=["GET", "POST"])
@login_required
@per_ip
@limiter.limit("10 per hour", methods=["POST"], key_func=lambda: f"user:{current_user.id}")
def change_email():
    """Start changing the account's email address."""
    form = ChangeEmailForm()
    if form.validate_on_submit():
        try:
            new_email = service.start_email_change(
                current_user, form.email.data, form.password.data, request.remote_addr
            )
        except AccountError as exc:
            _field_error(form, exc, "email")
        except otp.OtpRefused as exc:
            form.email.errors = [exc.message]
        else:
            session["email_change_to"] = new_email
            flash(gettext("We sent a 6-digit code to %(email)s.", email=new_email), "info")
            return redirect(url_for("accounts.change_email_verify"), code=303)
    return _render_form("account/change_email.html", form)


@bp.route("/email/verify", methods=["GET", "POST"])
@login_required
@per_ip
def change_email_verify():
    """Confirm the new email address with its code."""
    email = session.get("email_change_to")
    if email is None:
        return redirect(url_for("accounts.change_email"))

    def done(code: str):
        service.finish_email_change(current_user, email, code)
        session.pop("email_change_to", None)
        flash(gettext("Your email address is now %(email)s.", email=email), "success")
        return redirect(url_for("accounts.profile"), code=303)

    return _code_step("email_change", email, "Confirm your new email", done)


@bp.route("/password", methods=["GET", "POST"])
@login_required
@per_ip
@limiter.limit(
    "10 per hour", methods=["POST"], key_func=lambda: f"user:{current_user.id}", deduct_when=_failed
)
def change_password():
    """Change the password (other sessions are signed out)."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            service.change_password(current_user, form.current_password.data, form.password.data)
        except AccountError as exc:
            _field_error(form, exc, "password")
        else:
            login_user(current_user._get_current_object(), fresh=True)  # keep this session
            flash(
                gettext("Your password is changed. Other devices have been signed out."), "success"
            )
            return redirect(url_for("accounts.profile"), code=303)
    return _render_form("account/change_password.html", form)


@bp.post("/signout-everywhere")
@login_required
def signout_everywhere():
    """Sign out of every browser and device, this one included."""
    service.sign_out_everywhere(current_user)
    service.sign_out()
    flash(gettext("You're signed out everywhere."), "info")
    return redirect(url_for("accounts.signin"), code=303)


# The two-factor pages join this blueprint.
from app.accounts import twofactor_views as _twofactor_views  # noqa: E402, F401
