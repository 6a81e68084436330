"""In a real browser: sign up, enrol an authenticator app and a passkey (Chromium's virtual
authenticator), then sign in with each (the passkey as second factor and alone) and with a
recovery code; a platform admin is sent to enrol before the console and asked for the factor
again once STEP_UP_MAX_AGE has passed."""

import re
import time
import uuid

import pyotp
import pytest

from tests.accounts_helpers import code_in
from tests.browser.conftest import STEP_UP_MAX_AGE, _flask, screenshot
from tests.browser.test_account_flow import wait_for_mail

pytestmark = pytest.mark.browser


class Authenticator:
    """An authenticator app: hands out a code from a time step not used before."""

    def __init__(self, secret: str):
        self.totp = pyotp.TOTP(secret)
        self.last_step = -1

    def code(self) -> str:
        while True:
            moment = time.time()
            now = self.totp.timecode(int(moment))
            # The step before this one is accepted only until this one ends: not in its last
            # 5 s, or a slow request reaches the server a step later and the code is refused.
            lowest = now - 1 if self.totp.interval - moment % self.totp.interval > 5 else now
            step = max(self.last_step + 1, lowest)
            if step <= now + 1:
                self.last_step = step
                return self.totp.generate_otp(step)
            time.sleep(1)


def both_widths(page, name: str) -> None:
    """Screenshots at desktop and phone widths."""
    page.set_viewport_size({"width": 1280, "height": 800})
    screenshot(page, f"{name}-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, f"{name}-390")
    page.set_viewport_size({"width": 1280, "height": 800})


def sign_in_with_password(page, live_server, email: str, password: str) -> None:
    page.goto(live_server.url(path="/account/signin"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(re.compile(r"/account/2fa$"))


def enter_code(page, code: str) -> None:
    page.get_by_label("Code from your app, or a recovery code").fill(code)
    page.get_by_role("button", name="Continue").click()


def sign_out(page, live_server) -> None:
    page.get_by_role("button", name="Sign out").first.click()
    page.wait_for_url(live_server.url())


def enrol_authenticator_app(page, name: str) -> tuple[Authenticator, list[str]]:
    """On the enrolment page: make the key, read it, confirm a code, keep the recovery codes."""
    page.get_by_role("button", name="Show the QR code").click()  # reading the page writes nothing
    page.locator("img[alt='QR code for your authenticator app']").wait_for()
    both_widths(page, f"totp-enrol-{name}")
    app = Authenticator(page.locator("[data-totp-secret]").get_attribute("data-totp-secret"))
    page.get_by_label("6-digit code from the app").fill(app.code())
    page.get_by_role("button", name="Turn on").click()
    page.locator("[data-recovery-codes]").wait_for()
    codes = [c.strip() for c in page.locator("[data-recovery-codes] code").all_inner_texts()]
    assert len(codes) == 10
    both_widths(page, f"recovery-codes-{name}")
    page.get_by_role("link", name=re.compile("I've saved them")).click()
    return app, codes


def test_two_factor_with_an_app_a_passkey_and_a_recovery_code(live_server, live_smtp, page):
    email = f"twofa-{uuid.uuid4().hex[:8]}@example.com"
    password = "two-factor-password-2026"
    mode = live_server.mode

    page.goto(live_server.url(path="/account/register"))
    page.get_by_label("Your name").fill("Tia Twofactor")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(re.compile(r"/account/verify$"))
    page.get_by_label("6-digit code").fill(
        code_in(wait_for_mail(live_smtp, email, "Your Pasar verification code"))
    )
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(r"/account/$"))

    # The authenticator app, from the account's Security page.
    page.get_by_role("link", name="Security").first.click()
    page.get_by_role("link", name="Set up an authenticator app").click()
    app, codes = enrol_authenticator_app(page, mode)
    page.wait_for_url(re.compile(r"/account/security$"))
    wait_for_mail(live_smtp, email, "Your Pasar sign-in security changed")

    # A passkey, with Chromium's virtual authenticator standing in for the device.
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    page.get_by_label("Passkey name").fill("Test laptop")
    page.get_by_role("button", name="Add a passkey").click()
    page.get_by_role("cell", name="Test laptop", exact=True).wait_for()
    assert "Your passkey is saved." in page.locator("#messages").inner_text()
    both_widths(page, f"security-{mode}")
    sign_out(page, live_server)

    # Signing in: the password, then a code from the app.
    sign_in_with_password(page, live_server, email, password)
    both_widths(page, f"two-factor-{mode}")
    enter_code(page, app.code())
    page.wait_for_url(live_server.url())
    assert "Welcome back, Tia Twofactor!" in page.locator("#messages").inner_text()
    sign_out(page, live_server)

    # The password, then the passkey.
    sign_in_with_password(page, live_server, email, password)
    page.get_by_role("button", name="Use a passkey").click()
    page.wait_for_url(live_server.url())
    assert "Welcome back" in page.locator("#messages").inner_text()
    sign_out(page, live_server)

    # A passkey alone, from the sign-in page (the device verifies the user).
    page.goto(live_server.url(path="/account/signin"))
    screenshot(page, f"signin-with-passkey-{mode}")
    page.get_by_role("button", name="Use a passkey").click()
    page.wait_for_url(live_server.url())
    assert "Welcome back, Tia Twofactor!" in page.locator("#messages").inner_text()
    sign_out(page, live_server)

    # The password, then a recovery code; the same code doesn't work twice.
    sign_in_with_password(page, live_server, email, password)
    enter_code(page, codes[0])
    page.wait_for_url(live_server.url())
    sign_out(page, live_server)
    sign_in_with_password(page, live_server, email, password)
    enter_code(page, codes[0])
    assert "already used" in page.locator(".auth__card").inner_text()
    enter_code(page, codes[1])
    page.wait_for_url(live_server.url())
    # Wrong codes are answered 422 on purpose; nothing else may fail.
    assert [e for e in page.errors if "status of 422" not in e] == []


# Embedded mode only: the step-up window lives in signed cookies, the same in both modes (the
# production copy waited out the same 31 s); the codes' store in Redis is the other flow's.
@pytest.mark.embedded_only
def test_an_admin_enrols_before_the_console_and_confirms_again_later(live_server, page):
    mode = live_server.mode
    email, password = f"root-{uuid.uuid4().hex[:8]}@example.com", "root-password-2026"
    _flask(live_server.env, "create-superuser", "--email", email, "--password", password)
    page.goto(live_server.url(path="/account/signin"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(live_server.url())

    # A new admin has no second factor: the console sends them to set one up first.
    page.goto(live_server.url(path="/console/"))
    page.wait_for_url(re.compile(r"/account/security/totp\?next="))
    assert "Platform admins must use two-factor sign-in" in page.locator("main").inner_text()
    app, _ = enrol_authenticator_app(page, f"admin-{mode}")
    page.wait_for_url(live_server.url(path="/console/"))
    assert page.locator("h1").first.is_visible()

    # Idle past the step-up window: the console asks for the factor again.
    time.sleep(STEP_UP_MAX_AGE + 1)
    page.goto(live_server.url(path="/console/users/"))
    page.wait_for_url(re.compile(r"/account/2fa/confirm\?next="))
    assert "Confirm it" in page.locator("h1").inner_text()
    both_widths(page, f"console-confirm-{mode}")
    enter_code(page, app.code())
    page.wait_for_url(live_server.url(path="/console/users/"))
    assert page.errors == []
