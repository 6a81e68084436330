"""Two-factor pages: the second step of sign-in, the step-up confirmation, and the account's
Security section (authenticator app, passkeys, recovery codes). Routes join the accounts
blueprint, so they answer on every host like the other account pages."""

import base64

from flask import (
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from app.accounts import console_session, otp, passkeys, service, stepup, throttle, twofactor
from app.accounts.redirects import safe_next
from app.accounts.twofactor import TooManyAttempts, TwoFactorError, has_second_factor
from app.accounts.views import bp, per_ip
from app.audit.service import record
from app.extensions import db

CHALLENGE_KEY = "2fa_challenge"


class FactorForm(FlaskForm):
    code = StringField(
        "Code from your app, or a recovery code",
        validators=[DataRequired("Enter a code."), Length(max=40)],
        render_kw={"autocomplete": "one-time-code", "autocapitalize": "off", "spellcheck": "false"},
    )
    next = HiddenField()


class PasswordConfirmForm(FlaskForm):
    password = PasswordField(
        "Your password",
        validators=[DataRequired("Enter your password.")],
        render_kw={"autocomplete": "current-password"},
    )
    next = HiddenField()


class EmailCodeConfirmForm(FlaskForm):
    code = StringField(
        "6-digit code from the email",
        validators=[DataRequired("Enter the code we emailed you."), Length(max=10)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )
    next = HiddenField()


class TotpForm(FlaskForm):
    code = StringField(
        "6-digit code from the app",
        validators=[DataRequired("Enter the code your app shows."), Length(max=10)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )
    next = HiddenField()


def _factor_passed(user, response):
    """After a right answer: remember the check, and open the console on the platform host."""
    stepup.mark_factor_verified(user)
    console_session.issue(response, user)
    return response


def _finish_sign_in(user, state: dict, method: str, *, as_json: bool = False):
    stepup.clear_pending()
    service.sign_in(user, remember=bool(state.get("r")), method=f"{state.get('m')} + {method}")
    target = safe_next(state.get("n"), default="/")
    flash(
        gettext("Welcome back, %(name)s!", name=user.name)
        if user.name
        else gettext("Welcome back!"),
        "success",
    )
    response = jsonify(redirect=target) if as_json else redirect(target, code=303)
    return _factor_passed(user, response)


def _check_typed_code(user, form) -> str | None:
    """The method a submitted code matched, or None with the error set on the form."""
    try:
        method = twofactor.check_code(user, form.code.data)
    except TwoFactorError as exc:
        form.code.errors = [exc.message]
        return None
    if method is None:
        form.code.errors = ["That code isn't right, or it was already used."]
    return method


def _status(form) -> int:
    if any("Too many" in e for e in form.code.errors):
        return 429
    return 422 if form.code.errors else 200


@bp.route("/2fa", methods=["GET", "POST"])
@per_ip
def two_factor():
    """The second step of signing in: a code from the app, a passkey or a recovery code."""
    found = stepup.pending()
    if found is None:
        flash(gettext("Your sign-in timed out. Please sign in again."), "info")
        return redirect(url_for("accounts.signin"))
    user, state = found
    form = FactorForm()
    if form.validate_on_submit():
        method = _check_typed_code(user, form)
        if method is not None:
            return _finish_sign_in(user, state, method)
    return render_template(
        "account/two_factor.html",
        form=form,
        mode="signin",
        action=url_for("accounts.two_factor"),
        has_passkeys=bool(twofactor.passkeys_of(user)),
        passkeys_here=passkeys.host_can_use_passkeys(),
    ), _status(form)


@bp.route("/2fa/confirm", methods=["GET", "POST"])
@login_required
@per_ip
def two_factor_confirm():
    """Confirm it's you before a sensitive page (step-up): the second factor, else the password,
    else an emailed code."""
    wanted = request.form.get("next") or request.args.get("next")
    target = safe_next(wanted, default=url_for("accounts.security"))
    user = current_user._get_current_object()
    if not has_second_factor(user):
        if user.password_hash:
            return _confirm_with_password(user, target)
        return _confirm_with_emailed_code(user, target)
    form = FactorForm(next=target)
    if form.validate_on_submit() and _check_typed_code(user, form) is not None:
        return _factor_passed(user, redirect(target, code=303))
    return render_template(
        "account/two_factor.html",
        form=form,
        mode="confirm",
        action=url_for("accounts.two_factor_confirm"),
        has_passkeys=bool(twofactor.passkeys_of(user)),
        passkeys_here=passkeys.host_can_use_passkeys(),
        target=target,
    ), _status(form)


def _confirm_with_password(user, target: str):
    """Sudo mode for an account without a second factor: the password again, throttled like
    sign-in (per account and source), since a stolen session cookie would be guessing it."""
    form = PasswordConfirmForm(next=target)
    status, headers = 200, {}
    if form.validate_on_submit():
        ip = request.remote_addr
        wait = throttle.wait_seconds(
            user.email, ip, known_source=lambda: throttle.is_known_source(user.email, ip)
        )
        if wait:
            form.password.errors = [_wait_message(wait)]
            status, headers = 429, {"Retry-After": str(wait)}
        elif user.check_password(form.password.data or ""):
            throttle.record_success(user.email, ip)
            return _factor_passed(user, redirect(target, code=303))
        else:
            wait = throttle.record_failure(user.email, ip)
            record("reauth.failed", actor=user, target=user, method="password")
            db.session.commit()
            form.password.errors = ["That password isn't right."]
            if wait:
                form.password.errors.append(_wait_message(wait))
            status = 422
    return _confirm_page(form, "password", target), status, headers


def _wait_message(wait: int) -> str:
    return f"Too many wrong passwords. Try again in {throttle.describe_wait(wait)}."


def _confirm_with_emailed_code(user, target: str):
    """An account without a password or second factor proves its inbox again: a code is
    emailed when asked for (a POST), with the usual cooldown and hourly limits."""
    form = EmailCodeConfirmForm(next=target)
    status = 200
    if request.method == "POST" and request.form.get("action") == "send":
        form.code.errors = []
        try:
            service.send_code("confirm", user.email, request.remote_addr)
        except otp.OtpRefused as exc:
            flash(exc.message, "warning")
        except otp.OtpUnavailable as exc:
            flash(exc.message, "error")
        else:
            flash(gettext("We sent a 6-digit code to %(email)s.", email=user.email), "info")
        return redirect(url_for("accounts.two_factor_confirm", next=target), code=303)
    if form.validate_on_submit():
        try:
            result = otp.check_code("confirm", user.email, form.code.data)
        except otp.OtpUnavailable as exc:
            result = otp.CheckResult(False, exc.message)
        if result.ok:
            return _factor_passed(user, redirect(target, code=303))
        record("reauth.failed", actor=user, target=user, method="email code")
        db.session.commit()
        form.code.errors = [result.message]
        status = 429 if "Too many" in result.message else 422
    return _confirm_page(form, "email", target), status


def _confirm_page(form, mode: str, target: str) -> str:
    return render_template(
        "account/confirm.html",
        form=form,
        mode=mode,
        target=target,
        action=url_for("accounts.two_factor_confirm"),
    )


def _json_error(message: str, status: int = 400):
    return jsonify(error=message), status


def _ceremony_user():
    """The user a passkey check is for: a pending sign-in, else the signed-in user."""
    found = stepup.pending()
    if found is not None:
        return found
    if current_user.is_authenticated:
        return current_user._get_current_object(), None
    return None, None


def _keep_challenge(purpose: str, challenge: bytes) -> None:
    session[CHALLENGE_KEY] = {"p": purpose, "c": base64.b64encode(challenge).decode()}


def _take_challenge(purpose: str) -> bytes | None:
    """The challenge issued for `purpose` in this session; each one is good for one answer."""
    state = session.pop(CHALLENGE_KEY, None)
    if not isinstance(state, dict) or state.get("p") != purpose:
        return None
    return base64.b64decode(state["c"])


@bp.post("/2fa/passkey/options")
@per_ip
def passkey_options():
    """Options for signing in (or confirming) with a passkey, as JSON."""
    user, _state = _ceremony_user()
    if user is None:
        return _json_error("Your sign-in timed out. Please sign in again.", 401)
    try:
        options, challenge = passkeys.authentication_options(user)
    except TwoFactorError as exc:
        return _json_error(exc.message)
    _keep_challenge("get", challenge)
    return options, 200, {"Content-Type": "application/json"}


@bp.post("/2fa/passkey")
@per_ip
def passkey_verify():
    """Check a passkey answer; JSON with where to go next."""
    user, state = _ceremony_user()
    if user is None:
        return _json_error("Your sign-in timed out. Please sign in again.", 401)
    body = request.get_json(silent=True) or {}
    challenge = _take_challenge("get")
    if challenge is None:
        return _json_error("Start again: the passkey request expired.")
    try:
        twofactor.count_attempt(user.id)
        passkeys.authenticate(user, body.get("credential") or {}, challenge)
    except TooManyAttempts as exc:
        return _json_error(exc.message, 429)
    except TwoFactorError as exc:
        return _json_error(exc.message)
    twofactor.clear_attempts(user.id)
    if state is not None:
        return _finish_sign_in(user, state, "passkey", as_json=True)
    target = safe_next(body.get("next"), default=url_for("accounts.security"))
    return _factor_passed(user, jsonify(redirect=target))


@bp.post("/signin/passkey/options")
@per_ip
def passkey_sign_in_options():
    """Options for signing in with a passkey alone, as JSON."""
    try:
        options, challenge = passkeys.sign_in_options()
    except TwoFactorError as exc:
        return _json_error(exc.message)
    _keep_challenge("signin", challenge)
    return options, 200, {"Content-Type": "application/json"}


@bp.post("/signin/passkey")
@per_ip
def passkey_sign_in():
    """Sign in with a passkey alone (verified by the device: both factors in one)."""
    body = request.get_json(silent=True) or {}
    challenge = _take_challenge("signin")
    if challenge is None:
        return _json_error("Start again: the passkey request expired.")
    try:
        user = passkeys.authenticate_first_factor(body.get("credential") or {}, challenge)
    except TwoFactorError as exc:
        return _json_error(exc.message)
    service.sign_in(user, method="passkey")
    flash(
        gettext("Welcome back, %(name)s!", name=user.name)
        if user.name
        else gettext("Welcome back!"),
        "success",
    )
    response = jsonify(redirect=safe_next(body.get("next"), default="/"))
    return _factor_passed(user, response)


# The Security section


@bp.get("/security")
@login_required
def security():
    """The account's second factors: authenticator app, passkeys, recovery codes."""
    return render_template(
        "account/security.html",
        totp=twofactor.confirmed_totp(current_user),
        passkey_list=twofactor.passkeys_of(current_user),
        codes_left=twofactor.unused_recovery_codes(current_user),
        enabled=has_second_factor(current_user),
        passkeys_here=passkeys.host_can_use_passkeys(),
        recent=stepup.has_recent_factor(current_user),
    )


@bp.route("/security/totp", methods=["GET", "POST"])
@login_required
@stepup.requires_recent_factor
def two_factor_enrol():
    """Add an authenticator app: make a secret (a POST), scan the QR code, confirm one code."""
    wanted = request.form.get("next") or request.args.get("next")
    target = safe_next(wanted, default=url_for("accounts.security"))
    required = (request.form.get("required") or request.args.get("required")) == "1"
    if twofactor.confirmed_totp(current_user) is not None:
        flash(gettext("You already use an authenticator app."), "info")
        return redirect(url_for("accounts.security"))
    if request.method == "POST" and request.form.get("action") == "start":
        twofactor.start_totp_enrolment(current_user)  # a new secret replaces an unconfirmed one
        return redirect(
            url_for("accounts.two_factor_enrol", next=target, required=1 if required else None),
            code=303,
        )
    form = TotpForm(next=target)
    if form.validate_on_submit():
        try:
            codes = twofactor.confirm_totp(current_user, form.code.data)
        except TwoFactorError as exc:
            form.code.errors = [exc.message]
        else:
            user = current_user._get_current_object()
            if codes:
                response = render_template("account/recovery_codes.html", codes=codes, next=target)
                return _factor_passed(user, _page(response))
            flash(gettext("Your authenticator app is set up."), "success")
            return _factor_passed(user, redirect(target, code=303))
    # Reading the page changes nothing: the secret is made by the "Show the QR code" button.
    secret = twofactor.pending_totp_secret(current_user)
    qr = twofactor.qr_data_uri(twofactor.provisioning_uri(current_user, secret)) if secret else None
    return render_template(
        "account/totp_enrol.html",
        form=form,
        secret=secret,
        qr=qr,
        target=target,
        required=required,
    ), (422 if form.code.errors else 200)


def _page(body: str):
    from flask import make_response

    response = make_response(body)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/security/recovery-codes")
@login_required
@stepup.requires_recent_factor
def regenerate_recovery_codes():
    """Replace the recovery codes with ten new ones, shown once."""
    if not has_second_factor(current_user):
        abort(400, description=gettext("Set up a second factor first."))
    codes = twofactor.regenerate_recovery_codes(current_user)
    return _page(
        render_template(
            "account/recovery_codes.html", codes=codes, next=url_for("accounts.security")
        )
    )


@bp.post("/security/passkeys/options")
@login_required
@stepup.requires_recent_factor
def passkey_registration_options():
    """Options for registering a new passkey, as JSON."""
    try:
        options, challenge = passkeys.registration_options(current_user)
    except TwoFactorError as exc:
        return _json_error(exc.message)
    _keep_challenge("create", challenge)
    return options, 200, {"Content-Type": "application/json"}


@bp.post("/security/passkeys")
@login_required
@stepup.requires_recent_factor
def passkey_register():
    """Verify and save a new passkey; JSON with where to go next."""
    body = request.get_json(silent=True) or {}
    challenge = _take_challenge("create")
    if challenge is None:
        return _json_error("Start again: the passkey request expired.")
    user = current_user._get_current_object()
    try:
        passkeys.register(user, body.get("credential") or {}, challenge, body.get("name") or "")
    except TwoFactorError as exc:
        return _json_error(exc.message)
    flash(gettext("Your passkey is saved."), "success")
    if twofactor.unused_recovery_codes(user) == 0:
        flash(gettext("Now create recovery codes, in case you lose your passkey."), "info")
    target = safe_next(body.get("next"), default=url_for("accounts.security"))
    return _factor_passed(user, jsonify(redirect=target))


@bp.post("/security/passkeys/<int:passkey_id>/remove")
@login_required
@stepup.requires_recent_factor
def passkey_remove(passkey_id: int):
    """Remove one passkey."""
    try:
        _keep_admin_factor(extra_passkeys=1)
        passkeys.remove(current_user, passkey_id)
    except TwoFactorError as exc:
        flash(exc.message, "error")
    else:
        flash(gettext("The passkey is removed."), "success")
    return redirect(url_for("accounts.security"), code=303)


@bp.post("/security/totp/remove")
@login_required
@stepup.requires_recent_factor
def totp_remove():
    """Remove the authenticator app."""
    try:
        _keep_admin_factor(extra_passkeys=0)
        twofactor.remove_totp(current_user)
    except TwoFactorError as exc:
        flash(exc.message, "error")
    else:
        flash(gettext("The authenticator app is removed."), "success")
    return redirect(url_for("accounts.security"), code=303)


def _keep_admin_factor(extra_passkeys: int) -> None:
    """Platform admins can't remove their last second factor."""
    if not current_user.is_superuser:
        return
    has_totp = twofactor.confirmed_totp(current_user) is not None
    count = len(twofactor.passkeys_of(current_user)) + int(has_totp)
    if count <= 1:
        raise TwoFactorError(
            None, gettext("Platform admins must keep a second factor. Add another one first.")
        )


@bp.post("/security/off")
@login_required
@stepup.requires_recent_factor
def two_factor_off():
    """Turn two-factor sign-in off (after a fresh factor check)."""
    try:
        twofactor.turn_off(current_user)
    except TwoFactorError as exc:
        flash(exc.message, "error")
    else:
        session.pop(stepup.FACTOR_KEY, None)
        flash(gettext("Two-factor sign-in is off."), "success")
    return redirect(url_for("accounts.security"), code=303)


@bp.app_template_global("has_second_factor")
def _has_second_factor_global(user) -> bool:
    """Templates: whether `user` has a second factor (the profile shows it)."""
    return has_second_factor(user)


@bp.app_template_global("passkeys_available")
def _passkeys_available_global() -> bool:
    """Templates: whether this host can run a passkey ceremony (not a custom domain)."""
    return passkeys.host_can_use_passkeys()
