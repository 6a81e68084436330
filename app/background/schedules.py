"""The periodic jobs that `flask cron` enqueues, named by dotted path."""

from app.background import resolve

# (job, queue, seconds between runs); None runs it every SWEEP_INTERVAL.
SCHEDULE = (
    ("jobs.maintenance.sweep_email_outbox", "default", None),
    ("jobs.maintenance.sweep_webhook_events", "default", None),
    ("jobs.maintenance.sweep_gateway_deliveries", "default", None),
    ("jobs.maintenance.sweep_outbound_webhooks", "default", None),
    ("jobs.maintenance.expire_unpaid_orders_job", "default", 60),
    ("jobs.maintenance.release_expired_holds_job", "default", 30),
    ("jobs.stock_sync.sweep_stalled_syncs", "default", 300),
    ("jobs.maintenance.reconcile_stock_job", "default", 3600),
    ("jobs.maintenance.prune_user_sessions_job", "default", 86400),
    ("jobs.maintenance.prune_api_idempotency_keys_job", "default", 3600),
)


def periodic_jobs(sweep_interval: int = 60):
    """(function, queue, interval in seconds) for every job that runs on a timer."""
    return [
        (resolve(path), queue, interval or sweep_interval) for path, queue, interval in SCHEDULE
    ]
