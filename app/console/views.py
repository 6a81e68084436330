"""The platform admins' console on the platform host, under /console."""

from flask import render_template
from sqlalchemy import func, select

from app.accounts.models import User
from app.accounts.permissions import require_superuser
from app.audit.models import AuditLog
from app.extensions import db
from tenants.context import platform_blueprint
from tenants.models import Store

bp = platform_blueprint("console", __name__, url_prefix="/console")


@bp.get("/")
@require_superuser
def home():
    """Platform overview: stores and users by state, and the latest audit entries."""
    stores = dict(
        db.session.execute(select(Store.status, func.count()).group_by(Store.status)).all()
    )
    users_total, users_verified = db.session.execute(
        select(func.count(), func.count(User.email_verified_at))
    ).one()
    entries = db.session.execute(
        select(AuditLog, User.email, Store.slug)
        .outerjoin(User, User.id == AuditLog.actor_id)
        .outerjoin(Store, Store.id == AuditLog.store_id)
        .order_by(AuditLog.id.desc())
        .limit(25)
    ).all()
    return render_template(
        "console/home.html",
        stores=stores,
        users_total=users_total,
        users_verified=users_verified,
        entries=entries,
    )


# The stores pages join this blueprint.
from app.console import payouts as _payouts  # noqa: E402, F401
from app.console import stores as _stores  # noqa: E402, F401
from app.console import users as _users  # noqa: E402, F401
