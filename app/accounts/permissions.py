"""Who may do what in a store: the role table, and the guards on dashboard and console routes.

| permission        | owner | manager | staff | what it covers                                  |
|-------------------|:-----:|:-------:|:-----:|-------------------------------------------------|
| dashboard.view    |   ✓   |    ✓    |   ✓   | open the store's dashboard                      |
| products.edit     |   ✓   |    ✓    |   ✓   | create and edit products, variants, images      |
| inventory.adjust  |   ✓   |    ✓    |   ✓   | adjust stock with a reason                      |
| orders.view       |   ✓   |    ✓    |   ✓   | see orders and customers                        |
| orders.fulfil     |   ✓   |    ✓    |   ✓   | mark shipped or delivered                       |
| orders.refund     |   ✓   |    ✓    |       | refunds, cancellations, marking paid            |
| stock.sync        |   ✓   |    ✓    |       | CSV stock sync and exports                      |
| staff.manage      |   ✓   |         |       | invite, change roles, remove staff              |
| settings.change   |   ✓   |    ✓    |       | store settings, shipping, taxes, payments       |
| audit.view        |   ✓   |    ✓    |       | the store's audit log                           |
| payouts.view      |   ✓   |    ✓    |       | payout reports and their CSV                    |

Platform superusers may do everything in every store (support access), with a second factor.
A store that requires two-factor sign-in sends members without a second factor to enrol one.
"""

from functools import wraps

from flask import abort, g, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import select

from app.accounts.models import Membership
from app.accounts.redirects import current_path
from app.accounts.stepup import ask_for_factor
from app.accounts.twofactor import has_second_factor
from app.extensions import db
from app.i18n import N_

ALL = frozenset({"owner", "manager", "staff"})
MANAGERS = frozenset({"owner", "manager"})
PERMISSIONS: dict[str, frozenset[str]] = {
    "dashboard.view": ALL,
    "products.edit": ALL,
    "inventory.adjust": ALL,
    "orders.view": ALL,
    "orders.fulfil": ALL,
    "orders.refund": MANAGERS,
    "stock.sync": MANAGERS,
    "staff.manage": frozenset({"owner"}),
    "settings.change": MANAGERS,
    "store.publish": frozenset({"owner"}),
    "audit.view": MANAGERS,
    "payouts.view": MANAGERS,
}

LABELS = {
    "dashboard.view": N_("Open the dashboard"),
    "products.edit": N_("Edit products"),
    "inventory.adjust": N_("Adjust stock"),
    "orders.view": N_("See orders"),
    "orders.fulfil": N_("Ship and deliver orders"),
    "orders.refund": N_("Refund, cancel and mark orders paid"),
    "stock.sync": N_("Sync stock from CSV and export"),
    "staff.manage": N_("Manage staff"),
    "settings.change": N_("Change store settings"),
    "store.publish": N_("Publish the store"),
    "audit.view": N_("Read the audit log"),
    "payouts.view": N_("See payout reports"),
}


def role_in_store(user, store) -> str | None:
    """The user's role in `store` (cached for the request), or None."""
    if user is None or not user.is_authenticated or store is None:
        return None
    cache = g.setdefault("_roles", {})
    key = (user.id, store.id)
    if key not in cache:
        cache[key] = db.session.scalar(
            select(Membership.role).where(
                Membership.store_id == store.id, Membership.user_id == user.id
            )
        )
    return cache[key]


def member_stores(user) -> list:
    """The stores `user` is a member of (deleted ones left out), by name: the store switcher."""
    from tenants.models import Store
    from tenants.rls import all_stores

    if user is None or not user.is_authenticated:
        return []
    # The user's memberships in other stores too: row-level security shows only this store's.
    with all_stores(f"store switcher: memberships of user {user.id}"):
        return list(
            db.session.scalars(
                select(Store)
                .join(Membership, Membership.store_id == Store.id)
                .where(Membership.user_id == user.id, Store.deleted_at.is_(None))
                .order_by(Store.name, Store.id)
            )
        )


def can(user, store, permission: str) -> bool:
    """True if `user` holds `permission` in `store`."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")
    if user is None or not user.is_authenticated or not user.is_verified:
        return False
    if user.is_superuser:
        return True
    return role_in_store(user, store) in PERMISSIONS[permission]


def _sign_in_redirect():
    return redirect(url_for("accounts.signin", next=current_path()))


def require_store_permission(permission: str):
    """Guard a dashboard view: sign-in, a verified email, membership and the permission.

    Anonymous: redirect to sign-in. Not a member of this store (another store's owner, a
    shopper): 404, the dashboard is not theirs to know about. A member without the
    permission, or with an unverified email: 403.
    """
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            store = g.get("store")
            if store is None:
                abort(404)
            if not current_user.is_authenticated:
                return _sign_in_redirect()
            role = role_in_store(current_user, store)
            if role is None and not current_user.is_superuser:
                abort(404)
            if not current_user.is_verified:
                abort(403, description="Verify your email address to use the dashboard.")
            if not can(current_user, store, permission):
                abort(403, description="Your role in this store doesn't allow that.")
            g.store_role = "superuser" if role is None else role
            if _needs_second_factor(store, role) and not has_second_factor(current_user):
                return ask_for_factor(enrol=True)
            return view(*args, **kwargs)

        wrapped.permission = permission
        return wrapped

    return decorator


def _needs_second_factor(store, role: str | None) -> bool:
    """Stores may require a second factor of their members; support access always needs one."""
    return bool(store.require_two_factor) or role is None


def require_superuser(view):
    """Guard a console view: anonymous users sign in; everyone but superusers gets 404."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return _sign_in_redirect()
        if not current_user.is_superuser or not current_user.is_verified:
            abort(404)
        from app.accounts.console_session import guard

        refused = guard()  # a second factor, and the console's own cookie
        if refused is not None:
            return refused
        from tenants.rls import allow_all_stores

        # The console spans stores: its pages read every store's rows (row-level security).
        allow_all_stores(f"console: {request.endpoint} by user {current_user.id}")
        return view(*args, **kwargs)

    wrapped.permission = "superuser"
    return wrapped
