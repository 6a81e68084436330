"""The images built here, started with podman-compose: a guest checks out through nginx.

Run with `make test-deploy` (pytest -m deploy): it builds the images (cached after the first
time), starts compose.yaml under its own project name, seeds the demo, places and pays an order
on the test gateway and finds it paid in the vendor's dashboard, then removes everything.
Needs root (or rootful podman), podman, runc, debootstrap and podman-compose; see README.
"""

import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.deploy

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "pasar-deploy-test"
PORT = int(os.environ.get("DEPLOY_TEST_PORT", "7570"))
PLATFORM = f"pasar.localhost:{PORT}"
STORE_HOST = f"acme.{PLATFORM}"
BASE = f"http://127.0.0.1:{PORT}"
CSRF_RE = re.compile(r'"X-CSRFToken": "([^"]+)"')
KEY_RE = re.compile(r'name="idempotency_key" value="([^"]+)"')
VARIANT_RE = re.compile(r'name="variant_id" value="(\d+)"')
PRODUCT_RE = re.compile(r'href="(/products/[^"/?#]+)"')
SERVICES = ["postgres", "redis", "web1", "web2", "worker1", "worker2", "cron", "nginx"]


def _compose_command() -> list[str]:
    found = os.environ.get("PODMAN_COMPOSE") or shutil.which(
        "podman-compose", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    )
    if not found:
        pytest.fail("podman-compose is not installed: pip install -r requirements-deploy.txt")
    return [found, "-p", PROJECT, "-f", str(ROOT / "compose.yaml")]


def _env() -> dict:
    return {
        **os.environ,
        "CONTAINERS_CONF": os.environ.get("CONTAINERS_CONF", str(ROOT / "deploy/containers.conf")),
        "SECRET_KEY": secrets.token_urlsafe(48),
        "POSTGRES_PASSWORD": secrets.token_urlsafe(16),
        "PASAR_HTTP_PORT": str(PORT),
        "PLATFORM_DOMAIN": PLATFORM,
    }


def _run(args: list[str], env: dict, timeout: float) -> subprocess.CompletedProcess:
    result = subprocess.run(
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited {result.returncode}\n{result.stdout[-3000:]}\n"
            f"{result.stderr[-3000:]}"
        )
    return result


TRANSIENT_DNS = "Temporary failure in name resolution"


def _seed(env: dict, attempts: int = 4) -> None:
    """Seed the demo from web1. podman's network DNS can fail a lookup for a moment while the
    last containers join (EAI_AGAIN, "Temporary failure in name resolution": one CI run's seed
    couldn't resolve `postgres` though /readyz had just answered); the seed is idempotent, so
    that one error is retried. Any other failure fails at once."""
    command = ["podman", "exec", _container("web1"), "flask", "--app", "wsgi", "seed-demo"]
    command += ["--products", "3", "--no-images"]
    for attempt in range(attempts):
        try:
            _run(command, env, timeout=600)
            return
        except AssertionError as exc:
            if TRANSIENT_DNS not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(5)


def _container(service: str) -> str:
    return f"{PROJECT}_{service}_1"


def _wait(what: str, check, limit: float) -> None:
    deadline = time.monotonic() + limit
    last = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (requests.RequestException, subprocess.SubprocessError) as exc:
            last = exc
        time.sleep(1)
    raise AssertionError(f"{what}: not within {limit:g}s (last error: {last!r})")


