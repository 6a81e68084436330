"""Redis and a payment provider going away under a real `flask worker` and `flask cron`.

Each test runs its own Redis server (on a free port), stops it and starts it again, with its data
or empty; nothing is restarted by hand and nothing recorded in the database is lost or
applied twice. Timings are compressed through the settings (SWEEP_INTERVAL, SWEEP_GRACE,
MIDTRANS_RECHECK_SCHEDULE) so each test takes seconds.
"""

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import redis
from sqlalchemy import func, select
from werkzeug.serving import make_server

from app.database import utcnow
from app.extensions import db
from app.notifications.models import EmailMessage
from app.notifications.service import send_now
from app.orders.models import Order
from app.orders.service import expire_unpaid_orders
from app.payments.models import GatewayDelivery, Payment, WebhookEvent
from app.payments.signatures import stripe_signature
from app.payments.webhooks import gateway_secret
from tests.conftest import PLATFORM, HostClient, free_port, make_app, truncate_all
from tests.factories import make_store
from tests.integration.conftest import PRODUCTION_MODE, ROOT, wait_for
from tests.web.order_helpers import make_order, make_variant

pytestmark = PRODUCTION_MODE

OUTAGE = 5  # seconds Redis stays away


class RedisServer:
    """A redis-server process of the test's own, stopped and started at will."""

    def __init__(self, port: int, directory: Path):
        self.port, self.directory, self.proc = port, directory, None
        self.url = f"redis://127.0.0.1:{port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--dir", str(self.directory), "--dbfilename", "dump.rdb"),
                *("--save", "", "--appendonly", "no"),
            ],
            stdout=subprocess.DEVNULL,
        )
        conn = redis.Redis(port=self.port, socket_connect_timeout=1)
        wait_for(lambda: _pings(conn), timeout=10, what="redis-server to start")

    def stop(self, keep_data: bool) -> None:
        """Shut down, saving the data to disk (an outage) or not (Redis comes back empty)."""
        conn = redis.Redis(port=self.port)
        with contextlib.suppress(redis.ConnectionError):
            conn.shutdown(save=keep_data, nosave=not keep_data)
        self.proc.wait(timeout=10)
        if not keep_data:
            (self.directory / "dump.rdb").unlink(missing_ok=True)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def _pings(conn) -> bool:
    try:
        return conn.ping()
    except redis.RedisError:
        return False


def _start(command: str, app, log_path: Path, env_extra: dict) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": app.config["REDIS_URL"],
        "SECRET_KEY": "test-secret-key",
        "PLATFORM_DOMAIN": PLATFORM,
        "MAIL_TIMEOUT": "5",
        "PYTHONUNBUFFERED": "1",
        "SWEEP_INTERVAL": "1",
        "SWEEP_GRACE": "1",
        "JOB_RETRY_INTERVALS": "1,1,1",
        # The worker hands the test gateway's webhook to its own app (no web server here).
        "TEST_GATEWAY_DELIVERY": "inprocess",
        **env_extra,
    }
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", command],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    proc.log_path = log_path
    return proc


@pytest.fixture
def stack(backend, database_urls, smtp_server, tmp_path):
    """Private Redis, an app in production mode, and a real `flask worker` and `flask cron`."""
    from tests import factories

    # A Redis of its own on a free port: the test stops and empties it, and other runs share the host.
    server = RedisServer(free_port(), tmp_path)
    server.start()
    midtrans_port = free_port()
    database_url = database_urls(backend)
    app = make_app(
        database_url,
        server.url,
        JOBS_INLINE=False,
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp_server.port,
        MIDTRANS_API_BASE=f"http://127.0.0.1:{midtrans_port}",
    )
    env = {
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp_server.port),
        "MIDTRANS_API_BASE": f"http://127.0.0.1:{midtrans_port}",
        "MIDTRANS_RECHECK_SCHEDULE": ",".join(["1"] * 30),
        # Reconnect attempts 1 s, 2 s, 2 s ... so a test sees the return within 2 s.
        "REDIS_RETRY_MAX_WAIT": "2",
    }
    factories.CURRENT_APP = app
    worker = _start("worker", app, tmp_path / "worker.log", env)
    cron = _start("cron", app, tmp_path / "cron.log", env)
    processes = [worker, cron]
    try:
        from rq import Worker

        conn = redis.Redis(port=server.port)
        wait_for(lambda: Worker.all(connection=conn), timeout=30, what="the worker to start")
        yield SimpleNamespace(
            app=app,
            redis=server,
            worker=worker,
            cron=cron,
            smtp=smtp_server,
            midtrans_port=midtrans_port,
        )
    finally:
        for proc in processes:
            proc.terminate()
        for proc in processes:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        server.kill()
        factories.CURRENT_APP = None
        truncate_all(app)


