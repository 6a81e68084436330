"""Queuing emails: render the templates, write the outbox row, enqueue the send job."""

from flask import render_template
from jinja2 import TemplateNotFound

from app.background import enqueue_after_commit
from app.extensions import db
from app.i18n import current_language, use_language
from app.notifications.models import EmailMessage


def record_email(
    to: str, subject, template: str, *, store=None, language: str | None = None, **context
) -> EmailMessage:
    """Render `emails/<template>.txt` (and `.html`) in `language` and add the outbox row to the
    session, uncommitted: it exists only if the caller's transaction commits, with the change it
    reports. After the commit, `send_now(message.id)`; if that never happens, the sweep sends it.

    `subject` may be lazy (`lazy_gettext`): it is translated here, in `language`; without a
    language the email speaks the language of the page that caused it (`app.i18n`).
    """
    context.setdefault("store", store)
    with use_language(language or current_language()) as spoken:
        subject = str(subject)
        text_body = render_template(f"emails/{template}.txt", subject=subject, **context)
        try:
            html_body = render_template(
                f"emails/{template}.html", subject=subject, lang=spoken, **context
            )
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
    return message


def queue_email(
    to: str, subject, template: str, *, store=None, language: str | None = None, **context
) -> EmailMessage:
    """`record_email`, committed and sent in the background."""
    message = record_email(to, subject, template, store=store, language=language, **context)
    db.session.commit()
    send_now(message.id)
    return message


def send_now(message_id: int) -> None:
    """Enqueue the send job for a committed message; if Redis is down, the sweep sends it later."""
    enqueue_after_commit(
        "jobs.email.send_email",
        message_id,
        queue="email",
        job_id=f"email-{message_id}",  # the sweep looks for it before queuing a copy
        on_failure="jobs.email.on_send_failure",
    )
