"""The store's job centre: payments waiting on a provider, stock syncs, emails and images,
with what each job is doing, how far it got, why it failed, and retry or cancel where that
makes sense.

It reads the rows the jobs keep their truth in (ImportRun, EmailMessage, ProductImage), never
RQ's registries, so it says the same thing in embedded and production mode and a lost job shows
as stalled instead of running forever. While something is working, htmx refreshes the lists.
"""

from datetime import timedelta

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext
from sqlalchemy import func, select, update

from app.accounts.permissions import require_store_permission
from app.audit.service import record
from app.background import enqueue_after_commit
from app.catalog.models import Product, ProductImage
from app.dashboard import bp
from app.database import utcnow
from app.extensions import db
from app.notifications.models import EmailMessage
from app.notifications.service import send_now
from app.payments.outages import retried_deliveries, retried_events
from app.rendering import render_page_or_fragment
from app.stocksync.models import WORKING, ImportRun
from tenants.context import current_store
from tenants.query import MAX_ID, get_for_store_or_404, scoped_select

LIMIT = 15
EMAIL_FILTERS = {"all": None, "failed": ("failed",), "waiting": ("queued", "sending")}
STUCK_IMAGE = timedelta(minutes=10)


def _lists(email_filter: str):
    store = current_store()
    syncs = db.session.scalars(
        scoped_select(ImportRun, store).order_by(ImportRun.id.desc()).limit(LIMIT)
    ).all()
    emails = scoped_select(EmailMessage, store)
    if EMAIL_FILTERS[email_filter]:
        emails = emails.where(EmailMessage.status.in_(EMAIL_FILTERS[email_filter]))
    email_rows = db.session.scalars(emails.order_by(EmailMessage.id.desc()).limit(LIMIT)).all()
    email_counts = dict(
        db.session.execute(
            select(EmailMessage.status, func.count())
            .where(EmailMessage.store_id == store.id)
            .group_by(EmailMessage.status)
        ).all()
    )
    images = db.session.execute(
        scoped_select(ProductImage, store)
        .add_columns(Product.title)
        .join(Product, Product.id == ProductImage.product_id)
        .where(ProductImage.status != "ready")
        .order_by(ProductImage.id.desc())
        .limit(LIMIT)
    ).all()
    working = any(run.status in WORKING for run in syncs) or any(
        image.status == "processing" for image, _ in images
    )
    return {
        "payment_events": retried_events(store.id),
        "payment_deliveries": retried_deliveries(store.id),
        "syncs": syncs,
        "emails": email_rows,
        "email_counts": email_counts,
        "email_filter": email_filter,
        "images": images,
        "working": working,
        "stuck_before": utcnow() - STUCK_IMAGE,
    }


@bp.get("/jobs")
@require_store_permission("stock.sync")
def job_centre():
    """Every background job of this store, newest first; htmx refreshes the lists."""
    email_filter = request.args.get("emails", "all")
    if email_filter not in EMAIL_FILTERS:
        email_filter = "all"
    return render_page_or_fragment("admin/jobs.html", "lists", **_lists(email_filter))


@bp.post("/jobs/emails/<int:message_id>/retry")
@require_store_permission("stock.sync")
def job_email_retry(message_id: int):
    """Send a failed email again (the same message, so it is never sent twice at once)."""
    if message_id > MAX_ID:
        abort(404)
    message = get_for_store_or_404(EmailMessage, message_id)
    retried = db.session.execute(
        update(EmailMessage)
        .where(EmailMessage.id == message.id, EmailMessage.status == "failed")
        .values(status="queued", attempts=0, updated_at=utcnow())
    ).rowcount
    if not retried:
        db.session.rollback()
        flash(gettext("Only a failed email can be retried."), "error")
        return redirect(url_for("dashboard.job_centre"), 303)
    record("email.retried", store=current_store(), target=message, to=message.to_address)
    db.session.commit()
    send_now(message.id)
    flash(
        gettext("The email to %(address)s is being sent again.", address=message.to_address),
        "success",
    )
    return redirect(url_for("dashboard.job_centre"), 303)


@bp.post("/jobs/images/<int:image_id>/retry")
@require_store_permission("products.edit")
def job_image_retry(image_id: int):
    """Queue again an image whose processing job was lost (still processing after a while)."""
    if image_id > MAX_ID:
        abort(404)
    image = get_for_store_or_404(ProductImage, image_id)
    if image.status != "processing" or image.created_at > utcnow() - STUCK_IMAGE:
        flash(gettext("Only an image stuck in processing can be queued again."), "error")
        return redirect(url_for("dashboard.job_centre"), 303)
    if enqueue_after_commit("jobs.images.process_product_image", image.id, queue="default") is None:
        flash(gettext("The job queue can't be reached right now. Try again in a minute."), "error")
        return redirect(url_for("dashboard.job_centre"), 303)
    flash(gettext("The picture is queued for processing again."), "success")
    return redirect(url_for("dashboard.job_centre"), 303)