@pytest.fixture(scope="module")
def stack():
    """Build (cached), start compose.yaml, seed the demo; tear it all down afterwards."""
    if shutil.which("podman") is None:
        pytest.fail("podman is not installed: make deploy-deps (apt-get install podman runc)")
    env = _env()
    compose = _compose_command()
    _run(["sh", "deploy/build-images.sh"], env, timeout=1800)
    _run([*compose, "down", "-v", "-t", "5"], env, timeout=300)  # leftovers of a killed run
    try:
        _run([*compose, "up", "-d"], env, timeout=900)
        _wait(
            "nginx and a web service to answer /readyz",
            lambda: requests.get(f"{BASE}/readyz", headers={"Host": PLATFORM}, timeout=3).ok,
            limit=180,
        )
        _seed(env)
        yield {"env": env, "compose": compose}
    finally:
        logs = subprocess.run(
            [*compose, "logs", "--tail", "30"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        sys.stdout.write(logs.stdout[-20000:])
        subprocess.run(
            [*compose, "down", "-v", "-t", "10"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            timeout=300,
            check=False,
        )


class Browser:
    """One visitor talking to nginx on 127.0.0.1 with a store's Host, keeping its cookies."""

    def __init__(self, host: str):
        self.host = host
        self.http = requests.Session()
        self.cookies: dict[str, str] = {}
        self.csrf = ""

    def request(self, method: str, path: str, **form) -> requests.Response:
        headers = {
            "Host": self.host,
            "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
        }
        if method == "POST":
            headers["Origin"] = f"http://{self.host}"
            form["csrf_token"] = self.csrf
        response = self.http.request(
            method,
            BASE + path,
            data=form or None,
            headers=headers,
            allow_redirects=False,
            timeout=30,
        )
        # The cookies' Domain is the platform's, not 127.0.0.1: keep them by hand.
        for raw in response.raw.headers.getlist("Set-Cookie"):
            name, _, rest = raw.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        found = CSRF_RE.search(response.text) if method == "GET" else None
        if found:
            self.csrf = found.group(1)
        assert response.status_code < 400, f"{method} {path}: {response.status_code}"
        return response


def _path_of(location: str) -> str:
    return re.sub(r"^https?://[^/]+", "", location)


def test_every_service_is_up_and_healthy(stack):
    """Each service's own health check passes (podman 4.3 runs them only when asked)."""
    for service in SERVICES:
        _wait(
            f"{service}'s health check",
            lambda s=service: (
                subprocess.run(
                    ["podman", "healthcheck", "run", _container(s)],
                    env=stack["env"],
                    capture_output=True,
                    timeout=30,
                    check=False,
                ).returncode
                == 0
            ),
            limit=90,
        )
    ready = requests.get(f"{BASE}/readyz", headers={"Host": PLATFORM}, timeout=5).json()
    assert ready == {"database": "ok", "redis": "ok", "mode": "production", "status": "ok"}


def test_nginx_serves_static_files_and_both_web_services_answer(stack):
    """htmx came from npm in the image build; nginx serves it; requests reach web1 and web2."""
    htmx = requests.get(f"{BASE}/static/vendor/htmx.min.js", headers={"Host": PLATFORM}, timeout=5)
    assert htmx.status_code == 200 and "htmx" in htmx.text[:2000]
    assert htmx.headers["Server"] == "nginx"
    web_hosts = set()
    for service in ("web1", "web2"):
        probe = subprocess.run(
            [
                "podman",
                "exec",
                _container(service),
                "python3",
                "-c",
                "import urllib.request; print(urllib.request.urlopen("
                "'http://127.0.0.1:8000/healthz', timeout=3).status)",
            ],
            env=stack["env"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert probe.stdout.strip() == "200", probe.stderr
        web_hosts.add(service)
    assert web_hosts == {"web1", "web2"}


def test_the_app_runs_as_a_non_root_user(stack):
    """The image's USER: no process of the app runs as root."""
    for service in ("web1", "worker1", "cron"):
        who = subprocess.run(
            ["podman", "exec", _container(service), "id", "-u"],
            env=stack["env"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        assert who.stdout.strip() == "10001"


def test_a_guest_checks_out_pays_and_the_vendor_sees_it_paid(stack):
    """Cart, contact, address, shipping, place, approve on the test gateway; the worker applies
    the webhook; the owner's dashboard shows the order paid."""
    shopper = Browser(STORE_HOST)
    listing = shopper.request("GET", "/products/?in_stock=1").text
    variant_id = None
    for product in dict.fromkeys(PRODUCT_RE.findall(listing)):
        found = VARIANT_RE.search(shopper.request("GET", product).text)
        if found:
            variant_id = found.group(1)
            break
    assert variant_id, "no product with an add-to-cart form in the demo store"

    shopper.request("GET", "/cart")
    shopper.request("POST", "/cart/items", variant_id=variant_id, quantity=1)
    assert 'id="cart-count">1<' in shopper.request("GET", "/cart").text
    shopper.request("GET", "/checkout/contact")
    shopper.request("POST", "/checkout/contact", email=f"{uuid.uuid4().hex[:12]}@example.com")
    shopper.request(
        "POST",
        "/checkout/address",
        country="US",
        full_name="Deploy Shopper",
        line1="1 Market St",
        city="San Francisco",
        region="US-CA",
        postal_code="94105",
    )
    shopper.request("POST", "/checkout/shipping", shipping_method="standard")
    key = KEY_RE.search(shopper.request("GET", "/checkout/review").text).group(1)
    placed = shopper.request("POST", "/checkout/place", idempotency_key=key)
    assert placed.status_code == 303
    pay_path = _path_of(placed.headers["Location"])
    number = int(re.search(r"/pay/test/(\d+)", pay_path).group(1))

    shopper.request("GET", pay_path)
    query = pay_path.partition("?")[2]
    approved = shopper.request("POST", f"/pay/test/{number}/approve?{query}")
    assert approved.status_code == 303

    owner = Browser(STORE_HOST)
    owner.request("GET", "/account/signin?next=/admin/")
    signed_in = owner.request(
        "POST",
        "/account/signin",
        email="owner@acme.example.com",
        password="pasar-demo-2026",
        next="/admin/",
    )
    assert signed_in.status_code in (302, 303)

    def paid_in_dashboard() -> bool:
        page = owner.request("GET", f"/admin/orders/{number}").text
        return "badge--order-paid" in page

    # The worker delivers the test gateway's signed webhook and applies it.
    _wait(f"order {number} to show as paid in the dashboard", paid_in_dashboard, limit=90)
    listing = owner.request("GET", "/admin/orders/").text
    assert f"/admin/orders/{number}" in listing


def test_nginx_spreads_requests_over_both_web_services(stack):
    """Round robin through nginx: its access log names two different upstream addresses."""
    marker = uuid.uuid4().hex
    for _ in range(12):
        response = requests.get(
            f"{BASE}/healthz?probe={marker}", headers={"Host": PLATFORM}, timeout=5
        )
        assert response.status_code == 200
    logs = subprocess.run(
        ["podman", "logs", _container("nginx")],
        env=stack["env"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    lines = [line for line in (logs.stdout + logs.stderr).splitlines() if marker in line]
    upstreams = {re.search(r"upstream=(\S+)", line).group(1) for line in lines}
    assert len(lines) == 12 and len(upstreams) == 2, upstreams


def test_one_web_service_down_is_invisible_and_none_up_gets_pasars_page(stack):
    """Runs last: stops web1 (nginx sends everything to web2), then web2 as well."""

    def stop(service: str) -> None:
        # Long enough for gunicorn's drain and graceful stop (compose's stop_grace_period).
        _run(["podman", "stop", "-t", "30", _container(service)], stack["env"], timeout=90)

    def nginx_log() -> str:
        logs = subprocess.run(
            ["podman", "logs", "--tail", "20", _container("nginx")],
            env=stack["env"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return logs.stdout + logs.stderr

    stop("web1")
    for _ in range(8):
        page = requests.get(f"{BASE}/", headers={"Host": STORE_HOST}, timeout=10)
        assert page.status_code == 200, (
            f"{page.status_code} {dict(page.headers)}\n{page.text[:600]}\n{nginx_log()}"
        )
    stop("web2")
    down = requests.get(f"{BASE}/", headers={"Host": STORE_HOST}, timeout=10)
    assert down.status_code == 503
    assert "Pasar is back in a moment" in down.text
    assert "nginx" not in down.text
