"""Who may take payments on the test gateway, where shoppers approve their own payments.

The test gateway moves no money, so a live store on it would sell for nothing. In production a
store needs a real provider (Stripe or Midtrans with its keys) to publish and to take payments,
unless the platform allows test payments: everywhere (ALLOW_TEST_PAYMENTS, on by default only
in embedded mode) or for one store (a platform admin's switch in the console, audited). Orders
placed or paid on the test gateway are test orders (`Order.is_test`) whatever the mode.
"""

from flask import current_app
from flask_babel import lazy_gettext

from app.audit.service import record
from app.extensions import db
from app.i18n import N_

TEST_GATEWAY = "test"

NEEDS_REAL_PROVIDER = N_(
    "The test gateway takes no real money, so it can't take payments on a live store. "
    "Connect Stripe or Midtrans in your checkout settings, or ask Pasar's team to switch "
    "test payments on for this store."
)
# What a shopper sees: nothing about the store's set-up, only that paying isn't possible.
CANT_TAKE_PAYMENTS = lazy_gettext("This store can't take payments yet. Please try again later.")


def test_payments_allowed(store) -> bool:
    """True if `store` may take payments on the test gateway."""
    return bool(current_app.config.get("ALLOW_TEST_PAYMENTS")) or bool(store.test_payments_allowed)


def payment_problem(store, settings=None) -> str | None:
    """Why `store` can't take payments with its checkout settings (for its owner), or None."""
    from app.checkout.models import CheckoutSettings

    settings = settings if settings is not None else db.session.get(CheckoutSettings, store.id)
    provider = settings.payment_provider if settings is not None else TEST_GATEWAY
    if provider == TEST_GATEWAY:
        return None if test_payments_allowed(store) else NEEDS_REAL_PROVIDER
    if provider == "stripe" and not settings.stripe_secret_key:
        return N_("Add your Stripe secret key in your checkout settings.")
    if provider == "midtrans" and not settings.midtrans_server_key:
        return N_("Add your Midtrans server key in your checkout settings.")
    return None


def is_test_provider(provider: str | None) -> bool:
    """True for the built-in test gateway: orders placed or paid on it are test orders."""
    return provider == TEST_GATEWAY


def set_test_payments(store, allowed: bool, *, actor=None, reason: str = "") -> bool:
    """Switch test payments on or off for one store (a platform admin); audited. Commits.

    Returns False when the store was already so.
    """
    allowed = bool(allowed)
    if store.test_payments_allowed == allowed:
        return False
    store.test_payments_allowed = allowed
    record(
        "store.test_payments_allowed" if allowed else "store.test_payments_disallowed",
        actor=actor,
        store=store,
        target=store,
        reason=reason,
        changes={"test_payments_allowed": [not allowed, allowed]},
    )
    db.session.commit()
    return True
