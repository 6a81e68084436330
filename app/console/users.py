"""The console's users: a searchable list, one user's memberships and recent activity, and
disabling (their sessions end at once), re-enabling, resending a verification code and resetting
the two-factor sign-in of someone who lost their second factor."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from app.accounts import otp, service, twofactor
from app.accounts.models import User
from app.accounts.permissions import require_superuser
from app.accounts.stepup import requires_recent_factor
from app.audit.service import record
from app.catalog.browse import clean
from app.console import bp, queries
from app.database import utcnow
from app.extensions import db
from tenants.query import MAX_ID

PAGE_SIZE = 25


@bp.get("/users/")
@require_superuser
def user_list():
    """Every account, searchable by email or name, newest first."""
    q = clean(request.args.get("q"), 120).strip().lower()
    rows = queries.users(q, request.args.get("page"), PAGE_SIZE)
    return render_template("console/users/list.html", rows=rows, q=q)


def _user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id) if 1 <= user_id <= MAX_ID else None
    if user is None:
        abort(404)
    return user


@bp.get("/users/<int:user_id>")
@require_superuser
def user_detail(user_id: int):
    """One account: its stores and roles, and what it did lately."""
    user = _user_or_404(user_id)
    return render_template(
        "console/users/detail.html",
        person=user,
        memberships=queries.user_memberships(user),
        activity=queries.user_activity(user),
        has_factor=twofactor.has_second_factor(user),
    )


@bp.post("/users/<int:user_id>/<any(disable, enable):action>")
@require_superuser
def user_status(user_id: int, action: str):
    """Disable an account (every session of it ends at once) or enable it again."""
    user = _user_or_404(user_id)
    if user.id == current_user.id:
        flash(gettext("You can't disable your own account."), "error")
        return redirect(url_for(".user_detail", user_id=user.id), 303)
    if action == "disable" and user.disabled_at is None:
        user.disabled_at = utcnow()
        user.rotate_session_token()  # signed-in sessions carry the old token: they end now
        record("user.disabled", actor=current_user, target=user, email=user.email)
        db.session.commit()
        flash(
            gettext("%(email)s is disabled and signed out everywhere.", email=user.email), "success"
        )
    elif action == "enable" and user.disabled_at is not None:
        user.disabled_at = None
        record("user.enabled", actor=current_user, target=user, email=user.email)
        db.session.commit()
        flash(gettext("%(email)s can sign in again.", email=user.email), "success")
    return redirect(url_for(".user_detail", user_id=user.id), 303)


@bp.post("/users/<int:user_id>/resend-verification")
@require_superuser
def user_resend_verification(user_id: int):
    """Send an unverified account a new verification code."""
    user = _user_or_404(user_id)
    if user.is_verified:
        flash(gettext("%(email)s is already verified.", email=user.email), "info")
    else:
        try:
            service.resend_verification(user.email, request.remote_addr)
        except otp.OtpRefused as refused:
            flash(refused.message, "warning")
        else:
            record("user.verification_resent", actor=current_user, target=user)
            db.session.commit()
            flash(
                gettext("A new verification code went to %(email)s.", email=user.email), "success"
            )
    return redirect(url_for(".user_detail", user_id=user.id), 303)


@bp.post("/users/<int:user_id>/reset-two-factor")
@require_superuser
@requires_recent_factor
def user_reset_two_factor(user_id: int):
    """Remove a user's second factors (they lost them), with the reason; never one's own."""
    user = _user_or_404(user_id)
    reason = clean(request.form.get("reason"), 500).strip()
    try:
        twofactor.reset_by_admin(user, admin=current_user, reason=reason)
    except twofactor.TwoFactorError as exc:
        flash(exc.message, "error")
    else:
        flash(
            gettext(
                "Two-factor sign-in reset for %(email)s, signed out everywhere.", email=user.email
            ),
            "success",
        )
    return redirect(url_for(".user_detail", user_id=user.id), 303)
