"""The send-email job, inline: SMTP when configured, the log otherwise, always recorded."""

import logging

from sqlalchemy import select

from app.extensions import db
from app.notifications.models import EmailMessage
from app.notifications.service import queue_email
from jobs.email import send_email
from tests.conftest import free_port


def _configure_smtp(app, port):
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_TIMEOUT=5)


def test_email_is_sent_over_smtp_and_recorded(app, smtp_server):
    _configure_smtp(app, smtp_server.port)
    with app.test_request_context():
        message = queue_email("shopper@example.com", "Hello there", "test_message")
        db.session.refresh(message)
        assert message.status == "sent" and message.attempts == 1 and message.sent_at
    assert len(smtp_server.messages) == 1
    received = smtp_server.messages[0]
    assert received["To"] == "shopper@example.com"
    assert received["Subject"] == "Hello there"
    assert "pasar-" in received["Message-ID"]
    assert "the mail settings work" in received.get_body(("plain",)).get_content()
    assert "<p>Hello,</p>" in received.get_body(("html",)).get_content()


def test_running_the_job_twice_sends_once(app, smtp_server):
    _configure_smtp(app, smtp_server.port)
    with app.test_request_context():
        message = queue_email("a@example.com", "Once", "test_message")
        assert send_email(message.id) == "sent"
    assert len(smtp_server.messages) == 1


def test_without_mail_server_the_email_is_logged(app, caplog):
    caplog.set_level(logging.INFO, logger="jobs.email")
    with app.test_request_context():
        message = queue_email("b@example.com", "Logged only", "test_message")
        db.session.refresh(message)
        assert message.status == "logged"
    assert "Logged only" in caplog.text and "b@example.com" in caplog.text


def test_smtp_failure_is_recorded_not_raised_into_the_request(app):
    _configure_smtp(app, free_port())  # nothing listens there
    with app.test_request_context():
        message = queue_email("c@example.com", "Doomed", "test_message")
        message_id = message.id
    with app.app_context():
        stored = db.session.get(EmailMessage, message_id)
        # Inline mode has no retries left, so the failure is final and visible.
        assert stored.status == "failed"
        assert "ConnectionRefusedError" in stored.last_error
        assert stored.attempts == 1


def test_every_send_is_in_the_outbox(app):
    with app.test_request_context():
        for i in range(3):
            queue_email(f"user{i}@example.com", f"Message {i}", "test_message")
        rows = db.session.scalars(select(EmailMessage).order_by(EmailMessage.id)).all()
    assert [r.subject for r in rows] == ["Message 0", "Message 1", "Message 2"]
    assert {r.status for r in rows} == {"logged"}
