"""Embedded mode under a real gunicorn with three workers: accounts work on every request."""

import os
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import PLATFORM, _migrate
from tests.integration.processes import Browser, free_port, start_gunicorn, stop

pytestmark = pytest.mark.integration

USERS = 12
PASSWORD = "correct horse battery staple"


def test_register_verify_and_sign_in_always_work_under_three_workers(tmp_path):
    db_path = tmp_path / "pasar.db"
    url = f"sqlite:///{db_path}"
    _migrate(url)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": "",
        "SECRET_KEY": "test-secret-key",
        "PLATFORM_DOMAIN": PLATFORM,
        "TRUSTED_PROXIES": "1",  # each person comes from their own address (X-Forwarded-For)
        "MAIL_SERVER": "",
        "PYTHONUNBUFFERED": "1",
    }
    port = free_port()
    log_path = tmp_path / "gunicorn.log"
    proc = start_gunicorn(env, port, log_path)
    engine = create_engine(url)

    def code_for(email: str) -> str:
        with engine.connect() as conn:
            body = conn.scalar(
                text(
                    "SELECT text_body FROM email_messages WHERE to_address = :a "
                    "ORDER BY id DESC LIMIT 1"
                ),
                {"a": email},
            )
        assert body, f"no email to {email}"
        return re.search(r"\b(\d{6})\b", body).group(1)

    def journey(i: int) -> list[str]:
        email = f"person{i}@example.com"
        failures = []
        browser = Browser(port, f"10.1.0.{i + 1}")
        response = browser.post(
            "/account/register", {"email": email, "password": PASSWORD, "name": f"P{i}"}
        )
        if response.status_code != 303:
            return [f"{email}: register answered {response.status_code}"]
        response = browser.post("/account/verify", {"code": code_for(email)})
        if response.headers.get("Location") != "/account/":
            failures.append(f"{email}: verify answered {response.status_code}")
        # A fresh browser signs in with the password held since registration.
        fresh = Browser(port, f"10.2.0.{i + 1}")
        response = fresh.post("/account/signin", {"email": email, "password": PASSWORD})
        if response.status_code != 303:
            failures.append(f"{email}: sign-in answered {response.status_code}")
        return failures

    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            failures = [f for result in pool.map(journey, range(USERS)) for f in result]
    finally:
        stop(proc)
        engine.dispose()
    log = log_path.read_text()
    assert failures == [], failures
    verify_pids = set(re.findall(r"pid=<?(\d+)>? POST /account/verify", log))
    assert len(verify_pids) >= 2, "the codes were all checked by one worker: nothing proven"
