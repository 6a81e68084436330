"""CSV stock sync on a real rq worker: preview and apply through Redis, and a worker killed in
the middle of a run (kill -9 on its process group) leaves whole batches, then resumes."""

import io
import os
import signal
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from app.catalog.models import Variant
from app.extensions import db
from app.inventory.models import StockMovement
from app.stocksync import service
from app.stocksync.models import ImportRun
from tests.bulk import bulk_variants
from tests.conftest import PLATFORM, HostClient, sign_in_as
from tests.factories import make_store
from tests.integration.conftest import PRODUCTION_MODE, ROOT, wait_for
from tests.web.order_helpers import owner_of

pytestmark = PRODUCTION_MODE


def _store_with_variants(app, count: int):
    """A store with `count` single-variant products (stock 1), made in bulk."""
    with app.app_context():
        store = make_store("syncs", "Sync Shop")
        bulk_variants(store.id, count)
        return store


def _client(app, store):
    client = HostClient(app, app.response_class, use_cookies=True)
    client.host = f"{store.slug}.{PLATFORM}"
    sign_in_as(client, owner_of(app, store))
    return client


def _run(app, run_id):
    with app.app_context():
        run = db.session.get(ImportRun, run_id)
        db.session.expunge(run)
        return run


def _upload(client, body: str) -> int:
    response = client.post(
        "/admin/stock-sync/",
        data={"file": (io.BytesIO(body.encode()), "stock.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303, response.text[:300]
    return int(response.headers["Location"].rsplit("/", 1)[1])


def test_the_worker_previews_and_applies_a_file_with_a_progress_page(production_app, worker):
    store = _store_with_variants(production_app, 1200)
    client = _client(production_app, store)
    body = "sku,stock\n" + "".join(f"S-{n},{n % 50 + 2}\n" for n in range(1200)) + "NOPE,1\n"
    run_id = _upload(client, body)
    wait_for(lambda: _run(production_app, run_id).status == "previewed", what="the preview")
    run = _run(production_app, run_id)
    assert (run.changes, run.errors, run.total_rows) == (1200, 1, 1201)
    assert client.post(f"/admin/stock-sync/{run_id}/apply").status_code == 303
    page = client.get(f"/admin/stock-sync/{run_id}")
    assert "sync-progress" in page.text or "Applied" in page.text
    wait_for(lambda: _run(production_app, run_id).status == "applied", what="the apply")
    assert _run(production_app, run_id).updated == 1200
    with production_app.app_context():
        total = db.session.scalar(
            select(func.sum(Variant.stock)).where(Variant.store_id == store.id)
        )
        assert total == sum(n % 50 + 2 for n in range(1200))
        movements = db.session.scalar(
            select(func.count()).where(StockMovement.reference == f"import:{run_id}")
        )
        assert movements == 1200


def _spawn_worker(app, log_path):
    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": app.config["REDIS_URL"],
        "SECRET_KEY": "test-secret-key",
        "PLATFORM_DOMAIN": PLATFORM,
        "PYTHONUNBUFFERED": "1",
    }
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "worker"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kill -9 takes the work horse too
        )


def test_a_worker_killed_mid_apply_leaves_whole_batches_and_the_run_resumes(
    production_app, tmp_path
):
    count = 4_000  # 8 batches: the worker is killed after 2, with 6 to spare
    store = _store_with_variants(production_app, count)
    client = _client(production_app, store)
    body = "sku,stock\n" + "".join(f"S-{n},{n % 7 + 3}\n" for n in range(count))
    first = _spawn_worker(production_app, tmp_path / "first.log")
    try:
        run_id = _upload(client, body)
        wait_for(lambda: _run(production_app, run_id).status == "previewed", 120, 0.1, "preview")
        client.post(f"/admin/stock-sync/{run_id}/apply")
        wait_for(
            lambda: _run(production_app, run_id).processed_rows >= 2 * service.BATCH,
            60,
            0.02,
            "two batches",
        )
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    run = _run(production_app, run_id)
    if run.status == "applied":
        pytest.skip("the apply finished before the worker could be killed")
    assert run.status == "applying" and run.processed_rows % service.BATCH == 0
    with production_app.app_context():
        changed = db.session.scalar(
            select(func.count()).where(Variant.store_id == store.id, Variant.stock != 1)
        )
        moved = db.session.scalar(
            select(func.count()).where(StockMovement.reference == f"import:{run_id}")
        )
        # Every committed batch whole, nothing of the batch that was cut off.
        assert changed == moved == run.updated == run.processed_rows
        # The worker is gone; after a while without progress the sweep marks the run failed.
        db.session.execute(
            update(ImportRun)
            .where(ImportRun.id == run_id)
            .values(updated_at=run.updated_at - timedelta(hours=1))
        )
        db.session.commit()
        from jobs.stock_sync import sweep_stalled_syncs

        assert sweep_stalled_syncs() == 1
    assert _run(production_app, run_id).status == "failed"
    assert "Every batch up to row" in client.get(f"/admin/stock-sync/{run_id}").text
    second = _spawn_worker(production_app, tmp_path / "second.log")
    try:
        assert client.post(f"/admin/stock-sync/{run_id}/resume").status_code == 303
        wait_for(lambda: _run(production_app, run_id).status == "applied", 120, 0.2, "resume")
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(timeout=15)
    with production_app.app_context():
        moved = db.session.scalar(
            select(func.count()).where(StockMovement.reference == f"import:{run_id}")
        )
        total = db.session.scalar(
            select(func.sum(Variant.stock)).where(Variant.store_id == store.id)
        )
    assert moved == count and total == sum(n % 7 + 3 for n in range(count))
