"""The send-email job: delivers one EmailMessage row over SMTP, or logs it."""

import logging
import smtplib
from datetime import timedelta
from email.message import EmailMessage as MimeMessage
from email.utils import make_msgid

from flask import current_app
from sqlalchemy import or_, update

from app.database import utcnow
from app.extensions import db
from app.live import jobs_changed
from app.notifications.models import EmailMessage
from tenants.rls import spans_stores

log = logging.getLogger(__name__)

# A claim older than this belongs to a worker that died; the message may be claimed again.
CLAIM_TIMEOUT = timedelta(minutes=10)


# The outbox is the platform's: a message is sent by its id whichever store it belongs to (a
# job queued outside any store, e.g. by the console or a test, must still find its row).
@spans_stores("email outbox: send one message")
def send_email(message_id: int) -> str:
    """Deliver EmailMessage `message_id`; safe to run twice (a sent message is not re-sent)."""
    now = utcnow()
    claimed = db.session.execute(
        update(EmailMessage)
        .where(
            EmailMessage.id == message_id,
            or_(
                EmailMessage.status == "queued",
                (EmailMessage.status == "sending")
                & (EmailMessage.claimed_at < now - CLAIM_TIMEOUT),
            ),
        )
        .values(status="sending", claimed_at=now, attempts=EmailMessage.attempts + 1)
    ).rowcount
    db.session.commit()
    message = db.session.get(EmailMessage, message_id)
    if message is None:
        raise LookupError(f"email message {message_id} does not exist")
    if not claimed:
        log.info("email %s already %s; nothing to do", message_id, message.status)
        return message.status

    config = current_app.config
    try:
        if config["MAIL_SERVER"]:
            _deliver_smtp(message, config)
            message.status = "sent"
        else:
            log.info(
                "MAIL_SERVER is not set; email %s not sent.\nTo: %s\nSubject: %s\n\n%s",
                message.id,
                message.to_address,
                message.subject,
                message.text_body,
            )
            message.status = "logged"
        message.sent_at = utcnow()
        message.last_error = None
        if message.store_id:
            jobs_changed(message.store_id)  # the job centre's email list
        db.session.commit()
    except Exception as exc:
        db.session.rollback()
        message = db.session.get(EmailMessage, message_id)
        # Back to "queued" so the retry (or the sweep) can claim it again.
        message.status = "queued"
        message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        db.session.commit()
        raise
    return message.status


@spans_stores("email outbox: mark a message failed")
def on_send_failure(job, connection, exc_type, exc_value, traceback) -> None:
    """RQ failure callback: after the last attempt, mark the message failed for people to see."""
    if job.retries_left:
        return
    message = db.session.get(EmailMessage, job.args[0])
    if message is not None and message.status in ("queued", "sending"):
        message.status = "failed"
        message.last_error = f"{exc_type.__name__}: {exc_value}"[:2000]
        if message.store_id:
            jobs_changed(message.store_id)
        db.session.commit()


def _deliver_smtp(message: EmailMessage, config) -> None:
    mime = MimeMessage()
    mime["From"] = config["MAIL_DEFAULT_SENDER"]
    mime["To"] = message.to_address
    mime["Subject"] = message.subject
    # A stable Message-ID lets receiving servers drop a duplicate if a retry re-sends.
    mime["Message-ID"] = make_msgid(idstring=f"pasar-{message.id}", domain=config["PLATFORM_HOST"])
    mime.set_content(message.text_body)
    if message.html_body:
        mime.add_alternative(message.html_body, subtype="html")
    smtp_class = smtplib.SMTP_SSL if config["MAIL_USE_SSL"] else smtplib.SMTP
    with smtp_class(
        config["MAIL_SERVER"], config["MAIL_PORT"], timeout=config["MAIL_TIMEOUT"]
    ) as smtp:
        if config["MAIL_USE_TLS"]:
            smtp.starttls()
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
        smtp.send_message(mime)
