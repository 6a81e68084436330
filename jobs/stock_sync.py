"""The stock sync's jobs: build a run's preview, apply it, undo it. Each takes the run's id,
works from the run's row in the database and is safe to run again (see app.stocksync.service).
"""

import logging

from app.stocksync import service
from jobs import enqueue

log = logging.getLogger(__name__)

PHASE_JOBS = {}


def preview_stock_file(run_id: int):
    return service.build_preview(run_id)


def apply_stock_file(run_id: int):
    return service.apply_run(run_id)


def undo_stock_file(run_id: int):
    return service.undo_run(run_id)


PHASE_JOBS.update(preview=preview_stock_file, apply=apply_stock_file, undo=undo_stock_file)


def on_sync_failure(job, connection, exc_type, exc_value, traceback) -> None:
    """After the last attempt, the run says it failed (and can be resumed); before, RQ retries."""
    if getattr(job, "retries_left", 0):
        return
    run_id = job.args[0]
    log.error("stock sync %s failed: %s", run_id, exc_value)
    service.fail(
        run_id, f"The job stopped with an error ({exc_type.__name__}). Resume to carry on."
    )


def enqueue_phase(run_id: int, phase: str):
    """Queue the job for a run's phase ("preview", "apply", "undo"); call after committing.

    If Redis can't take it, the run keeps its working status: the stalled-sync sweep marks it
    failed after STALE_AFTER and the vendor resumes it, so the request never fails for it.
    """
    try:
        return enqueue(
            PHASE_JOBS[phase],
            run_id,
            job_id=f"stock-sync-{run_id}-{phase}",
            retries=2,
            on_failure=on_sync_failure,
        )
    except Exception:
        log.exception("could not enqueue stock sync %s (%s); the sweep will flag it", run_id, phase)
        return None


def sweep_stalled_syncs() -> int:
    """Mark runs whose worker died (no progress for a while) failed, so they can be resumed."""
    ids = service.stalled_runs()
    for run_id in ids:
        service.fail(run_id, "The worker stopped while working on this sync. Resume to carry on.")
    return len(ids)
