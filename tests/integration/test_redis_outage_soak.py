"""Redis stopped for a minute under steady load: afterwards nothing is lost and nothing doubled.

Issue 14's "Done when" for Redis. A production stack (PostgreSQL, a private Redis, gunicorn
2x2, two `flask worker` processes and one `flask cron`, test payments delivered over HTTP)
serves shoppers who browse, fill carts, check out on the test gateway and approve, while a
fake provider posts validly signed webhooks for the orders nobody approved. Redis is stopped
for OUTAGE_SECONDS (60 s; 20 s when it comes back empty) with the load going on, then started
again (with its data, or empty), the load goes on a while and stops; then, with no process restarted by hand, every approved order
must be paid, every webhook applied once, every email sent once, and no request answered 500.

Runs on PostgreSQL only, in a tier of its own (`make test-soak`, marker `soak`), which CI runs
after `make test`: its waits are fixed by what it proves (a minute without Redis), and it took
about 4 minutes and 270 s of CPU in the middle of `make test`. Timings are compressed through
the settings (SWEEP_INTERVAL, SWEEP_GRACE, GATEWAY_RETRY_SCHEDULE, REDIS_RETRY_MAX_WAIT); the
outage with data kept is the issue's 60 s.
"""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select

from app.payments.models import Payment, WebhookEvent
from tests.conftest import free_port, make_app, require, truncate_all
from tests.factories import make_store
from tests.integration.conftest import ROOT, wait_for
from tests.integration.processes import start_gunicorn, stop
from tests.integration.shop_load import Load, lost, rows, scalar
from tests.integration.test_outages import RedisServer
from tests.web.order_helpers import make_variant

pytestmark = [pytest.mark.integration, pytest.mark.soak]

OUTAGE_SECONDS = int(os.environ.get("SOAK_OUTAGE_SECONDS") or 60)  # the issue says 60 s
# Redis restarted empty loses what it held however long it was away: a shorter outage proves
# the same and keeps the suite quicker (the backlog to drain grows with the outage).
EMPTY_OUTAGE_SECONDS = min(OUTAGE_SECONDS, 20)
WARM_UP, COOL_DOWN = 10, 10  # seconds of load before the outage and after Redis is back
SETTLE = 300  # at most this long (a loaded 2-core host drains ~2 jobs/s), after the load stops, for the stack to finish what came in
# Load threads: about 75 checkouts and 1,000 requests with data kept. Three shoppers and two
# browsers doubled the backlog to drain and the CPU the test takes (270 s of it alone) without
# finding more: it shares two cores with the rest of the suite.
SHOPPERS, BROWSERS = 2, 1
PAUSE = 2.0  # seconds between two checkouts of a shopper: a load a busy host keeps up with
APPROVE_SHARE = 0.6  # of placed orders, approved by the shopper; the rest paid by webhook
REDIS_PORT = int(os.environ.get("TEST_SOAK_REDIS_PORT") or 0)
SLUG = "soak"


def _spawn(command: list[str], env: dict, log_path: Path) -> subprocess.Popen:
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    proc.log_path = log_path
    return proc


