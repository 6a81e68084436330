"""The stock sync's jobs: build a run's preview, apply it, undo it. Each takes the run's id,
works from the run's row in the database and is safe to run again (see app.stocksync.service).
"""

import logging

from app.stocksync import service
from tenants.rls import spans_stores

log = logging.getLogger(__name__)


def preview_stock_file(run_id: int):
    """Build a run's preview."""
    return service.build_preview(run_id)


def apply_stock_file(run_id: int):
    """Apply a run's changes, batch by batch."""
    return service.apply_run(run_id)


def undo_stock_file(run_id: int):
    """Undo an applied run, batch by batch."""
    return service.undo_run(run_id)


def on_sync_failure(job, connection, exc_type, exc_value, traceback) -> None:
    """After the last attempt, the run says it failed (and can be resumed); before, RQ retries."""
    if getattr(job, "retries_left", 0):
        return
    run_id = job.args[0]
    log.error("stock sync %s failed: %s", run_id, exc_value)
    service.fail(
        run_id, f"The job stopped with an error ({exc_type.__name__}). Resume to carry on."
    )


@spans_stores("sweep: stock syncs whose worker stopped")
def sweep_stalled_syncs() -> int:
    """Mark runs whose worker died (no progress for a while) failed, so they can be resumed."""
    ids = service.stalled_runs()
    for run_id in ids:
        service.fail(run_id, "The worker stopped while working on this sync. Resume to carry on.")
    return len(ids)
