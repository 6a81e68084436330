"""Real processes for integration tests: gunicorn on a free port, stopped cleanly."""

import re
import signal
import socket
import subprocess
import sys
from http.cookies import SimpleCookie

import requests

from tests.conftest import PLATFORM
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
            "--no-control-socket",  # parallel gunicorns would share ~/.gunicorn/gunicorn.ctl
            *extra,
            "wsgi:app",
        ],
        cwd=ROOT,
        # No drain after SIGTERM (gunicorn.conf.py) and 3 s, not 20, for what is in flight
        # (a live stream the test left open) unless a test asks: no load balancer here.
        env={"SHUTDOWN_DRAIN_SECONDS": "0", "GRACEFUL_TIMEOUT": "3", **env},
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


class Browser:
    """One person's browser against gunicorn: the platform Host, its own cookies and address."""

    def __init__(self, port: int, ip: str):
        self.base = f"http://127.0.0.1:{port}"
        self.headers = {"Host": PLATFORM, "X-Forwarded-For": ip}
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, data: dict | None = None) -> requests.Response:
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = requests.request(
            method,
            self.base + path,
            data=data,
            headers={**self.headers, "Cookie": cookie},
            allow_redirects=False,
            timeout=30,
        )
        # The cookies are scoped to pasar.test, which requests won't send to 127.0.0.1.
        for header in response.raw.headers.getlist("Set-Cookie"):
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return response

    def post(self, path: str, data: dict) -> requests.Response:
        """Submit the form at `path` the way a browser does: with the page's CSRF token."""
        page = self.request("GET", path)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
        return self.request("POST", path, {**data, "csrf_token": token.group(1) if token else ""})
