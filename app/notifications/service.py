"""Queuing emails: render the templates, write the outbox row, enqueue the send job."""

from flask import render_template
from jinja2 import TemplateNotFound

from app.extensions import db
from app.notifications.models import EmailMessage
from jobs import enqueue_after_commit


def queue_email(to: str, subject: str, template: str, *, store=None, **context) -> EmailMessage:
    """Render `emails/<template>.txt` (and `.html`), record it, send it in the background."""
    context.setdefault("store", store)
    text_body = render_template(f"emails/{template}.txt", subject=subject, **context)
    try:
        html_body = render_template(f"emails/{template}.html", subject=subject, **context)
    except TemplateNotFound:
        html_body = None
    message = EmailMessage(
        to_address=to,
        subject=subject,
        template=template,
        text_body=text_body,
        html_body=html_body,
        store_id=getattr(store, "id", None),
        status="queued",
    )
    db.session.add(message)
    db.session.commit()
    send_now(message.id)
    return message


def send_now(message_id: int) -> None:
    """Enqueue the send job for a committed message; if Redis is down, the sweep sends it later."""
    from jobs.email import on_send_failure, send_email

    enqueue_after_commit(send_email, message_id, queue="email", on_failure=on_send_failure)