def _finish(proc) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("backend", ["postgresql"])
@pytest.mark.parametrize("comes_back", ["with_its_data", "empty"])
def test_a_minute_without_redis_under_load_loses_nothing(
    backend, database_urls, smtp_server, tmp_path, comes_back
):
    from tests import factories

    require(
        subprocess.run(["which", "redis-server"], capture_output=True).returncode == 0,
        "redis-server is not installed",
    )
    database_url = database_urls(backend)
    redis_server = RedisServer(REDIS_PORT or free_port(), tmp_path)
    port = int(os.environ.get("TEST_SOAK_PORT") or 0) or free_port()
    platform = f"pasar.localhost:{port}"  # .localhost: the worker's deliveries reach 127.0.0.1
    app = make_app(database_url, redis_server.url, JOBS_INLINE=False)
    factories.CURRENT_APP = app
    processes: list[subprocess.Popen] = []
    load = None
    provider_done = threading.Event()
    try:
        redis_server.start()
        store = make_store(SLUG, "Soak Shop")
        variant_id = make_variant(store, sku="SOAK", price=2500, stock=100_000)
        from app.catalog.models import Product, Variant

        product_slug = scalar(
            app, select(Product.slug).join(Variant).where(Variant.id == variant_id)
        )
        env = {
            **os.environ,
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "REDIS_URL": redis_server.url,
            "SECRET_KEY": "test-secret-key",
            "PLATFORM_DOMAIN": platform,
            "TRUSTED_PROXIES": "1",
            "ALLOW_TEST_PAYMENTS": "1",
            "TEST_GATEWAY_DELIVERY": "http",
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": str(smtp_server.port),
            "MAIL_TIMEOUT": "5",
            "SWEEP_INTERVAL": "2",
            "SWEEP_GRACE": "3",
            "JOB_RETRY_INTERVALS": "1,1,1",
            "GATEWAY_RETRY_SCHEDULE": ",".join(["2"] * 60),
            "REDIS_RETRY_MAX_WAIT": "2",
            "PYTHONUNBUFFERED": "1",
        }
        web = start_gunicorn(
            env, port, tmp_path / "gunicorn.log", workers=2, extra=["--threads", "2"]
        )
        processes.append(web)
        flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
        for i in range(2):
            processes.append(_spawn([*flask, "worker"], env, tmp_path / f"worker{i}.log"))
        processes.append(_spawn([*flask, "cron"], env, tmp_path / "cron.log"))
        from rq import Worker

        conn = redis.Redis(port=redis_server.port)
        wait_for(
            lambda: len(Worker.all(connection=conn)) == 2, timeout=60, what="two workers to start"
        )

        load = Load(
            port,
            f"{SLUG}.{platform}",
            app,
            store,
            variant_id,
            product_slug,
            shoppers=SHOPPERS,
            browsers=BROWSERS,
            pause=PAUSE,
            approve_share=APPROVE_SHARE,
        )
        load.start(provider_done)
        time.sleep(WARM_UP)
        # On a busy machine the first checkouts can take longer than the warm-up.
        wait_for(
            lambda: load.approved and load.webhooks_sent,
            timeout=60,
            what="an order approved and one paid by webhook before the outage",
            state=lambda: (load.statuses, load.unfinished, load.failures[:5]),
        )
        before = (len(load.placed), len(load.approved), len(load.webhooks_sent))
        keep_data = comes_back == "with_its_data"
        outage = OUTAGE_SECONDS if keep_data else EMPTY_OUTAGE_SECONDS
        redis_server.stop(keep_data=keep_data)
        time.sleep(outage)
        during = (len(load.placed) - before[0], len(load.approved) - before[1])
        redis_server.start()
        time.sleep(COOL_DOWN)
        load.stop(provider_done)
        stopped = time.monotonic()

        deadline = stopped + SETTLE
        problems = lost(app, load, smtp_server)
        while problems and time.monotonic() < deadline:
            time.sleep(1)
            problems = lost(app, load, smtp_server)
        settled_in = time.monotonic() - stopped

        payments = rows(
            app, select(Payment.provider, Payment.provider_ref, Payment.kind, Payment.order_id)
        )
        totals = {
            "variant": comes_back,
            "outage_s": outage,
            "requests": sum(load.statuses.values()),
            "statuses": dict(load.statuses),
            "orders_placed": len(load.placed),
            "placed_during_outage": during[0],
            "approvals": len(load.approved),
            "approved_during_outage": during[1],
            "webhooks_posted": load.webhook_posts,
            "webhook_orders": len(load.webhooks_sent),
            "duplicate_webhooks": load.duplicates,
            "webhook_events": scalar(app, select(func.count()).select_from(WebhookEvent)),
            "payments": len(payments),
            "emails": len(smtp_server.messages),
            "503s": load.statuses[503],
            "unfinished_checkouts": dict(load.unfinished),
            "settled_in_s": round(settled_in, 1),
        }
        print(f"\nRedis outage soak totals: {totals}")

        assert during[0] > 0 and during[1] > 0, f"no order was placed and approved: {totals}"
        assert problems == [], f"lost after {SETTLE}s: {problems}; {totals}"
        # Each order paid once: one payment per order, one per provider reference.
        assert len({p.order_id for p in payments}) == len(payments), totals
        assert len({(p.provider, p.provider_ref, p.kind) for p in payments}) == len(payments)
        assert len(payments) == len(load.approved) + len(load.webhooks_sent), totals
        # Two emails per paid order (the confirmation and the owner's notice), each sent once.
        assert totals["emails"] == 2 * len(payments), totals
        assert not load.failures, f"{len(load.failures)} failed requests: {load.failures[:20]}"
        assert not load.unfinished, f"shoppers could not finish: {totals}"
        for proc in processes:
            assert proc.poll() is None, f"{proc.args} exited: {proc.log_path.read_text()[-3000:]}"
        log = (tmp_path / "gunicorn.log").read_text()
        assert log.count("Booting worker") == 2, "a gunicorn worker was replaced"
        assert "Traceback" not in log, log[-3000:]
    finally:
        if load is not None and load.running.is_set():
            load.stop(provider_done)
        for proc in processes:
            _finish(proc) if proc is not processes[0] else stop(proc)
        redis_server.kill()
        factories.CURRENT_APP = None
        truncate_all(app)
