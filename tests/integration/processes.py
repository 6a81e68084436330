"""Real processes for integration tests: gunicorn on a free port, stopped cleanly."""

import signal
import socket
import subprocess
import sys

import requests

from tests.integration.conftest import ROOT, wait_for


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(env: dict, port: int, log_path, workers: int = 3, extra=()):
    """gunicorn on 127.0.0.1:`port`; the access log names the worker pid of each request."""
    log = open(log_path, "wb")  # noqa: SIM115  (closed by the caller's process teardown)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{port}",
            "--access-logfile",
            "-",
            "--access-logformat",
            "pid=%(p)s %(m)s %(U)s %(s)s",
            *extra,
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def up():
        try:
            return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok
        except requests.RequestException:
            return False

    try:
        wait_for(up, timeout=60, what="gunicorn to answer")
    except BaseException:
        stop(proc)
        raise
    return proc


def stop(proc) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
