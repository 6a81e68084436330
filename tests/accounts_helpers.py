"""Helpers for account tests: read the emails the app sent, pull codes and links out of them."""

import html
import re

from sqlalchemy import select

from app.extensions import db
from app.notifications.models import EmailMessage


def emails_to(app, address: str) -> list[EmailMessage]:
    """Every email recorded for `address`, oldest first (detached)."""
    with app.app_context():
        rows = db.session.scalars(
            select(EmailMessage).where(EmailMessage.to_address == address).order_by(EmailMessage.id)
        ).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def last_email(app, address: str) -> EmailMessage:
    rows = emails_to(app, address)
    assert rows, f"no email was sent to {address}"
    return rows[-1]


def code_in(text: str) -> str:
    match = re.search(r"\b(\d{6})\b", text)
    assert match, f"no 6-digit code in: {text!r}"
    return match.group(1)


def link_in(text: str) -> str:
    match = re.search(r"https?://\S+/account/reset/\S+", text)
    assert match, f"no reset link in: {text!r}"
    return match.group(0)


def text(response) -> str:
    """The response body with HTML entities decoded, for asserting on messages."""
    return html.unescape(response.get_data(as_text=True))


def flashes(response) -> str:
    """The text of the flash messages on a page."""
    return " ".join(re.findall(r'class="flash[^"]*"[^>]*>(.*?)</', text(response), flags=re.S))
