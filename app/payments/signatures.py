"""Webhook signature checks for each payment provider, run on the raw request body.

Each function returns normally when the signature is genuine and raises SignatureError
otherwise; callers answer 400 and store nothing on SignatureError.
"""

import hashlib
import hmac
import time


class SignatureError(ValueError):
    """The webhook's signature is missing, malformed, stale or wrong."""


STRIPE_TOLERANCE = 300  # seconds; Stripe's own libraries use the same default


def stripe_signature(payload: bytes, secret: str, timestamp: int) -> str:
    """The v1 signature Stripe computes: HMAC-SHA256 of "{t}.{body}" with the endpoint secret."""
    signed = f"{timestamp}.".encode() + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def verify_stripe(
    payload: bytes,
    header: str | None,
    secret: str,
    *,
    tolerance: int = STRIPE_TOLERANCE,
    now: float | None = None,
) -> int:
    """Check a `Stripe-Signature` header ("t=...,v1=...[,v1=...]"); returns its timestamp."""
    if not header or not secret:
        raise SignatureError("missing Stripe-Signature header or endpoint secret")
    timestamp, candidates = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureError("malformed Stripe-Signature header")
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        raise SignatureError("Stripe-Signature timestamp outside the tolerance")
    expected = stripe_signature(payload, secret, timestamp)
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise SignatureError("Stripe signature does not match")
    return timestamp


def midtrans_signature(order_id: str, status_code: str, gross_amount: str, server_key: str) -> str:
    """Midtrans' signature_key: SHA-512 of order_id + status_code + gross_amount + server key."""
    material = f"{order_id}{status_code}{gross_amount}{server_key}".encode()
    return hashlib.sha512(material).hexdigest()


def verify_midtrans(notification: dict, server_key: str) -> None:
    """Check a Midtrans HTTP notification's signature_key.

    The signature has no timestamp, so a captured notification can be replayed: treat a
    verified notification as a hint and re-check the transaction status with Midtrans.
    """
    if not server_key:
        raise SignatureError("no Midtrans server key configured")
    fields = [
        notification.get(k) for k in ("order_id", "status_code", "gross_amount", "signature_key")
    ]
    if not all(isinstance(f, str) and f for f in fields):
        raise SignatureError("Midtrans notification lacks signature fields")
    order_id, status_code, gross_amount, given = fields
    expected = midtrans_signature(order_id, status_code, gross_amount, server_key)
    if not hmac.compare_digest(expected, given.lower()):
        raise SignatureError("Midtrans signature does not match")


def gateway_signature(payload: bytes, secret: str, timestamp: int) -> str:
    """Pasar's own test gateway signs like Stripe does, so the same rules are exercised offline."""
    return stripe_signature(payload, secret, timestamp)