def _client(app, store):
    client = HostClient(app, app.response_class)
    client.host = f"{store.slug}.{PLATFORM}"
    return client


def _post_webhook(app, store, order) -> int:
    raw = json.dumps(
        {
            "id": f"evt_outage_{order['number']}",
            "type": "payment.succeeded",
            "order_number": order["number"],
            "amount": order["total"],
            "currency": "USD",
            "payment_id": f"pay_outage_{order['number']}",
        }
    ).encode()
    with app.app_context():
        secret = gateway_secret(store.id)
    t = int(time.time())
    headers = {"Pasar-Signature": f"t={t},v1={stripe_signature(raw, secret, t)}"}
    return _client(app, store).post("/webhooks/test", data=raw, headers=headers).status_code


def _approve(app, store, order) -> int:
    from app.orders.links import order_key

    with app.app_context():
        key = order_key(db.session.get(Order, order["id"]))
    return _client(app, store).post(f"/pay/test/{order['number']}/approve?key={key}").status_code


def _queue_email(app, store, to: str) -> int:
    with app.app_context():
        message = EmailMessage(
            to_address=to,
            subject="Your order",
            template="order_paid",
            text_body="Thanks",
            store_id=store.id,
            status="queued",
        )
        db.session.add(message)
        db.session.commit()
        send_now(message.id)  # may fail to queue: the outbox sweep sends it
        return message.id


def _shop(app):
    """A store with an order whose time ran out (paid by webhook) and one paid by approval."""
    with app.app_context():
        store = make_store("outage", "Outage Shop")
    variant = make_variant(store, price=4500)
    late = make_order(app, store, variant, quantity=1, now=utcnow() - timedelta(hours=2))
    approved = make_order(app, store, variant, quantity=1)
    return store, late, approved


def _statuses(app, *orders) -> list[str]:
    with app.app_context():
        found = [db.session.get(Order, o["id"]).status for o in orders]
        db.session.remove()
        return found


def _payment_state(app, *orders) -> dict:
    """Orders, events and deliveries as they stand (for a failure message)."""
    with app.app_context():
        found = {
            "orders": _statuses(app, *orders),
            "events": [
                tuple(row)
                for row in db.session.execute(
                    select(WebhookEvent.id, WebhookEvent.status, WebhookEvent.attempts)
                )
            ],
            "deliveries": [
                tuple(row)
                for row in db.session.execute(
                    select(GatewayDelivery.id, GatewayDelivery.status, GatewayDelivery.attempts)
                )
            ],
        }
        db.session.remove()
        return found


def _email_rows(app) -> list[tuple]:
    with app.app_context():
        found = db.session.execute(
            select(
                EmailMessage.id,
                EmailMessage.template,
                EmailMessage.status,
                EmailMessage.attempts,
                EmailMessage.created_at,
            ).order_by(EmailMessage.id)
        ).all()
        db.session.remove()
        return [tuple(row) for row in found]


def _email_statuses(app) -> list[str]:
    with app.app_context():
        found = db.session.scalars(select(EmailMessage.status).order_by(EmailMessage.id)).all()
        db.session.remove()
        return found


def _assert_nothing_lost_or_doubled(stack) -> None:
    """Both orders paid once, every event applied, every delivery and email made once."""
    app = stack.app
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Payment)) == 2
        assert set(db.session.scalars(select(WebhookEvent.status))) == {"applied"}
        assert set(db.session.scalars(select(GatewayDelivery.status))) == {"delivered"}
        emails = db.session.scalar(select(func.count()).select_from(EmailMessage))
        db.session.remove()
    sent = [m["Message-ID"] for m in stack.smtp.messages]
    assert len(sent) == len(set(sent)) == emails


def _logged(proc, text: str) -> int:
    return proc.log_path.read_text().count(text)


def _assert_survived_one_outage(stack) -> None:
    for proc in (stack.worker, stack.cron):
        assert proc.poll() is None, proc.log_path.read_text()
        # One line when Redis goes, one when it is back: not one per attempt.
        assert _logged(proc, "Redis is unreachable") == 1, proc.log_path.read_text()
        assert _logged(proc, "Redis is back") == 1, proc.log_path.read_text()
    # RQ's own per-attempt retry line may appear once, before the worker's wait takes over.
    assert _logged(stack.worker, "could not connect to Redis instance") <= 1


