"""The dashboard's coupon pages: list, create, edit, deactivate (settings.change).

Every coupon id from the URL is loaded with get_for_store_or_404, so another store's coupon is
a 404. Validation lives in app.orders.coupons; a refused form comes back with its values and the
message on the field, status 422, and nothing written.
"""

from dataclasses import asdict

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext

from app.accounts.permissions import require_store_permission
from app.dashboard import bp
from app.database import utcnow
from app.extensions import db
from app.money import AmountError
from app.orders import coupons
from app.orders.coupons import CouponError, CouponInput
from app.orders.models import Coupon
from tenants.context import current_store
from tenants.query import get_for_store_or_404

FORM_TEMPLATE = "admin/coupons/form.html"


def _input_from_request() -> CouponInput:
    form = request.form
    return CouponInput(
        code=form.get("code", ""),
        kind=form.get("kind", ""),
        value=form.get("value", ""),
        min_subtotal=form.get("min_subtotal", ""),
        starts_on=form.get("starts_on", ""),
        ends_on=form.get("ends_on", ""),
        usage_limit=form.get("usage_limit", ""),
        per_customer_limit=form.get("per_customer_limit", ""),
        active=bool(form.get("active")),
    )


def _form_page(
    values: CouponInput, coupon: Coupon | None, error: CouponError | AmountError | None = None
):
    status = 422 if error else 200
    return render_template(
        FORM_TEMPLATE,
        values=asdict(values),
        coupon=coupon,
        error=error,
    ), status


@bp.get("/coupons/")
@require_store_permission("settings.change")
def coupon_list():
    """The store's coupons with their terms and how often they were used."""
    store = current_store()
    return render_template(
        "admin/coupons/list.html",
        coupons=coupons.list_coupons(store),
        now=utcnow(),
        local_day_before=lambda moment: coupons.last_day(store, moment).strftime("%d %b %Y"),
    )


@bp.route("/coupons/new", methods=["GET", "POST"])
@require_store_permission("settings.change")
def coupon_new():
    """Create a coupon: percentage or fixed amount, with optional limits and dates."""
    if request.method == "GET":
        return _form_page(CouponInput(), None)
    values = _input_from_request()
    try:
        coupon = coupons.create_coupon(current_store(), values)
    except (CouponError, AmountError) as exc:
        db.session.rollback()
        return _form_page(values, None, exc)
    flash(gettext("Coupon %(code)s created.", code=coupon.code), "success")
    return redirect(url_for("dashboard.coupon_list"), code=303)


@bp.route("/coupons/<int:coupon_id>/edit", methods=["GET", "POST"])
@require_store_permission("settings.change")
def coupon_edit(coupon_id: int):
    """Change a coupon's terms, or switch it on and off."""
    store = current_store()
    coupon = get_for_store_or_404(Coupon, coupon_id)
    if request.method == "GET":
        return _form_page(coupons.as_input(store, coupon), coupon)
    values = _input_from_request()
    try:
        coupons.update_coupon(store, coupon, values)
    except (CouponError, AmountError) as exc:
        db.session.rollback()
        return _form_page(values, get_for_store_or_404(Coupon, coupon_id), exc)
    flash(gettext("Coupon %(code)s saved.", code=coupon.code), "success")
    return redirect(url_for("dashboard.coupon_list"), code=303)


@bp.post("/coupons/<int:coupon_id>/deactivate")
@require_store_permission("settings.change")
def coupon_deactivate(coupon_id: int):
    """Stop a coupon from working at checkout; it stays listed with its history."""
    coupon = get_for_store_or_404(Coupon, coupon_id)
    coupons.deactivate(coupon)
    flash(gettext("Coupon %(code)s is switched off.", code=coupon.code), "success")
    return redirect(url_for("dashboard.coupon_list"), code=303)
