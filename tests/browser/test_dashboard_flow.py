"""In a real browser: the owner invites a staff member who accepts; the staff member adjusts
stock and ships an order; the owner uploads a stock CSV and watches the sync's progress to the
end (a real rq worker in production mode), and the home chart shows the seeded sales."""

import re
import uuid

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.accounts_helpers import code_in
from tests.browser.conftest import screenshot
from tests.browser.test_checkout_flow import sign_in, wait_for_mail

pytestmark = pytest.mark.browser


def test_owner_invites_staff_who_adjusts_and_ships_then_the_owner_syncs_stock(
    live_server, browser, page, live_smtp
):
    newcomer = f"staff-{uuid.uuid4().hex[:8]}@example.com"

    # The owner's home: the 30-day chart has the demo's sales in it.
    sign_in(page, live_server, "owner@acme.example.com", "/admin/")
    page.wait_for_url(re.compile(r"/admin/$"))
    heights = page.locator(".sales-chart__bar").evaluate_all(
        "bars => bars.map(b => parseFloat(b.getAttribute('height')))"
    )
    assert len(heights) == 30 and sum(1 for h in heights if h > 0) >= 5, heights
    screenshot(page, f"dashboard-home-{live_server.mode}")

    # The owner invites a newcomer as staff.
    page.goto(live_server.url("acme", "/admin/staff"))
    page.get_by_label("Email").fill(newcomer)
    page.get_by_label("Role").select_option("staff")
    page.get_by_role("button", name="Send invitation").click()
    page.locator("#invites", has_text=newcomer).wait_for()
    invite = wait_for_mail(live_smtp, newcomer, 1)[0]
    body = invite.get_body(preferencelist=("plain",)).get_content()
    link = re.search(r"http://\S+/admin/join/\S+", body).group(0)

    # The newcomer opens the link, gets a sign-in code (a new account) and joins.
    staff = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    staff.errors = []
    staff.on("pageerror", lambda exc: staff.errors.append(str(exc)))
    staff.goto(link)
    staff.get_by_role("link", name="New here? Email me a sign-in code").click()
    staff.get_by_label("Email").fill(newcomer)
    staff.get_by_role("button", name="Email me a code").click()
    code = code_in(str(wait_for_mail(live_smtp, newcomer, 2)[-1].get_body().get_content()))
    staff.get_by_label("6-digit code").fill(code)
    staff.get_by_role("button", name="Continue").click()
    staff.get_by_role("button", name=re.compile(r"^Join .+ as staff$")).click()
    staff.wait_for_url(re.compile(r"/admin/"))
    assert "Your role: staff" in staff.locator(".admin__store").inner_text()

    # The staff member receives five of a product: through its stock page, with a reason.
    staff.goto(live_server.url("acme", "/admin/products/"))
    staff.locator("table a[href*='/admin/products/']").first.click()
    staff.get_by_role("link", name=re.compile("History")).first.click()
    staff.wait_for_url(re.compile(r"/admin/variants/\d+/stock"))
    before = int(staff.locator(".stock-summary__value").inner_text().split()[0].replace(",", ""))
    staff.get_by_label("Quantity").fill("+5")
    staff.get_by_label("Reason").fill("Delivery from the supplier")
    staff.get_by_role("button", name="Save change").click()
    staff.locator(".stock-summary__value", has_text=f"{before + 5:,}").wait_for()
    staff.locator("#stock-history", has_text="Delivery from the supplier").wait_for()
    screenshot(staff, f"dashboard-stock-{live_server.mode}")

    # ... and ships a paid order.
    staff.goto(live_server.url("acme", "/admin/orders/?status=paid"))
    staff.locator(".order-table__number").first.click()
    staff.get_by_label("Carrier").fill("JNE")
    staff.get_by_label("Tracking number").fill("JNE-4242")
    staff.get_by_role("button", name="Mark shipped and email the customer").click()
    staff.get_by_text("JNE-4242").first.wait_for()
    assert staff.errors == []

    # The owner downloads the current stock, changes counts and uploads it.
    page.goto(live_server.url("acme", "/admin/stock-sync/"))
    csv_text = page.evaluate(
        "() => fetch('/admin/stock-sync/current.csv').then(r => r.ok ? r.text() : 'failed')"
    )
    lines = csv_text.lstrip("\ufeff").splitlines()
    header, rows = lines[0], [line.split(",") for line in lines[1:] if line.split(",")[1]]
    assert header.startswith("sku,stock,price")
    body = "sku,stock\n" + "".join(f"{r[0]},{int(r[1]) + 3}\n" for r in rows) + "NOT-A-SKU,4\n"
    page.get_by_label("CSV file").set_input_files(
        {"name": "counts.csv", "mimeType": "text/csv", "buffer": body.encode()}
    )
    page.get_by_role("button", name="Upload and preview").click()
    page.locator("#sync-confirm").wait_for(timeout=30000)
    screenshot(page, f"dashboard-sync-preview-{live_server.mode}")
    errors = page.locator(".sync-summary .stat", has_text="Errors").inner_text()
    assert errors.split()[-1] == "1", errors
    page.get_by_role("button", name=re.compile(r"^Apply [\d,]+ changes?$")).click()
    # The progress bar polls until the job is done, then the page shows the outcome.
    seen = []
    for _ in range(300):
        if page.locator("#sync-undo").count():
            break
        # One read in the page: the bar can go between a count() and a get_attribute() (the
        # page reloads when the job is done), and the second would then wait for it in vain.
        try:
            value = page.evaluate(
                "() => document.querySelector('#sync-progress progress')?.getAttribute('value')"
            )
        except PlaywrightError:  # the page was reloading: "execution context was destroyed"
            value = None
        if value is not None:
            seen.append(value)
        page.wait_for_timeout(100)
    page.locator("#sync-undo").wait_for(timeout=30000)
    summary = page.locator(".sync-summary").inner_text()
    assert f"Updated\n{len(rows):,}" in summary or f"Updated {len(rows):,}" in summary, summary
    assert page.locator("#sync-progress").count() == 0
    # Whatever the bar showed on the way (a fast worker may finish first), it only went up.
    values = [int(v) for v in seen if v is not None]
    assert values == sorted(values), values
    screenshot(page, f"dashboard-sync-applied-{live_server.mode}")
    page.get_by_role("link", name=re.compile("problem report")).wait_for()
    assert page.errors == [], page.errors