def test_worker_and_cron_wait_out_a_redis_outage_and_finish_what_came_in(stack):
    app = stack.app
    store, late, approved = _shop(app)

    stack.redis.stop(keep_data=True)
    began = time.monotonic()
    # A provider's webhook and a shopper's approval arrive while Redis is away.
    assert _post_webhook(app, store, late) == 200
    assert _approve(app, store, approved) == 303
    _queue_email(app, store, "during@example.com")
    with app.app_context():
        assert expire_unpaid_orders() == 0  # the late order has a payment waiting
        db.session.remove()
    time.sleep(max(0.0, OUTAGE - (time.monotonic() - began)))
    stack.redis.start()

    _queue_email(app, store, "after@example.com")  # queued after the restart: runs at once
    wait_for(
        lambda: _statuses(app, late, approved) == ["paid", "paid"],
        timeout=60,
        what="both orders to be paid",
    )
    wait_for(
        lambda: set(_email_statuses(app)) == {"sent"},
        timeout=60,
        what="every email",
        state=lambda: _email_rows(app),
    )
    _assert_nothing_lost_or_doubled(stack)
    _assert_survived_one_outage(stack)


def test_nothing_is_lost_when_redis_comes_back_empty(stack):
    from rq import Worker
    from rq.suspension import suspend

    app = stack.app
    store, late, approved = _shop(app)
    conn = redis.Redis(port=stack.redis.port)
    # Suspended, the worker leaves new jobs in Redis: they are there only, then Redis loses them.
    suspend(conn)
    wait_for(
        lambda: all(w.get_state() == "suspended" for w in Worker.all(connection=conn)),
        timeout=15,
        what="the worker to suspend",
    )
    assert _post_webhook(app, store, late) == 200
    assert _approve(app, store, approved) == 303
    _queue_email(app, store, "lost@example.com")
    waiting = [
        job_id for name in ("default", "email") for job_id in conn.lrange(f"rq:queue:{name}", 0, -1)
    ]
    assert len(waiting) >= 3

    stack.redis.stop(keep_data=False)
    time.sleep(OUTAGE / 2)
    stack.redis.start()
    # Empty: the jobs are gone (the worker and cron may already have written keys of their own).
    assert not any(conn.exists(f"rq:job:{job_id.decode()}") for job_id in waiting)

    wait_for(
        lambda: _statuses(app, late, approved) == ["paid", "paid"],
        timeout=60,
        what="the sweeps to finish both payments",
        state=lambda: _payment_state(app, late, approved),
    )
    wait_for(
        lambda: set(_email_statuses(app)) == {"sent"},
        timeout=60,
        what="every email",
        state=lambda: _email_rows(app),
    )
    _assert_nothing_lost_or_doubled(stack)
    _assert_survived_one_outage(stack)


def test_a_midtrans_outage_is_rechecked_until_midtrans_answers(stack):
    from tests.web.test_payment_providers import (
        FakeProviders,
        midtrans_notification,
        setup_store,
    )

    app = stack.app
    with app.app_context():
        from app.checkout.secrets import encrypt

        key = encrypt("SB-Mid-server-1")
    store, order = setup_store(
        app, "batiks", "IDR", payment_provider="midtrans", midtrans_server_key=key
    )
    note = midtrans_notification(store, order, "SB-Mid-server-1")
    assert _client(app, store).post("/webhooks/midtrans", json=note).status_code == 200

    def attempts():
        with app.app_context():
            count = db.session.scalar(select(WebhookEvent.attempts))
            db.session.remove()
            return count

    wait_for(lambda: attempts() >= 2, timeout=20, what="re-checks while Midtrans is down")
    assert _statuses(app, order) == ["pending_payment"]

    fake = FakeProviders()  # Midtrans comes back, on the port the worker was given
    fake.server.server_close()
    fake.midtrans_status = {
        "transaction_status": "settlement",
        "transaction_id": "tx-1",
        "gross_amount": f"{order['total'] // 100}.00",
        "currency": "IDR",
    }
    server = make_server("127.0.0.1", stack.midtrans_port, fake.server.app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        wait_for(lambda: _statuses(app, order) == ["paid"], timeout=20, what="the order to be paid")
    finally:
        server.shutdown()
    with app.app_context():
        event = db.session.scalar(select(WebhookEvent))
        assert event.status == "applied" and event.attempts >= 2
        assert db.session.scalar(select(func.count()).select_from(Payment)) == 1
        db.session.remove()
