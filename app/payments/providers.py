"""Payment providers behind one interface: start a payment, refund, and (Midtrans) re-check.

- test: Pasar's own hosted page; the shopper approves or declines and Pasar sends itself a
  signed webhook, so the whole flow runs offline.
- stripe: a Checkout Session through the official library; webhooks verified by signature.
- midtrans: a Snap transaction; notifications are re-checked against the status API.

Provider base URLs come from the config (STRIPE_API_BASE, MIDTRANS_API_BASE,
MIDTRANS_SNAP_BASE), so tests point them at a local stand-in server.
"""

from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
import stripe
from flask import current_app

from app.checkout.models import CheckoutSettings
from app.checkout.secrets import decrypt
from app.money import whole_major_units


class ProviderError(RuntimeError):
    """The provider refused or could not be reached; the message is safe to show."""


@dataclass(frozen=True)
class PaymentStart:
    """Where to send the shopper to pay, and the provider's reference for this attempt."""

    redirect_url: str
    reference: str


def midtrans_order_id(store, order) -> str:
    """The order id Pasar gives Midtrans: unique across stores, readable in their dashboard."""
    return f"{store.slug}-{order.number}"


def _stripe(settings: CheckoutSettings) -> stripe.StripeClient:
    key = decrypt(settings.stripe_secret_key)
    if not key:
        raise ProviderError("Stripe is not set up for this store yet.")
    base = current_app.config.get("STRIPE_API_BASE")
    return stripe.StripeClient(
        key, base_addresses={"api": base} if base else None, max_network_retries=2
    )


def start_stripe(
    store, order, settings: CheckoutSettings, *, success_url: str, cancel_url: str
) -> PaymentStart:
    """Create a Stripe Checkout Session for the order's total."""
    try:
        session = _stripe(settings).v1.checkout.sessions.create(
            params={
                "mode": "payment",
                "customer_email": order.email,
                "client_reference_id": str(order.id),
                "metadata": {"store_id": str(store.id), "order_number": str(order.number)},
                "line_items": [
                    {
                        "quantity": 1,
                        "price_data": {
                            "currency": order.currency.lower(),
                            "unit_amount": order.total,
                            "product_data": {"name": f"{store.name} order #{order.number}"},
                        },
                    }
                ],
                "success_url": success_url,
                "cancel_url": cancel_url,
            },
            # A retried request can't create a second session for the same order.
            options={"idempotency_key": f"pasar-order-{order.id}"},
        )
    except stripe.StripeError as exc:
        current_app.logger.warning("stripe session for order %s failed: %s", order.id, exc)
        raise ProviderError("We couldn't start the payment with Stripe. Please try again.") from exc
    return PaymentStart(redirect_url=session.url, reference=session.id)


def _midtrans_auth(settings: CheckoutSettings) -> tuple[str, str]:
    key = decrypt(settings.midtrans_server_key)
    if not key:
        raise ProviderError("Midtrans is not set up for this store yet.")
    return (key, "")


STRIPE_CHECKOUT_ORIGIN = "https://checkout.stripe.com"


def hosted_page_origins() -> list[str]:
    """Origins of the providers' hosted payment pages, where a placed order is redirected."""
    snap = current_app.config.get("MIDTRANS_SNAP_BASE")
    configured = [f"{urlsplit(snap).scheme}://{urlsplit(snap).netloc}"] if snap else []
    return [
        STRIPE_CHECKOUT_ORIGIN,
        "https://app.midtrans.com",
        "https://app.sandbox.midtrans.com",
        *configured,
    ]


def _midtrans_base(settings: CheckoutSettings, kind: str) -> str:
    configured = current_app.config.get(f"MIDTRANS_{kind.upper()}_BASE")
    if configured:
        return configured.rstrip("/")
    host = {"snap": "app", "api": "api"}[kind]
    return f"https://{host}.{'' if settings.midtrans_production else 'sandbox.'}midtrans.com"


def start_midtrans(store, order, settings: CheckoutSettings, *, finish_url: str) -> PaymentStart:
    """Create a Snap transaction; Midtrans wants the gross amount in whole currency units."""
    amount = whole_major_units(order.total, order.currency)
    if amount is None:
        raise ProviderError("Midtrans needs a whole-number amount.")
    body = {
        "transaction_details": {
            "order_id": midtrans_order_id(store, order),
            "gross_amount": amount,
        },
        "customer_details": {"email": order.email},
        "callbacks": {"finish": finish_url},
    }
    try:
        response = requests.post(
            f"{_midtrans_base(settings, 'snap')}/snap/v1/transactions",
            json=body,
            auth=_midtrans_auth(settings),
            timeout=15,
        )
        response.raise_for_status()
        data = response.json()
        return PaymentStart(redirect_url=data["redirect_url"], reference=data["token"])
    except (requests.RequestException, ValueError, KeyError) as exc:
        current_app.logger.warning("midtrans snap for order %s failed: %s", order.id, exc)
        raise ProviderError(
            "We couldn't start the payment with Midtrans. Please try again."
        ) from exc


def midtrans_status(settings: CheckoutSettings, order_id: str) -> dict:
    """The transaction's status as Midtrans reports it now (the truth behind a notification)."""
    response = requests.get(
        f"{_midtrans_base(settings, 'api')}/v2/{order_id}/status",
        auth=_midtrans_auth(settings),
        timeout=15,
    )
    response.raise_for_status()
    return response.json()


def refund_stripe(
    settings: CheckoutSettings, payment_intent: str, amount: int, *, idempotency_key: str
) -> str:
    """Refund `amount` minor units of a Stripe payment; returns Stripe's refund id."""
    try:
        refund = _stripe(settings).v1.refunds.create(
            params={"payment_intent": payment_intent, "amount": amount},
            # A retried or double-submitted refund can't refund twice.
            options={"idempotency_key": idempotency_key},
        )
    except stripe.StripeError as exc:
        current_app.logger.warning("stripe refund of %s failed: %s", payment_intent, exc)
        message = getattr(exc, "user_message", None) or "Stripe refused the refund."
        raise ProviderError(f"{message} Nothing was refunded.") from exc
    if getattr(refund, "status", None) in ("failed", "canceled"):
        raise ProviderError("Stripe could not carry out the refund. Nothing was refunded.")
    return refund.id


def refund_midtrans(
    settings: CheckoutSettings,
    order_id: str,
    amount: int,
    currency: str,
    *,
    refund_key: str,
    reason: str,
) -> str:
    """Refund `amount` minor units of a Midtrans transaction (sent in whole currency units)."""
    whole = whole_major_units(amount, currency)
    if whole is None:
        raise ProviderError("Midtrans can only refund whole-number amounts.")
    try:
        response = requests.post(
            f"{_midtrans_base(settings, 'api')}/v2/{order_id}/refund",
            json={"refund_key": refund_key, "amount": whole, "reason": reason[:255]},
            auth=_midtrans_auth(settings),
            timeout=15,
        )
        response.raise_for_status()
        data = response.json()
    except (requests.RequestException, ValueError) as exc:
        current_app.logger.warning("midtrans refund of %s failed: %s", order_id, exc)
        raise ProviderError("Midtrans could not be reached. Nothing was refunded.") from exc
    # Midtrans answers HTTP 200 with its own status_code in the body.
    if str(data.get("status_code")) not in ("200", "201"):
        current_app.logger.warning("midtrans refund of %s refused: %s", order_id, data)
        message = str(data.get("status_message") or "Midtrans refused the refund.")[:200]
        raise ProviderError(f"Midtrans refused the refund: {message}")
    return str(data.get("refund_key") or refund_key)
