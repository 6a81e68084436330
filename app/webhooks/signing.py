"""Standard Webhooks signatures (https://www.standardwebhooks.com): secrets and headers.

The signature is the spec's v1: base64 HMAC-SHA256, keyed with the secret's decoded bytes, of
"{webhook-id}.{webhook-timestamp}.{body}". Signing goes through the `standardwebhooks`
package so a receiver using any of the spec's libraries verifies exactly what we send.
"""

import base64
import secrets
from datetime import UTC, datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105  (the spec's prefix, not a secret)
SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh signing secret in the spec's form: `whsec_` and base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signature(secret: str, message_id: str, timestamp: int, body: str) -> str:
    """The `webhook-signature` value ("v1,<base64>") for this message."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return Webhook(secret).sign(msg_id=message_id, timestamp=moment, data=body)


def headers(secret: str, message_id: str, timestamp: int, body: str) -> dict[str, str]:
    """Every header a delivery carries, signed at send time (a retry gets a fresh timestamp)."""
    return {
        "Content-Type": "application/json",
        "User-Agent": "Pasar-Webhooks/1",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, message_id, timestamp, body),
    }
