"""The store's job centre: syncs, emails and pictures with state, progress, errors, retry and
cancel; only the store's own jobs (SQLite and PostgreSQL)."""

import io
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.catalog.models import ProductImage
from app.database import utcnow
from app.extensions import db
from app.notifications.models import EmailMessage
from app.stocksync.models import ImportRun
from tests.conftest import sign_in_as
from tests.factories import add_member, make_user
from tests.services.test_browse import count_queries
from tests.web.order_helpers import make_variant, owner_of


@pytest.fixture
def owner_client(app, client_for, store_a):
    client = client_for(store_a)
    sign_in_as(client, owner_of(app, store_a))
    return client


def _email(app, store, status: str, to: str = "sam@example.com", error: str | None = None) -> int:
    with app.app_context():
        message = EmailMessage(
            to_address=to,
            subject=f"Your order ({status})",
            template="order_paid",
            text_body="Thanks",
            store_id=store.id,
            status=status,
            attempts=4 if status == "failed" else 1,
            last_error=error,
        )
        db.session.add(message)
        db.session.commit()
        return message.id


def _sync(client, body: str) -> int:
    response = client.post(
        "/admin/stock-sync/",
        data={"file": (io.BytesIO(body.encode()), "counts.csv")},
        content_type="multipart/form-data",
    )
    return int(response.headers["Location"].rsplit("/", 1)[1])


@pytest.mark.backends("sqlite")  # markup
def test_the_job_centre_shows_syncs_emails_and_pictures(app, store_a, owner_client):
    make_variant(store_a, "LAMP", 1000, stock=1)
    run_id = _sync(owner_client, "sku,stock\nLAMP,4\nGHOST,1\n")
    failed = _email(app, store_a, "failed", error="SMTPRecipientsRefused: 550 no such user")
    _email(app, store_a, "sent", to="kim@example.com")
    page = owner_client.get("/admin/jobs")
    assert page.status_code == 200
    text = page.text
    assert f'id="job-sync-{run_id}"' in text and "Ready to apply" in text and "counts.csv" in text
    assert "1 problems (CSV)" in text and f"/admin/stock-sync/{run_id}/errors.csv" in text
    assert "550 no such user" in text and f"/admin/jobs/emails/{failed}/retry" in text
    assert "kim@example.com" in text
    assert "Every picture is processed." in text
    assert "every 2s" not in text and 'hx-trigger="sse:jobs"' in text  # live, no polling
    only_failed = owner_client.get("/admin/jobs?emails=failed")
    assert "550 no such user" in only_failed.text and "kim@example.com" not in only_failed.text
    assert owner_client.get("/admin/jobs?emails=junk").status_code == 200


@pytest.mark.backends("sqlite")  # markup and an htmx fragment
def test_a_working_sync_makes_the_lists_refresh_and_htmx_gets_just_them(app, store_a, owner_client):
    make_variant(store_a, "LAMP", 1000, stock=1)
    run_id = _sync(owner_client, "sku,stock\nLAMP,4\n")
    with app.app_context():
        db.session.execute(
            update(ImportRun)
            .where(ImportRun.id == run_id)
            .values(status="applying", phase="apply", total_rows=4, processed_rows=1)
        )
        db.session.commit()
    page = owner_client.get("/admin/jobs")
    assert 'hx-trigger="sse:jobs, every 2s"' in page.text and 'value="25"' in page.text
    fragment = owner_client.get("/admin/jobs", headers={"HX-Request": "true"})
    assert fragment.text.lstrip().startswith('<div id="job-lists"') and "<html" not in fragment.text


