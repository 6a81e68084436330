"""In a real browser: an owner registers a webhook endpoint, sends a test event, finds it in
the delivery log and replays it; the receiver (on loopback, which the live servers allow)
verifies both deliveries with the Standard Webhooks library. Production mode delivers through
the rq worker, embedded mode inline. Each webhook page is checked with axe on the way."""

import re
import time

import pytest
from playwright.sync_api import expect

from tests.browser import a11y
from tests.browser.conftest import screenshot
from tests.browser.test_checkout_flow import sign_in
from tests.webhook_helpers import running_receiver

pytestmark = pytest.mark.browser

# One receiver port per server mode: the two modes' tests may overlap in a parallel run.


def wait_until_delivered(page, timeout: float = 30) -> None:
    """Reload the delivery page until it says Delivered (a worker may take a moment)."""
    deadline = time.monotonic() + timeout
    while "Delivered" not in page.locator("h1").inner_text():
        assert time.monotonic() < deadline, page.locator("main").inner_text()
        time.sleep(0.3)
        page.reload()


@pytest.fixture
def page(browser):
    """A page that lets axe in (tests/browser/a11y.py), with its errors collected."""
    context = a11y.axe_context(browser, viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    pg.errors = []
    pg.on("pageerror", lambda exc: pg.errors.append(str(exc)))
    yield pg
    context.close()


def test_owner_registers_an_endpoint_sends_a_test_event_and_replays_it(live_server, page):
    found = {}

    def check(name: str) -> None:
        items = a11y.violations(page)
        if items:
            found[name] = items

    with running_receiver() as receiver:
        sign_in(page, live_server, "owner@acme.example.com", "/admin/webhooks/")
        page.wait_for_url(re.compile(r"/admin/webhooks/$"))
        check("webhooks")
        page.get_by_label("Endpoint URL").fill(receiver.url)
        page.get_by_label(re.compile("^Description")).fill("Warehouse")
        page.get_by_role("button", name="Add endpoint").click()
        page.wait_for_url(re.compile(r"/admin/webhooks/\d+$"))
        receiver.secret = page.locator("#webhook-secret").inner_text().strip()
        assert receiver.secret.startswith("whsec_")
        check("webhook endpoint")
        screenshot(page, f"webhook-endpoint-{live_server.mode}")

        page.get_by_role("button", name="Send a test event").click()
        page.wait_for_url(re.compile(r"/admin/webhooks/deliveries/\d+$"))
        wait_until_delivered(page)
        assert "webhook.test" in page.locator("h1").inner_text()
        assert "200" in page.locator(".webhook-attempts").inner_text()
        check("webhook delivery")
        screenshot(page, f"webhook-delivery-{live_server.mode}")

        page.get_by_role("link", name="Delivery log").click()
        row = page.locator(".webhook-deliveries tbody tr").first
        assert "webhook.test" in row.inner_text() and "HTTP 200" in row.inner_text()
        row.get_by_role("link").click()
        page.get_by_role("button", name="Replay").click()
        page.wait_for_url(re.compile(r"/admin/webhooks/deliveries/\d+$"))
        wait_until_delivered(page)
        page.get_by_role("link", name="Delivery log").click()
        # count() doesn't wait: the click returns before the log has loaded.
        expect(page.locator(".webhook-deliveries tbody tr")).to_have_count(2)
        check("webhook deliveries")
        screenshot(page, f"webhook-deliveries-{live_server.mode}")
        assert page.errors == []
    assert found == {}, a11y.describe(found)

    assert len(receiver.requests) == 2
    assert receiver.verified() == [True, True]
    ids = {got["headers"]["webhook-id"] for got in receiver.requests}
    assert len(ids) == 1  # the replay carries the same message id
