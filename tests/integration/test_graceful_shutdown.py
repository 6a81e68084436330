"""SIGTERM: gunicorn drains (readiness 503) and finishes its requests; a worker finishes its job.

Also the parts of observability only real processes show: gunicorn's workers adding up their
metrics in PROMETHEUS_MULTIPROC_DIR, and the worker's JSON line for a job carrying the id of
the request that queued it.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import requests
from rq.job import Job

from app.background import enqueue
from app.extensions import redis_client
from app.observability.request_ids import current_request_id
from tests.conftest import PLATFORM
from tests.integration import sample_jobs
from tests.integration.conftest import PRODUCTION_MODE, ROOT, wait_for
from tests.integration.processes import free_port

pytestmark = PRODUCTION_MODE


def _json_lines(text: str):
    for line in text.splitlines():
        if line.startswith("{"):
            yield json.loads(line)


def test_sigterm_drains_then_finishes_the_request_in_flight(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "SECRET_KEY": "test-secret-key",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'pasar.db'}",
        "PLATFORM_DOMAIN": PLATFORM,
        "SHUTDOWN_DRAIN_SECONDS": "1.5",
        "LOG_FORMAT": "json",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "PASAR_TEST_SLOW_MARKER": str(tmp_path / "slow-started"),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("REDIS_URL", None)
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-w",
                "2",
                "-b",
                f"127.0.0.1:{port}",
                "--no-control-socket",
                "tests.integration.slow_wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    headers = {"Host": PLATFORM}
    try:

        def ready():
            try:
                return requests.get(f"{base}/healthz", headers=headers, timeout=2).ok
            except requests.RequestException:
                return False

        wait_for(ready, timeout=60, what="gunicorn to answer")
        # Both workers' samples add up in the multiprocess directory.
        for _ in range(10):
            assert requests.get(f"{base}/readyz", headers=headers, timeout=5).status_code == 200
        scrape = requests.get(f"{base}/metrics", headers=headers, timeout=5)
        assert scrape.status_code == 200
        line = 'pasar_http_requests_total{method="GET",route="health.readyz",status="200"} 10.0'
        assert line in scrape.text

        slow = {}

        def slow_request():
            response = requests.get(
                f"{base}/_test/slow?seconds=3",
                headers={**headers, "X-Request-ID": "slow-1"},
                timeout=20,
            )
            slow["status"], slow["body"] = response.status_code, response.text

        thread = threading.Thread(target=slow_request)
        thread.start()
        wait_for((tmp_path / "slow-started").exists, timeout=20, what="the slow request to start")
        proc.send_signal(signal.SIGTERM)
        readiness = []
        while thread.is_alive():
            try:
                answer = requests.get(f"{base}/readyz", headers=headers, timeout=2)
                readiness.append(answer.status_code)
            except requests.RequestException:
                readiness.append("refused")  # the drain is over: no new connections
            time.sleep(0.1)
        thread.join()
        assert slow == {"status": 200, "body": "done"}
        # Once the master has handled SIGTERM (at once, but it is another process), every
        # readiness probe says 503 until the workers stop accepting.
        assert 503 in readiness, readiness
        assert 200 not in readiness[readiness.index(503) :], readiness
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log_path.read_text()
    [finished] = [entry for entry in _json_lines(text) if entry.get("request_id") == "slow-1"]
    assert finished["status"] == 200 and finished["route"] == "slow"
    assert "/readyz answers 503" in text


def test_sigterm_lets_the_running_job_finish_and_its_line_names_the_request(production_app, worker):
    with production_app.test_request_context():
        token = current_request_id.set("req-from-web")
        try:
            job = enqueue(sample_jobs.sleeps, 2, retries=0)
        finally:
            current_request_id.reset(token)
    assert job.meta["request_id"] == "req-from-web"
    with production_app.app_context():
        connection = redis_client.get()

        def status():
            return Job.fetch(job.id, connection=connection).get_status()

        wait_for(lambda: status() == "started", timeout=30, what="the job to start")
        worker.send_signal(signal.SIGTERM)
        wait_for(lambda: status() == "finished", timeout=20, what="the job to finish", state=status)
    assert worker.wait(timeout=20) == 0
    lines = [
        entry
        for entry in _json_lines(worker.log_path.read_text())
        if entry.get("event") == "job" and entry.get("job_id") == job.id
    ]
    assert len(lines) == 1
    [line] = lines
    assert line["request_id"] == "req-from-web"
    assert line["status"] == "finished"
    assert line["function"] == "tests.integration.sample_jobs.sleeps"
    assert line["duration_ms"] >= 2000
