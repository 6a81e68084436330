"""Changing a store's checkout settings: shipping, tax and the payment provider's keys.

Provider secrets are write-only: a blank field keeps what is stored, "remove" clears it, and
anything typed is encrypted before it reaches the database. The audit entry names the fields
that changed, never their values.
"""

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from flask_babel import gettext

from app.audit.service import record
from app.checkout.models import (
    HOLD_MINUTES_DEFAULT,
    HOLD_MINUTES_MAX,
    HOLD_MINUTES_MIN,
    HOLD_ON,
    PROVIDERS,
    CheckoutSettings,
)
from app.checkout.secrets import decrypt, encrypt
from app.extensions import db
from app.field_errors import FieldError
from app.i18n import N_
from app.money import format_amount, parse_amount
from tenants.models import Store

SECRETS = ("stripe_secret_key", "stripe_webhook_secret", "midtrans_server_key")
SECRET_PREFIXES = {
    "stripe_secret_key": ("sk_", "rk_"),
    "stripe_webhook_secret": ("whsec_",),
}
SECRET_LABELS = {
    "stripe_secret_key": N_("Stripe secret key"),
    "stripe_webhook_secret": N_("Stripe webhook signing secret"),
    "midtrans_server_key": N_("Midtrans server key"),
}
PROVIDER_LABELS = {"test": "Test gateway", "stripe": "Stripe", "midtrans": "Midtrans"}
_KEY_RE = re.compile(r"^[\x21-\x7e]{8,200}$")  # printable ASCII, no spaces


class SettingsError(FieldError):
    """A refused change; `field` names the input, `message` says why."""


@dataclass
class CheckoutInput:
    """What the vendor typed, as text; secrets left blank keep their stored value."""

    shipping_flat: str = ""
    shipping_free_over: str = ""
    tax_rate: str = ""
    tax_inclusive: bool = False
    payment_provider: str = "test"
    stripe_secret_key: str = ""
    stripe_webhook_secret: str = ""
    midtrans_server_key: str = ""
    midtrans_client_key: str = ""
    midtrans_production: bool = False
    hold_minutes: str = str(HOLD_MINUTES_DEFAULT)
    hold_on: str = "checkout"
    remove: tuple[str, ...] = ()


def settings_for(store: Store) -> CheckoutSettings:
    """The store's settings row, or an unsaved one with the defaults."""
    row = db.session.get(CheckoutSettings, store.id)
    if row is None:
        row = CheckoutSettings(
            store_id=store.id,
            shipping_flat=0,
            tax_basis_points=0,
            tax_inclusive=False,
            payment_provider="test",
            midtrans_production=False,
            hold_minutes=HOLD_MINUTES_DEFAULT,
            hold_on="checkout",
        )
    return row


def as_input(store: Store, row: CheckoutSettings) -> CheckoutInput:
    """The settings as the form shows them (never the secrets)."""
    return CheckoutInput(
        shipping_flat=format_amount(row.shipping_flat or 0, store.currency),
        shipping_free_over=format_amount(row.shipping_free_over, store.currency),
        tax_rate=format_rate(row.tax_basis_points or 0),
        tax_inclusive=bool(row.tax_inclusive),
        payment_provider=row.payment_provider or "test",
        midtrans_client_key=row.midtrans_client_key or "",
        midtrans_production=bool(row.midtrans_production),
        hold_minutes=str(row.hold_minutes or HOLD_MINUTES_DEFAULT),
        hold_on=row.hold_on or "checkout",
    )


def format_rate(basis_points: int) -> str:
    """1100 -> "11", 825 -> "8.25"."""
    return f"{Decimal(basis_points).scaleb(-2).normalize():f}"


def parse_rate(text: str | None) -> int:
    """A tax rate in percent with up to two decimals ("11", "8.25") as basis points."""
    raw = (text or "").strip().rstrip("%").strip().replace(",", ".")
    if not raw:
        return 0
    if not re.fullmatch(r"\d{1,3}(\.\d{0,2})?", raw):
        raise SettingsError(
            "tax_rate",
            gettext("The tax rate is a percentage from 0 to 100 with at most 2 decimals."),
        )
    try:
        rate = Decimal(raw)
    except InvalidOperation:
        raise SettingsError(
            "tax_rate", gettext("The tax rate must be a number such as 11.")
        ) from None
    if rate > 100:
        raise SettingsError("tax_rate", gettext("The tax rate can be at most 100%."))
    return int(rate.scaleb(2))


