"""Stock sync benchmark: preview, apply and undo of a large CSV in production mode.

Makes a store with N single-variant products in its own PostgreSQL database, starts a real
`flask worker` on Redis, uploads a CSV of N rows (every SKU, a new count for each and a new
price for every tenth), and times each phase from the moment it is queued until the run's row
says it is done, as the vendor's progress bar sees it:

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/pasar_bench_sync \\
    BENCH_REDIS_URL=redis://127.0.0.1:6379/14 \\
        .venv/bin/python bench/stock_sync.py --rows 50000

Results are recorded in bench/RESULTS.md.
"""

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from bench.catalog import as_admin  # noqa: E402
from bench.setup import bench_store, prepare  # noqa: E402


def wait(app, run_id: int, status: str, limit: float = 600) -> float:
    from app.extensions import db
    from app.stocksync.models import ImportRun

    started = time.monotonic()
    while time.monotonic() - started < limit:
        with as_admin(app):
            run = db.session.get(ImportRun, run_id)
            if run.status == status:
                return time.monotonic() - started
            if run.status == "failed":
                raise SystemExit(f"run {run_id} failed: {run.message}")
        time.sleep(0.05)
    raise SystemExit(f"run {run_id} not {status} after {limit}s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=50_000)
    args = parser.parse_args()
    url = os.environ.get(
        "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/pasar_bench_sync"
    )
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    app, env = prepare(url, redis_url)
    logging.getLogger("tenants.rls").setLevel(logging.WARNING)  # the polling's set-up lines
    from app.database import CATALOG_TABLES, analyze
    from app.extensions import db
    from app.stocksync import service
    from app.stocksync.service import enqueue_phase
    from tenants.context import store_context
    from tenants.models import Store
    from tests.bulk import bulk_variants

    with as_admin(app):
        store, owner = bench_store()
        store_id, owner_id = store.id, owner.id
        seeded = time.monotonic()
        bulk_variants(store_id, args.rows, stock=5)
        db.session.commit()
        analyze(db.session, *CATALOG_TABLES, "stock_movements")
        print(f"seeded {args.rows:,} variants in {time.monotonic() - seeded:.1f}s")
    lines = ["sku,stock,price"] + [
        f"S-{n},{n % 40 + 1},{'12.50' if n % 10 == 0 else ''}" for n in range(args.rows)
    ]
    data = ("\n".join(lines) + "\n").encode()
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        time.sleep(3)
        with as_admin(app), store_context(db.session.get(Store, store_id)):
            from app.accounts.models import User

            owner = db.session.get(User, owner_id)
            run = service.create_run(db.session.get(Store, store_id), owner, "bench.csv", data)
            db.session.commit()
            run_id = run.id
            enqueue_phase(run_id, "preview")
        preview = wait(app, run_id, "previewed")
        with as_admin(app), store_context(db.session.get(Store, store_id)):
            from app.stocksync.models import ImportRun

            run = db.session.get(ImportRun, run_id)
            changes = run.changes
            service.start(run, "apply", None)
            db.session.commit()
            enqueue_phase(run_id, "apply")
        applied = wait(app, run_id, "applied")
        with as_admin(app), store_context(db.session.get(Store, store_id)):
            run = db.session.get(ImportRun, run_id)
            service.start(run, "undo", None)
            db.session.commit()
            enqueue_phase(run_id, "undo")
        undone = wait(app, run_id, "undone")
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
    size = len(data) / 1024 / 1024
    print(f"{args.rows:,} rows ({size:.1f} MB), {changes:,} changes")
    print(f"preview {preview:.1f}s · apply {applied:.1f}s · undo {undone:.1f}s (queued → done)")


if __name__ == "__main__":
    main()
