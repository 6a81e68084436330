"""The dashboard's checkout settings page: shipping, tax and the payment provider (settings.change).

Secrets are write-only: the page shows whether each is set, never its value.
"""

from dataclasses import asdict

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from app.accounts.permissions import require_store_permission
from app.accounts.stepup import requires_recent_factor
from app.checkout import store_settings
from app.checkout.store_settings import CheckoutInput, SettingsError
from app.dashboard import bp
from app.dashboard.catalog_forms import ConfirmForm
from app.extensions import db
from app.i18n import N_
from app.money import AmountError
from app.payments.test_mode import test_payments_allowed
from tenants.context import current_store

# store_settings' key labels, translated where the page shows them (`_(secret_labels[name])`).
SECRET_LABELS = (
    N_("Stripe secret key"),
    N_("Stripe webhook signing secret"),
    N_("Midtrans server key"),
)


def _page(values: CheckoutInput, error: SettingsError | AmountError | None = None):
    row = store_settings.settings_for(current_store())
    return render_template(
        "admin/checkout_settings.html",
        values=asdict(values),
        secrets_set=store_settings.secrets_set(row),
        secret_labels=store_settings.SECRET_LABELS,
        provider_labels=store_settings.PROVIDER_LABELS,
        test_payments_allowed=test_payments_allowed(current_store()),
        error=error,
    ), 422 if error else 200


@bp.route("/settings/checkout", methods=["GET", "POST"])
@require_store_permission("settings.change")
@requires_recent_factor
def checkout_settings():
    """Shipping rates, tax, and which payment provider takes the money (with its keys)."""
    store = current_store()
    if request.method == "GET":
        return _page(store_settings.as_input(store, store_settings.settings_for(store)))
    if not ConfirmForm().validate():
        abort(400)
    form = request.form
    values = CheckoutInput(
        shipping_flat=form.get("shipping_flat", ""),
        shipping_free_over=form.get("shipping_free_over", ""),
        tax_rate=form.get("tax_rate", ""),
        tax_inclusive=form.get("tax_inclusive") == "included",
        payment_provider=form.get("payment_provider", ""),
        stripe_secret_key=form.get("stripe_secret_key", ""),
        stripe_webhook_secret=form.get("stripe_webhook_secret", ""),
        midtrans_server_key=form.get("midtrans_server_key", ""),
        midtrans_client_key=form.get("midtrans_client_key", ""),
        midtrans_production=bool(form.get("midtrans_production")),
        hold_minutes=form.get("hold_minutes", ""),
        hold_on=form.get("hold_on", "checkout"),
        remove=tuple(form.getlist("remove")),
    )
    try:
        changed = store_settings.update_checkout_settings(store, values, actor=current_user)
    except (SettingsError, AmountError) as exc:
        db.session.rollback()
        # Typed secrets are never echoed back into the page.
        for field in store_settings.SECRETS:
            setattr(values, field, "")
        return _page(values, exc)
    flash(
        gettext("Checkout settings saved.") if changed else gettext("Nothing to change."), "success"
    )
    return redirect(url_for("dashboard.checkout_settings"), code=303)
