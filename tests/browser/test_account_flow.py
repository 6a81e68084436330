"""In a real browser: register, verify with the mailed code, sign out, reset the password from
the mailed link, and sign in on a store subdomain with the session carried to the platform."""

import re
import time
import uuid

import pytest

from tests.accounts_helpers import code_in
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser


def wait_for_mail(smtp, address, subject, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for mail in reversed(smtp.messages):
            if mail["To"] == address and mail["Subject"] == subject:
                return mail.get_body(("plain",)).get_content()
        time.sleep(0.2)
    pytest.fail(f"no '{subject}' mail for {address} within {timeout}s")


def test_register_verify_reset_and_sign_in_across_hosts(live_server, live_smtp, page):
    email = f"browser-{uuid.uuid4().hex[:8]}@example.com"
    password, new_password = "first-password-2026", "second-password-2026"

    page.goto(live_server.url(path="/account/register"))
    screenshot(page, f"register-{live_server.mode}")
    page.get_by_label("Your name").fill("Bea Browser")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(re.compile(r"/account/verify$"))
    assert email in page.locator(".auth__card").inner_text()
    assert page.get_by_role("button", name="Send a new code").is_disabled()

    code = code_in(wait_for_mail(live_smtp, email, "Your Pasar verification code"))
    page.get_by_label("6-digit code").fill(code)
    screenshot(page, f"verify-{live_server.mode}")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(r"/account/$"))
    assert "Your email address is verified" in page.locator("#messages").inner_text()
    screenshot(page, f"account-{live_server.mode}")

    page.get_by_role("button", name="Sign out").first.click()
    page.wait_for_url(live_server.url())
    assert page.get_by_role("link", name="Sign in").is_visible()

    page.goto(live_server.url(path="/account/reset"))
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Send the link").click()
    page.wait_for_url(re.compile(r"/account/signin$"))
    body = wait_for_mail(live_smtp, email, "Reset your Pasar password")
    link = re.search(r"http://\S+/account/reset/\S+", body).group(0)
    page.goto(link)
    page.get_by_label("New password", exact=True).fill(new_password)
    page.get_by_label("Repeat the new password").fill(new_password)
    page.get_by_role("button", name="Save the new password").click()
    page.wait_for_url(re.compile(r"/account/signin$"))
    assert "Your password is changed" in page.locator("#messages").inner_text()

    page.goto(live_server.url("acme", "/account/signin"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    assert "Email or password is incorrect." in page.locator(".auth__card").inner_text()
    page.get_by_label("Password", exact=True).fill(new_password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server.url("acme"))
    assert "Welcome back, Bea Browser!" in page.locator("#messages").inner_text()
    screenshot(page, f"store-signed-in-{live_server.mode}")

    for host in (None, "batik"):
        page.goto(live_server.url(host, "/account/"))
        assert page.url == live_server.url(host, "/account/")
        assert email in page.locator(".account__who").inner_text()
    # The wrong password above is answered 422 on purpose; nothing else may fail.
    assert [e for e in page.errors if "status of 422" not in e] == []


def test_owner_reaches_the_dashboard_and_a_shopper_does_not(live_server, page):
    page.goto(live_server.url("acme", "/admin/"))
    page.wait_for_url(re.compile(r"/account/signin\?next="))
    page.get_by_label("Email").fill("owner@acme.example.com")
    page.get_by_label("Password", exact=True).fill("pasar-demo-2026")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server.url("acme", "/admin/"))
    assert page.locator("h1").inner_text() == "Overview"
    screenshot(page, f"dashboard-{live_server.mode}")
    page.goto(live_server.url("batik", "/admin/"))
    assert page.locator("h1").inner_text() == "Page not found"
