"""In a real browser: an owner makes an API key, sees it once, uses it, revokes it (and the key
stops working at once); the API's docs page draws the reference from our own files."""

import re

import pytest

from tests.browser.conftest import screenshot
from tests.browser.test_checkout_flow import sign_in

pytestmark = pytest.mark.browser

# fetch() from the page itself: the browser resolves *.localhost, and the page's own session
# cookie rides along, which must not count for the API.
CALL = """async ([path, key]) => {
    const response = await fetch(path, {headers: key ? {Authorization: `Bearer ${key}`} : {}});
    return [response.status, response.headers.get("content-type")];
}"""


@pytest.mark.embedded_only  # a key's rows and pages: nothing here runs as a job or uses Redis
def test_owner_creates_a_key_sees_it_once_and_revokes_it(live_server, page):
    sign_in(page, live_server, "owner@acme.example.com", "/admin/")
    page.wait_for_url(re.compile(r"/admin/$"))
    page.get_by_role("link", name="API keys").click()
    page.wait_for_url(re.compile(r"/admin/api-keys/$"))

    page.get_by_label("Name").fill("Warehouse sync")
    page.get_by_label(re.compile("Read stock levels")).check()
    page.get_by_label(re.compile("Adjust stock")).check()
    page.get_by_role("button", name="Create key").click()
    secret = page.locator("#new-api-key-value").inner_text().strip()
    assert secret.startswith("pk_") and len(secret) > 40
    screenshot(page, f"api-key-created-{live_server.mode}")

    assert page.evaluate(CALL, ["/api/v1/stock?limit=1", secret])[0] == 200
    assert page.evaluate(CALL, ["/api/v1/orders", secret])[0] == 403  # not its scope
    assert page.evaluate(CALL, ["/api/v1/stock", None]) == [401, "application/problem+json"]

    # Shown once: the list has the prefix only, never the secret again.
    page.goto(live_server.url("acme", "/admin/api-keys/"))
    row = page.locator("tr", has_text="Warehouse sync")
    assert secret not in page.content()
    assert secret[:11] in row.inner_text()
    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
    row.get_by_role("button", name="Revoke").click()
    page.wait_for_url(re.compile(r"/admin/api-keys/$"))
    assert "Revoked" in page.locator("tr", has_text="Warehouse sync").inner_text()
    assert questions == [
        "Revoke the key Warehouse sync? Requests that send it are refused at once."
    ]
    assert page.evaluate(CALL, ["/api/v1/stock?limit=1", secret])[0] == 401
    # The refused calls above log "Failed to load resource"; nothing else may go wrong.
    assert [e for e in page.errors if not e.startswith("Failed to load resource")] == []


@pytest.mark.embedded_only  # a static page and its script: the server's mode doesn't change it
def test_the_docs_page_draws_the_reference(live_server, page):
    page.goto(live_server.url("acme", "/api/v1/docs"))
    page.locator(
        ".opblock-summary-path", has_text="/api/v1/stock/{variant_id}/adjustments"
    ).first.wait_for()
    assert page.locator(".opblock").count() >= 19
    # Drawn under the strict CSP (scripts from 'self' only): nothing was refused.
    assert [e for e in page.errors if "Content Security Policy" in e] == []
    screenshot(page, f"api-docs-{live_server.mode}")
