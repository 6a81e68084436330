"""In a real browser: a new user verifies, opens a store with the live subdomain check, adds a
product and publishes; the store appears on the platform home; a superuser suspends it (the
storefront says unavailable, the owner's dashboard turns read-only) and reactivates it, and
looks at the console's overview and payouts (both server modes). The demo admin sets up an
authenticator app first: platform admins must have a second factor."""

import re
import uuid

import pytest

from tests.accounts_helpers import code_in
from tests.browser.conftest import screenshot
from tests.browser.test_account_flow import wait_for_mail
from tests.browser.test_two_factor_flow import enrol_authenticator_app

pytestmark = pytest.mark.browser


def test_a_vendor_opens_and_publishes_a_store_and_an_admin_suspends_it(
    live_server, live_smtp, browser, page
):
    tag = uuid.uuid4().hex[:6]
    email, slug, name = f"vendor-{tag}@example.com", f"kedai-{tag}", f"Kedai {tag.upper()}"

    # Register and verify.
    page.goto(live_server.url(path="/account/register"))
    page.get_by_label("Your name").fill("Vina Vendor")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill("vendor-password-2026")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(re.compile(r"/account/verify$"))
    page.get_by_label("6-digit code").fill(
        code_in(wait_for_mail(live_smtp, email, "Your Pasar verification code"))
    )
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(r"/account/$"))

    # Open a store: the subdomain is checked as it is typed.
    page.goto(live_server.url(path="/stores/new"))
    page.locator("#name").fill(name)
    page.locator("#slug").fill("admin")
    page.locator("#subdomain-check.subdomain-check--bad", has_text="reserved").wait_for()
    page.locator("#slug").fill("acme")
    page.locator("#subdomain-check.subdomain-check--bad", has_text="taken").wait_for()
    page.locator("#slug").fill(slug)
    page.locator("#subdomain-check.subdomain-check--ok").wait_for()
    screenshot(page, f"onboarding-{live_server.mode}")
    page.get_by_role("button", name="Open my store").click()
    page.wait_for_url(re.compile(rf"//{slug}\.pasar\.localhost:\d+/admin/"))
    assert "Get your store ready" in page.locator("body").inner_text()

    # Add a product, then publish.
    page.goto(live_server.url(slug, "/admin/products/new"))
    page.get_by_label("Title", exact=True).fill("Kopi Tubruk")
    page.get_by_label("Price (USD)").fill("12.00")
    page.get_by_label("Stock", exact=True).fill("20")
    page.get_by_label("SKU", exact=True).fill(f"KOPI-{tag}")
    page.get_by_label("Status").select_option("active")
    page.get_by_role("button", name="Create product").click()
    page.wait_for_url(re.compile(r"/admin/products/\d+"))
    if live_server.mode == "production":
        # In production the test gateway can't take a live store's payments: the checklist
        # says so, and the vendor connects Stripe before publishing.
        page.goto(live_server.url(slug, "/admin/"))
        page.get_by_text("The test gateway takes no real money").wait_for()
        page.goto(live_server.url(slug, "/admin/settings/checkout"))
        if "/account/2fa/confirm" in page.url:
            # Longer than STEP_UP_MAX_AGE since signing in: provider keys ask for the password.
            page.get_by_label("Your password").fill("vendor-password-2026")
            page.get_by_role("button", name="Confirm").click()
            page.wait_for_url(re.compile(r"/admin/settings/checkout$"))
        page.locator("input[name=payment_provider][value=stripe]").check()
        page.locator("#checkout-stripe_secret_key").fill(f"sk_test_{tag}browser")
        page.locator("#checkout-stripe_webhook_secret").fill(f"whsec_{tag}browser")
        page.get_by_role("button", name="Save checkout settings").click()
        page.get_by_text("Checkout settings saved.").wait_for()
    else:
        # Publishing needs a way to pay: here the vendor keeps the test gateway, and says so.
        page.goto(live_server.url(slug, "/admin/settings/checkout"))
        page.get_by_role("button", name="Save checkout settings").click()
        page.get_by_text("Checkout settings saved.").wait_for()
    page.goto(live_server.url(slug, "/admin/"))
    page.get_by_role("button", name="Publish store").first.click()
    page.locator("#messages, body").first.wait_for()
    home = browser.new_context().new_page()
    home.goto(live_server.url())
    home.get_by_text(name).first.wait_for()
    home.goto(live_server.url(slug, "/"))
    home.get_by_text("Kopi Tubruk").first.wait_for()

    # A platform admin suspends it: shoppers see "unavailable", the owner a read-only dashboard.
    admin = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    admin.goto(live_server.url(path="/account/signin?next=/console/"))
    admin.get_by_label("Email").fill("admin@example.com")
    admin.get_by_label("Password", exact=True).fill("pasar-demo-2026")
    admin.get_by_role("button", name="Sign in", exact=True).click()
    # The demo admin has no second factor yet: the console asks for one first.
    admin.wait_for_url(re.compile(r"/account/security/totp\?next="))
    enrol_authenticator_app(admin, f"platform-admin-{live_server.mode}")
    admin.wait_for_url(re.compile(r"/console/$"))
    admin.locator("#gmv-chart svg").wait_for()
    screenshot(admin, f"console-overview-{live_server.mode}")
    admin.goto(live_server.url(path=f"/console/stores/?q={slug}"))
    admin.get_by_role("link", name=name).click()
    admin.get_by_label("Reason for suspending").fill("Checking the documents")
    # Suspending asks first, saying what it does.
    asked = []
    admin.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    admin.get_by_role("button", name="Suspend store").click()
    admin.get_by_role("button", name="Reactivate store").wait_for()
    assert asked and asked[0].startswith(f"Suspend {name}?"), asked
    assert "Checking the documents" in admin.locator("#status-reason").inner_text()
    home.goto(live_server.url(slug, "/"))
    assert "This store is unavailable" in home.locator("body").inner_text()
    page.goto(live_server.url(slug, "/admin/"))
    assert "Suspended by the platform: read-only." in page.locator("body").inner_text()
    admin.get_by_role("button", name="Reactivate store").click()
    admin.get_by_role("button", name="Suspend store").wait_for()
    home.goto(live_server.url(slug, "/"))
    home.get_by_text("Kopi Tubruk").first.wait_for()

    # The console's payouts for the demo stores.
    admin.goto(live_server.url(path="/console/payouts/"))
    admin.locator("h1", has_text="Payouts").wait_for()
    screenshot(admin, f"console-payouts-{live_server.mode}")
    assert page.errors == [], page.errors
