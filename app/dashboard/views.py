"""The dashboard's own pages: the home page, the store's settings and its staff."""

from flask import flash, g, redirect, render_template, url_for
from flask_babel import gettext
from flask_login import current_user

from app.accounts.invites import pending_invites
from app.accounts.models import Membership, User
from app.accounts.permissions import LABELS, PERMISSIONS, require_store_permission
from app.accounts.roles import RoleError, change_role
from app.accounts.stepup import requires_recent_factor
from app.dashboard import bp
from app.dashboard.forms import RoleForm, StoreSettingsForm
from app.dashboard.staff_forms import InviteForm, TransferForm
from app.database import utcnow
from app.extensions import db
from app.reports import sales
from tenants.context import current_store
from tenants.provisioning import StoreSettingsError, update_store_settings
from tenants.query import get_for_store_or_404, scoped_select


@bp.get("/")
@require_store_permission("dashboard.view")
def home():
    """The dashboard's front page: the store at a glance and what your role allows."""
    allowed = [
        LABELS[p]
        for p, roles in PERMISSIONS.items()
        if g.store_role == "superuser" or g.store_role in roles
    ]
    store = current_store()
    now = utcnow()
    series = sales.daily_sales(store, now)
    return render_template(
        "admin/home.html",
        allowed=allowed,
        summary=sales.sales_summary(store, now, series),
        series=series,
        chart=sales.bar_chart(series),
        low_stock=sales.low_stock(store),
        latest=sales.latest_orders(store),
    )


@bp.get("/latest-orders")
@require_store_permission("dashboard.view")
def latest_orders():
    """The newest orders, for the home page to poll while it is open (a fragment)."""
    return render_template(
        "admin/_partials/latest_orders.html", latest=sales.latest_orders(current_store())
    )


@bp.get("/low-stock")
@require_store_permission("dashboard.view")
def low_stock():
    """The low-stock panel, for the home page to refresh when stock moves (a fragment)."""
    return render_template(
        "admin/_partials/low_stock.html", low_stock=sales.low_stock(current_store())
    )


@bp.route("/settings", methods=["GET", "POST"])
@require_store_permission("settings.change")
def settings():
    """The store's name, currency, locale, time zone and accent colour."""
    store = current_store()
    form = StoreSettingsForm(obj=store)
    status = 200
    if form.validate_on_submit():
        try:
            changed = update_store_settings(
                store,
                actor=current_user,
                name=form.name.data,
                currency=form.currency.data,
                locale=form.locale.data,
                timezone=form.timezone.data,
                accent_color=form.accent_color.data,
                contact_email=form.contact_email.data,
                low_stock_default=_level(form.low_stock_default.data),
            )
        except StoreSettingsError as exc:
            getattr(form, exc.field).errors = [exc.message]
            status = 422
        else:
            flash(
                gettext("Settings saved.") if changed else gettext("Nothing to change."), "success"
            )
            return redirect(url_for("dashboard.settings"), code=303)
    elif form.errors:
        status = 422
    return settings_page(form, status)


def _level(raw: str | None) -> int | None:
    """A typed low-stock level: empty is None (the default), else a whole number."""
    raw = (raw or "").strip().replace(",", "")
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 7:
        raise StoreSettingsError("low_stock_default", "Use a whole number from 0 to 100,000.")
    return int(raw)


def settings_page(form=None, status: int = 200, **context):
    """The settings page: general settings, logo, custom domain (refused forms passed back)."""
    from tenants.provisioning import dns_records

    store = current_store()
    if form is None:
        form = StoreSettingsForm(obj=store, formdata=None)
        form.low_stock_default.data = (
            "" if store.low_stock_default is None else str(store.low_stock_default)
        )
    context.setdefault("domain_value", store.custom_domain or "")
    return render_template(
        "admin/settings.html", form=form, dns=dns_records(store), **context
    ), status


@bp.get("/staff")
@require_store_permission("staff.manage")
def staff():
    """The store's members and their roles."""
    return _staff_page()


def _staff_page(status: int = 200, **forms):
    """The staff page; the staff module passes a refused form back in `forms`."""
    members = db.session.execute(
        scoped_select(Membership)
        .join(User, User.id == Membership.user_id)
        .add_columns(User)
        .order_by(Membership.created_at, Membership.id)
    ).all()
    forms.setdefault("invite_form", InviteForm(formdata=None))
    forms.setdefault("transfer_form", TransferForm(formdata=None))
    return render_template(
        "admin/staff.html",
        members=members,
        role_form=RoleForm(),
        invites=pending_invites(current_store()),
        **forms,
    ), status


@bp.post("/staff/<int:membership_id>/role")
@require_store_permission("staff.manage")
@requires_recent_factor
def staff_role(membership_id: int):
    """Change a member's role (the owner's can't be changed here)."""
    membership = get_for_store_or_404(Membership, membership_id)
    form = RoleForm()
    if not form.validate():
        flash(gettext("The form expired. Please try again."), "error")
        return _staff_page(400)
    try:
        changed = change_role(membership, form.role.data or "", actor=current_user)
    except RoleError as exc:
        flash(str(exc), "error")
        return _staff_page(422)
    if changed:
        email = db.session.get(User, membership.user_id).email
        flash(
            gettext("%(email)s is now %(role)s.", email=email, role=gettext(membership.role)),
            "success",
        )
    return redirect(url_for("dashboard.staff"), code=303)
