"""The console's users: a searchable list, one user's memberships and recent activity, and
disabling (their sessions end at once), re-enabling, resending a verification code and resetting
the two-factor sign-in of someone who lost their second factor."""

import math

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, or_, select

from app.accounts import otp, service, twofactor
from app.accounts.models import Membership, User
from app.accounts.permissions import require_superuser
from app.accounts.stepup import requires_recent_factor
from app.audit.models import AuditLog
from app.audit.service import record
from app.catalog.browse import clean
from app.console.views import bp
from app.database import utcnow
from app.extensions import db
from tenants.models import Store
from tenants.query import MAX_ID

PAGE_SIZE = 25


@bp.get("/users/")
@require_superuser
def user_list():
    """Every account, searchable by email or name, newest first."""
    q = clean(request.args.get("q"), 120).strip().lower()
    conditions = []
    if q:
        like = f"%{q.replace('%', '').replace('_', '')}%"
        conditions.append(or_(func.lower(User.email).like(like), func.lower(User.name).like(like)))
    total = db.session.scalar(select(func.count()).select_from(User).where(*conditions))
    pages = max(1, math.ceil(total / PAGE_SIZE))
    try:
        page = min(max(int(request.args.get("page", 1)), 1), pages)
    except ValueError:
        page = 1
    stores = (
        select(Membership.user_id, func.count().label("stores"))
        .group_by(Membership.user_id)
        .subquery()
    )
    rows = db.session.execute(
        select(User, func.coalesce(stores.c.stores, 0))
        .outerjoin(stores, stores.c.user_id == User.id)
        .where(*conditions)
        .order_by(User.created_at.desc(), User.id.desc())
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    return render_template(
        "console/users/list.html", rows=rows, q=q, page=page, pages=pages, total=total
    )


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
    memberships = db.session.execute(
        select(Membership, Store)
        .join(Store, Store.id == Membership.store_id)
        .where(Membership.user_id == user.id)
        .order_by(Store.name)
    ).all()
    activity = db.session.scalars(
        select(AuditLog).where(AuditLog.actor_id == user.id).order_by(AuditLog.id.desc()).limit(20)
    ).all()
    return render_template(
        "console/users/detail.html",
        person=user,
        memberships=memberships,
        activity=activity,
        has_factor=twofactor.has_second_factor(user),
    )


@bp.post("/users/<int:user_id>/<any(disable, enable):action>")
@require_superuser
def user_status(user_id: int, action: str):
    """Disable an account (every session of it ends at once) or enable it again."""
    user = _user_or_404(user_id)
    if user.id == current_user.id:
        flash("You can't disable your own account.", "error")
        return redirect(url_for(".user_detail", user_id=user.id), 303)
    if action == "disable" and user.disabled_at is None:
        user.disabled_at = utcnow()
        user.rotate_session_token()  # signed-in sessions carry the old token: they end now
        record("user.disabled", actor=current_user, target=user, email=user.email)
        db.session.commit()
        flash(f"{user.email} is disabled and signed out everywhere.", "success")
    elif action == "enable" and user.disabled_at is not None:
        user.disabled_at = None
        record("user.enabled", actor=current_user, target=user, email=user.email)
        db.session.commit()
        flash(f"{user.email} can sign in again.", "success")
    return redirect(url_for(".user_detail", user_id=user.id), 303)


@bp.post("/users/<int:user_id>/resend-verification")
@require_superuser
def user_resend_verification(user_id: int):
    """Send an unverified account a new verification code."""
    user = _user_or_404(user_id)
    if user.is_verified:
        flash(f"{user.email} is already verified.", "info")
    else:
        try:
            service.resend_verification(user.email, request.remote_addr)
        except otp.OtpRefused as refused:
            flash(refused.message, "warning")
        else:
            record("user.verification_resent", actor=current_user, target=user)
            db.session.commit()
            flash(f"A new verification code went to {user.email}.", "success")
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
        flash(f"Two-factor sign-in reset for {user.email}, signed out everywhere.", "success")
    return redirect(url_for(".user_detail", user_id=user.id), 303)
