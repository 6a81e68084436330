"""The console's jobs and emails: RQ queues, workers and failed jobs (retry, delete), and the
email log (search, one message, resend). Every action is audited."""

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from app.accounts.permissions import require_superuser
from app.audit.service import record
from app.background import QUEUES
from app.catalog.browse import clean
from app.console import bp, queries
from app.extensions import db
from app.notifications.models import EMAIL_STATUSES, EmailMessage
from app.notifications.service import send_now
from tenants.query import MAX_ID

FAILED_SHOWN = 50  # failed jobs listed per queue
# Emails whose text carries a code or link that acts for the recipient: admins don't read them.
SECRET_TEMPLATES = frozenset(
    {"verify_email", "signin_code", "email_change_code", "password_reset", "staff_invite"}
)
EMAILS_PER_PAGE = 50


@bp.get("/jobs")
@require_superuser
def jobs():
    """Queues, workers, failed jobs, and payment work waiting on an unreachable provider."""
    from app.payments.outages import provider_outages

    inline = current_app.config["JOBS_INLINE"]
    state = (
        {"queues": [], "failed": [], "workers": [], "error": None}
        if inline
        else queries.rq_state(FAILED_SHOWN)
    )
    return render_template("console/jobs.html", inline=inline, outages=provider_outages(), **state)


@bp.post("/jobs/<any(retry, delete):action>/<queue>/<job_id>")
@require_superuser
def job_action(action: str, queue: str, job_id: str):
    """Requeue a failed job, or delete it from the failed registry."""
    from redis.exceptions import RedisError
    from rq import Queue
    from rq.exceptions import InvalidJobOperation, NoSuchJobError
    from rq.job import Job

    from app.extensions import redis_client

    if current_app.config["JOBS_INLINE"] or queue not in QUEUES or len(job_id) > 100:
        abort(404)
    try:
        conn = redis_client.get()
        registry = Queue(queue, connection=conn).failed_job_registry
        if job_id not in registry.get_job_ids():
            abort(404)
        if action == "retry":
            registry.requeue(job_id)
            message = gettext("Job %(job)s is queued again.", job=job_id)
        else:
            registry.remove(Job.fetch(job_id, connection=conn), delete_job=True)
            message = gettext("Job %(job)s deleted.", job=job_id)
    except (NoSuchJobError, InvalidJobOperation):
        abort(404)
    except RedisError as error:
        flash(gettext("Redis is unreachable: %(error)s", error=error), "error")
        return redirect(url_for(".jobs"), 303)
    record(f"job.{action}", actor=current_user, job_id=job_id, queue=queue)
    db.session.commit()
    flash(message, "success")
    return redirect(url_for(".jobs"), 303)


@bp.get("/emails/")
@require_superuser
def emails():
    """Every email Pasar sent or tried to, newest first; search by address or subject."""
    q = clean(request.args.get("q"), 120).strip()
    status = request.args.get("status", "")
    if status not in EMAIL_STATUSES:
        status = ""
    messages = queries.emails(q, status, request.args.get("page"), EMAILS_PER_PAGE)
    return render_template(
        "console/emails/list.html",
        messages=messages,
        q=q,
        status=status,
        statuses=EMAIL_STATUSES,
    )


def _message_or_404(message_id: int) -> EmailMessage:
    message = db.session.get(EmailMessage, message_id) if 1 <= message_id <= MAX_ID else None
    if message is None:
        abort(404)
    return message


@bp.get("/emails/<int:message_id>")
@require_superuser
def email_detail(message_id: int):
    message = _message_or_404(message_id)
    return render_template(
        "console/emails/detail.html",
        message=message,
        hidden=message.template in SECRET_TEMPLATES,
    )


@bp.post("/emails/<int:message_id>/resend")
@require_superuser
def email_resend(message_id: int):
    """Send a copy of the message again (the original stays in the log as it was)."""
    original = _message_or_404(message_id)
    copy = EmailMessage(
        to_address=original.to_address,
        subject=original.subject,
        template=original.template,
        text_body=original.text_body,
        html_body=original.html_body,
        store_id=original.store_id,
        status="queued",
    )
    db.session.add(copy)
    db.session.flush()
    record(
        "email.resent",
        actor=current_user,
        original=original.id,
        copy=copy.id,
        to=original.to_address,
    )
    db.session.commit()
    send_now(copy.id)
    flash(gettext("A copy is on its way to %(address)s.", address=original.to_address), "success")
    return redirect(url_for(".email_detail", message_id=copy.id), 303)