def parse_hold_minutes(text: str | None) -> int:
    """How long a cart's units are held, in whole minutes from 2 to 60."""
    raw = (text or "").strip()
    if not raw:
        return HOLD_MINUTES_DEFAULT
    if not raw.isdigit() or len(raw) > 3 or not (HOLD_MINUTES_MIN <= int(raw) <= HOLD_MINUTES_MAX):
        raise SettingsError(
            "hold_minutes",
            gettext(
                "Hold items for %(min)s to %(max)s minutes (a whole number).",
                min=HOLD_MINUTES_MIN,
                max=HOLD_MINUTES_MAX,
            ),
        )
    return int(raw)


def _secret(field: str, typed: str) -> str:
    value = (typed or "").strip()
    label = gettext(SECRET_LABELS[field])
    if not _KEY_RE.fullmatch(value):
        raise SettingsError(
            field, gettext("The %(label)s looks wrong: paste it without spaces.", label=label)
        )
    prefixes = SECRET_PREFIXES.get(field)
    if prefixes and not value.startswith(prefixes):
        raise SettingsError(
            field,
            gettext(
                "The %(label)s starts with %(prefixes)s.",
                label=label,
                prefixes=gettext(" or ").join(prefixes),
            ),
        )
    return value


def update_checkout_settings(store: Store, data: CheckoutInput, *, actor=None) -> list[str]:
    """Validate and save; creates the row on first save. Returns the names of changed fields."""
    row = settings_for(store)
    shipping_flat = parse_amount(
        data.shipping_flat,
        store.currency,
        field="shipping_flat",
        label=gettext("The shipping rate"),
        blank=0,
    )
    free_over = parse_amount(
        data.shipping_free_over,
        store.currency,
        field="shipping_free_over",
        label=gettext("The free-shipping threshold"),
        blank=None,
    )
    tax = parse_rate(data.tax_rate)
    hold_minutes = parse_hold_minutes(data.hold_minutes)
    if data.hold_on not in HOLD_ON:
        raise SettingsError(
            "hold_on", gettext("Choose when items are held: at checkout or when added to the cart.")
        )
    if data.payment_provider not in PROVIDERS:
        raise SettingsError(
            "payment_provider", gettext("Choose the test gateway, Stripe or Midtrans.")
        )
    client_key = (data.midtrans_client_key or "").strip()
    if client_key and not _KEY_RE.fullmatch(client_key):
        raise SettingsError(
            "midtrans_client_key",
            gettext("The Midtrans client key looks wrong: paste it without spaces."),
        )
    secrets: dict[str, str | None] = {}
    for field in SECRETS:
        typed = getattr(data, field)
        if (typed or "").strip():
            secrets[field] = _secret(field, typed)
        elif field in data.remove:
            secrets[field] = None

    def will_have(field: str) -> bool:
        return bool(secrets[field]) if field in secrets else bool(decrypt(getattr(row, field)))

    if data.payment_provider == "stripe" and not will_have("stripe_secret_key"):
        raise SettingsError(
            "stripe_secret_key", gettext("Add your Stripe secret key to use Stripe.")
        )
    if data.payment_provider == "stripe" and not will_have("stripe_webhook_secret"):
        raise SettingsError(
            "stripe_webhook_secret",
            gettext("Add the webhook signing secret, or Stripe payments will never be confirmed."),
        )
    if data.payment_provider == "midtrans" and not will_have("midtrans_server_key"):
        raise SettingsError(
            "midtrans_server_key", gettext("Add your Midtrans server key to use Midtrans.")
        )

    values = {
        "shipping_flat": shipping_flat,
        "shipping_free_over": free_over,
        "tax_basis_points": tax,
        "tax_inclusive": bool(data.tax_inclusive),
        "payment_provider": data.payment_provider,
        "midtrans_client_key": client_key or None,
        "midtrans_production": bool(data.midtrans_production),
        "hold_minutes": hold_minutes,
        "hold_on": data.hold_on,
    }
    changed = [name for name, value in values.items() if getattr(row, name) != value]
    # Before and after for the audit log; secrets only say that they changed, never what to.
    changes = {name: [getattr(row, name), values[name]] for name in changed}
    for name, value in values.items():
        setattr(row, name, value)
    for field, value in secrets.items():
        if value is None and getattr(row, field) is None:
            continue
        if value is not None and decrypt(getattr(row, field)) == value:
            continue
        setattr(row, field, encrypt(value))
        changed.append(field)
        changes[field] = ["(secret)", "(replaced)" if value else "(removed)"]
    if row not in db.session:
        db.session.add(row)
        changed = changed or ["created"]
    if changed:
        record(
            "checkout.settings_changed",
            actor=actor,
            store=store,
            fields=sorted(changed),
            changes=changes,
        )
    db.session.commit()
    return changed


def secrets_set(row: CheckoutSettings) -> dict[str, bool]:
    """Which secrets are stored (the form shows "set ✓", never the value)."""
    return {field: bool(getattr(row, field)) for field in SECRETS}