@pytest.mark.backends("sqlite")  # an htmx fragment
def test_htmx_gets_the_lists_with_a_previewed_sync_and_its_cancel_question(
    app, store_a, owner_client
):
    """The lists block calls a macro the page imports at its top (confirm_first): rendered
    alone for htmx it must have it too. It didn't: a 500 each refresh while a sync waited to
    be applied, which only production mode's refresh showed."""
    make_variant(store_a, "LAMP", 1000, stock=1)
    run_id = _sync(owner_client, "sku,stock\nLAMP,4\n")
    with app.app_context():
        assert db.session.get(ImportRun, run_id).status == "previewed"
    fragment = owner_client.get("/admin/jobs", headers={"HX-Request": "true"})
    assert fragment.status_code == 200, fragment.text[:500]
    assert f"Cancel stock sync #{run_id}?" in fragment.text and "<html" not in fragment.text


def test_a_failed_email_is_retried_once(app, store_a, owner_client):
    failed = _email(app, store_a, "failed", error="timeout")
    sent = _email(app, store_a, "sent")
    response = owner_client.post(f"/admin/jobs/emails/{failed}/retry")
    assert response.status_code == 303
    with app.app_context():
        row = db.session.get(EmailMessage, failed)
        assert row.status in ("sent", "logged") and row.attempts == 1  # sent again, inline here
    again = owner_client.post(f"/admin/jobs/emails/{sent}/retry", follow_redirects=True)
    assert "Only a failed email can be retried." in again.text


def test_a_lost_picture_job_can_be_queued_again(app, store_a, owner_client):
    from tests.web.test_roles import one_png  # a real PNG upload

    make_variant(store_a, "LAMP", 1000, stock=1)
    from app.catalog.images import add_image
    from app.catalog.models import Product

    with app.app_context():
        product = db.session.scalars(select(Product)).first()
        image = add_image(product, one_png()["images"][0][0].read())
        db.session.execute(
            update(ProductImage)
            .where(ProductImage.id == image.id)
            .values(status="processing", created_at=utcnow() - timedelta(hours=1))
        )
        db.session.commit()
        image_id = image.id
    assert "the job may be lost" in owner_client.get("/admin/jobs").text
    assert owner_client.post(f"/admin/jobs/images/{image_id}/retry").status_code == 303
    with app.app_context():
        assert db.session.get(ProductImage, image_id).status == "ready"
    refused = owner_client.post(f"/admin/jobs/images/{image_id}/retry", follow_redirects=True)
    assert "Only an image stuck in processing can be queued again." in refused.text


def test_other_stores_jobs_are_invisible_and_unreachable(
    app, store_a, store_b, owner_client, client_for
):
    theirs = _email(app, store_b, "failed", to="secret@bravo.example.com")
    assert "secret@bravo.example.com" not in owner_client.get("/admin/jobs?emails=failed").text
    assert owner_client.post(f"/admin/jobs/emails/{theirs}/retry").status_code == 404
    assert owner_client.post("/admin/jobs/emails/99999999999999/retry").status_code == 404
    assert owner_client.post("/admin/jobs/images/4242/retry").status_code == 404
    stranger = client_for(store_b)
    sign_in_as(stranger, owner_of(app, store_a))
    assert stranger.get("/admin/jobs").status_code == 404


@pytest.mark.backends("sqlite")  # a role refusal
def test_staff_see_no_job_centre(app, store_a, client_for):
    staff = make_user("stocker@example.com")
    add_member(store_a, staff, "staff")
    client = client_for(store_a)
    sign_in_as(client, staff)
    assert client.get("/admin/jobs").status_code == 403


def test_the_job_centre_runs_a_fixed_number_of_queries(app, store_a, owner_client):
    make_variant(store_a, "LAMP", 1000, stock=1)
    counts = []
    for _ in range(2):
        for n in range(8):
            _email(app, store_a, "failed" if n % 2 else "sent")
            _sync(owner_client, f"sku,stock\nLAMP,{n + 2}\n")
        with app.app_context(), count_queries() as counter:
            assert owner_client.get("/admin/jobs").status_code == 200
        counts.append(counter.count)
    # 12: the payments-waiting-on-a-provider panel reads its two outboxes once each.
    assert counts[0] == counts[1] <= 12, counts
