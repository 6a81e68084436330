"""The console's jobs page on real Redis: queues, a worker, a failed job with its exception,
retry and delete (audited)."""

from rq import SimpleWorker
from sqlalchemy import select

from app.audit.models import AuditLog
from app.background import enqueue, get_queue
from app.extensions import db, redis_client
from tests.accounts_helpers import sign_in_with_factor
from tests.conftest import HostClient
from tests.factories import make_user
from tests.integration import sample_jobs
from tests.integration.conftest import PRODUCTION_MODE

pytestmark = PRODUCTION_MODE


def test_failed_jobs_are_listed_retried_and_deleted(production_app):
    with production_app.app_context():
        redis_client.get().flushdb()
        first = enqueue(sample_jobs.always_fails, retries=0)
        second = enqueue(sample_jobs.always_fails, retries=0)
        SimpleWorker([get_queue("default")], connection=redis_client.get()).work(burst=True)
    admin = HostClient(production_app, production_app.response_class, use_cookies=True)
    with production_app.app_context():
        root = make_user("root@example.com", superuser=True)
    sign_in_with_factor(admin, root)
    page = admin.get("/console/jobs")
    assert page.status_code == 200
    assert "always_fails" in page.text and "broken on purpose" in page.text
    assert "No worker is running" in page.text  # the burst worker has gone
    assert "2 failed" in page.text
    assert admin.post(f"/console/jobs/retry/default/{first.id}").status_code == 303
    with production_app.app_context():
        assert first.id in get_queue("default").get_job_ids()
    assert admin.post(f"/console/jobs/delete/default/{second.id}").status_code == 303
    after = admin.get("/console/jobs")
    assert f'id="job-{second.id}"' not in after.text and "deleted." in after.text
    assert admin.post("/console/jobs/delete/default/no-such-job").status_code == 404
    assert admin.post(f"/console/jobs/delete/nosuchqueue/{first.id}").status_code == 404
    with production_app.app_context():
        actions = db.session.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
    assert "job.retry" in actions and "job.delete" in actions
