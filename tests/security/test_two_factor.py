"""Two-factor sign-in: a password (or an emailed code) alone no longer signs in an account that
has a second factor; TOTP codes can't be replayed; wrong answers are counted per account;
recovery codes work once; passkeys are verified against the platform's RP id and origins."""

import re
import time

import pyotp
import pytest
from sqlalchemy import select

from app.accounts.factor_models import Passkey, RecoveryCode, TotpFactor
from app.audit.models import AuditLog
from app.database import utcnow
from app.extensions import db
from tenants.models import Store
from tests.accounts_helpers import (
    code_in,
    emails_to,
    enrol_totp,
    last_email,
    mark_recently_confirmed,
    sign_in_with_factor,
    text,
)
from tests.conftest import BACKENDS, PLATFORM, sign_in_as
from tests.factories import PASSWORD, make_store, make_user
from tests.security.soft_authenticator import SoftAuthenticator

pytestmark = pytest.mark.backends("sqlite")  # sign-in steps, passkey origins: HTTP, not SQL

ORIGIN = f"http://{PLATFORM}"
SECURITY_MAIL = "Your Pasar sign-in security changed"


def password_step(client, email: str, next_url: str = "/account/"):
    return client.post(
        "/account/signin", data={"email": email, "password": PASSWORD, "next": next_url}
    )


def signed_in(client) -> bool:
    return client.get("/account/").status_code == 200


def sign_out(client) -> None:
    client.post("/account/signout")


def actions(app, user) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(AuditLog.action).where(AuditLog.actor_id == user.id).order_by(AuditLog.id)
            )
        )


def wrong_code(secret: str) -> str:
    right = {pyotp.TOTP(secret).at(time.time() + 30 * k) for k in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in right)


def test_the_password_alone_no_longer_signs_in_an_account_with_a_second_factor(app, client):
    user = make_user("two@example.com")
    secret = enrol_totp(app, user)

    answer = password_step(client, user.email, "/account/orders/")
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/account/2fa"
    assert not signed_in(client), "the password alone must not open the account"

    answer = client.post("/account/2fa", data={"code": pyotp.TOTP(secret).now()})
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/account/orders/"
    assert signed_in(client)
    assert "signin" in actions(app, user)


def test_the_emailed_sign_in_code_alone_does_not_sign_in_either(app, client):
    user = make_user("coded@example.com")
    enrol_totp(app, user)
    client.post("/account/signin/code", data={"email": user.email})
    code = code_in(last_email(app, user.email).text_body)
    answer = client.post("/account/signin/code/verify", data={"code": code})
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/account/2fa"
    assert not signed_in(client)


@pytest.mark.backends(*BACKENDS)  # a conditional update claims the step
def test_a_totp_code_is_refused_the_second_time(app, client):
    user = make_user("replay@example.com")
    secret = enrol_totp(app, user)
    code = pyotp.TOTP(secret).now()
    password_step(client, user.email)
    assert client.post("/account/2fa", data={"code": code}).status_code == 303
    sign_out(client)

    # Someone who saw the code (shoulder, phishing proxy) tries it within its 30-second window.
    password_step(client, user.email)
    answer = client.post("/account/2fa", data={"code": code})
    assert answer.status_code == 422
    assert "already used" in text(answer)
    assert not signed_in(client)


def test_wrong_answers_are_counted_per_account_and_capped(app, client, client_for):
    user = make_user("guess@example.com")
    secret = enrol_totp(app, user)
    password_step(client, user.email)
    for _ in range(10):
        assert client.post("/account/2fa", data={"code": wrong_code(secret)}).status_code == 422

    # A fresh sign-in (or another browser) doesn't reset the count: it belongs to the account.
    other = client_for(None)
    password_step(other, user.email)
    answer = other.post("/account/2fa", data={"code": pyotp.TOTP(secret).now()})
    assert answer.status_code == 429
    assert "Too many" in text(answer)
    assert not signed_in(other)


def test_the_second_step_expires(app, client):
    user = make_user("slow@example.com")
    secret = enrol_totp(app, user)
    password_step(client, user.email)
    with client.session_transaction() as sess:
        sess["2fa_pending"] = {**sess["2fa_pending"], "e": int(time.time()) - 1}
    answer = client.post("/account/2fa", data={"code": pyotp.TOTP(secret).now()})
    assert answer.status_code == 302
    assert "/account/signin" in answer.headers["Location"]
    assert not signed_in(client)


def enrol_through_the_pages(client) -> tuple[str, list[str]]:
    """Enrol an authenticator app as a signed-in user would; returns the secret and codes."""
    page = client.get("/account/security/totp")
    assert page.status_code == 200
    assert "data-totp-secret" not in text(page)  # reading the page makes no secret
    answer = client.post("/account/security/totp", data={"action": "start"})
    assert answer.status_code == 303
    page = client.get(answer.headers["Location"])
    assert page.status_code == 200
    assert 'src="data:image/svg+xml' in text(page)  # the QR code, as a data: image
    secret = re.search(r"data-totp-secret=\"([A-Z2-7]+)\"", text(page)).group(1)
    answer = client.post("/account/security/totp", data={"code": pyotp.TOTP(secret).now()})
    assert answer.status_code == 200
    codes = re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>", text(answer))
    assert len(codes) == 10
    return secret, codes


def test_enrolment_stores_the_secret_encrypted_and_recovery_codes_hashed(app, client):
    user = make_user("enrol@example.com")
    sign_in_as(client, user)
    mark_recently_confirmed(client, user)
    secret, codes = enrol_through_the_pages(client)
    with app.app_context():
        row = db.session.scalar(select(TotpFactor).where(TotpFactor.user_id == user.id))
        assert row.confirmed_at is not None
        assert secret not in row.secret_encrypted
        hashes = db.session.scalars(
            select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id)
        ).all()
    assert len(hashes) == 10
    assert not set(codes) & set(hashes)
    assert "2fa.totp_enabled" in actions(app, user)
    assert SECURITY_MAIL in [m.subject for m in emails_to(app, user.email)]


@pytest.mark.backends(*BACKENDS)  # a conditional update uses it once
def test_a_recovery_code_works_once(app, client):
    user = make_user("lost-phone@example.com")
    sign_in_as(client, user)
    mark_recently_confirmed(client, user)
    _, codes = enrol_through_the_pages(client)
    sign_out(client)

    password_step(client, user.email)
    assert client.post("/account/2fa", data={"code": codes[0].upper()}).status_code == 303
    assert signed_in(client)
    assert "2fa.recovery_code_used" in actions(app, user)
    sign_out(client)

    password_step(client, user.email)
    answer = client.post("/account/2fa", data={"code": codes[0]})
    assert answer.status_code == 422
    assert not signed_in(client)
    assert client.post("/account/2fa", data={"code": codes[1]}).status_code == 303


def add_passkey(client, authenticator, origin=ORIGIN, name="Laptop"):
    options = client.post("/account/security/passkeys/options", json={})
    assert options.status_code == 200, options.get_data(as_text=True)
    return client.post(
        "/account/security/passkeys",
        json={"credential": authenticator.create(options.get_json(), origin), "name": name},
    )


def passkey_step(client, authenticator, origin=ORIGIN):
    options = client.post("/account/2fa/passkey/options", json={})
    assert options.status_code == 200, options.get_data(as_text=True)
    credential = authenticator.get(options.get_json(), origin)
    return client.post("/account/2fa/passkey", json={"credential": credential}), credential


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_a_passkey_registers_and_signs_in_on_the_platform_and_a_store_subdomain(
    app, client, client_for, store_a
):
    user = make_user("passkey@example.com")
    sign_in_with_factor(client, user)
    authenticator = SoftAuthenticator(PLATFORM)
    answer = add_passkey(client, authenticator)
    assert answer.status_code == 200, answer.get_json()
    assert "2fa.passkey_added" in actions(app, user)
    sign_out(client)

    password_step(client, user.email)
    answer, credential = passkey_step(client, authenticator)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["redirect"] == "/account/"
    assert signed_in(client)

    # The same assertion again (a replay) finds no challenge to answer.
    sign_out(client)
    password_step(client, user.email)
    assert client.post("/account/2fa/passkey", json={"credential": credential}).status_code == 400
    assert not signed_in(client)

    # One passkey for every store subdomain: the RP id is the platform host.
    shop = client_for(store_a)
    password_step(shop, user.email)
    answer, _ = passkey_step(shop, authenticator, origin=f"http://{store_a.slug}.{PLATFORM}")
    assert answer.status_code == 200, answer.get_json()
    with app.app_context():
        assert db.session.scalar(select(Passkey.sign_count).where(Passkey.user_id == user.id)) == 2


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_a_passkey_answer_from_another_origin_or_rp_is_refused(app, client):
    user = make_user("phished@example.com")
    sign_in_with_factor(client, user)
    authenticator = SoftAuthenticator(PLATFORM)
    assert add_passkey(client, authenticator).status_code == 200
    sign_out(client)

    password_step(client, user.email)
    # A vendor's custom domain relaying the ceremony: the browser reports its real origin.
    answer, _ = passkey_step(client, authenticator, origin="http://shop.vendor-domain.com")
    assert answer.status_code == 400
    options = client.post("/account/2fa/passkey/options", json={}).get_json()
    credential = authenticator.get(options, ORIGIN, rp_id="vendor-domain.com")
    assert client.post("/account/2fa/passkey", json={"credential": credential}).status_code == 400
    assert not signed_in(client)


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_a_custom_domain_host_cannot_run_a_passkey_ceremony(app, client_for, store_a):
    with app.app_context():
        store = db.session.get(Store, store_a.id)
        store.custom_domain, store.custom_domain_verified_at = "shop.vendor-domain.com", utcnow()
        db.session.commit()
    user = make_user("custom@example.com")
    enrol_totp(app, user)
    with app.app_context():
        db.session.add(
            Passkey(user_id=user.id, credential_id=b"x" * 16, public_key=b"k", name="Old")
        )
        db.session.commit()
    shop = client_for(host="shop.vendor-domain.com")
    password_step(shop, user.email)
    answer = shop.post("/account/2fa/passkey/options", json={})
    assert answer.status_code == 400
    assert "Pasar site" in answer.get_json()["error"]
    assert "data-passkey-signin" not in text(shop.get("/account/2fa"))


def test_turning_two_factor_off_needs_a_fresh_check_and_is_audited(app, client):
    user = make_user("off@example.com")
    enrol_totp(app, user)
    sign_in_with_factor(client, user)
    with client.session_transaction() as sess:
        sess["2fa_at"] = {**sess["2fa_at"], "at": int(time.time()) - 3600}
    answer = client.post("/account/security/off")
    assert answer.status_code == 303
    assert "/account/2fa/confirm" in answer.headers["Location"]
    with app.app_context():
        assert db.session.scalar(select(TotpFactor.id).where(TotpFactor.user_id == user.id))

    sign_in_with_factor(client, user)
    assert client.post("/account/security/off").status_code == 303
    with app.app_context():
        assert db.session.scalar(select(TotpFactor.id).where(TotpFactor.user_id == user.id)) is None
    assert "2fa.disabled" in actions(app, user)
    password_step(client, user.email)
    assert signed_in(client)


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_admins_cannot_turn_their_second_factor_off(app, client):
    root = make_user("root@example.com", superuser=True)
    sign_in_with_factor(client, root)
    client.post("/account/security/off")
    client.post("/account/security/totp/remove")
    with app.app_context():
        assert db.session.scalar(select(TotpFactor.id).where(TotpFactor.user_id == root.id))


def test_store_owner_can_still_manage_without_a_second_factor(app, client_for):
    # An account without a second factor isn't blocked by the step-up: it confirms with its
    # password instead (tests/security/test_step_up.py has the details).
    store = make_store("plain")
    owner = client_for(store)
    with app.app_context():
        from app.accounts.models import User

        user = db.session.scalar(select(User).where(User.email == "owner@plain.example.com"))
        db.session.expunge(user)
    sign_in_as(owner, user)
    answer = owner.get("/admin/settings/checkout")
    assert answer.headers["Location"].startswith("/account/2fa/confirm?next=")
    answer = owner.post(answer.headers["Location"], data={"password": PASSWORD})
    assert answer.headers["Location"] == "/admin/settings/checkout"
    assert owner.get("/admin/settings/checkout").status_code == 200


@pytest.mark.backends(*BACKENDS)  # looked up by a binary column
def test_a_passkey_alone_signs_in_with_user_verification(app, client, client_for):
    user = make_user("first@example.com")
    sign_in_with_factor(client, user)
    authenticator = SoftAuthenticator(PLATFORM)
    assert add_passkey(client, authenticator).status_code == 200
    sign_out(client)

    options = client.post("/account/signin/passkey/options", json={}).get_json()
    assert options.get("allowCredentials", []) == []  # nothing tells which accounts exist
    assert options["userVerification"] == "required"
    credential = authenticator.get(options, ORIGIN)
    answer = client.post("/account/signin/passkey", json={"credential": credential})
    assert answer.status_code == 200, answer.get_json()
    assert signed_in(client)
    with app.app_context():
        assert (
            db.session.scalar(
                select(AuditLog.details)
                .where(AuditLog.action == "signin")
                .order_by(AuditLog.id.desc())
            )["method"]
            == "passkey"
        )

    # Without user verification (a security key picked up without its PIN), it's refused.
    other = client_for(None)
    options = other.post("/account/signin/passkey/options", json={}).get_json()
    credential = authenticator.get(options, ORIGIN, user_verified=False)
    answer = other.post("/account/signin/passkey", json={"credential": credential})
    assert answer.status_code == 400
    assert not signed_in(other)


@pytest.mark.backends(*BACKENDS)  # threads
def test_parallel_guesses_get_no_more_comparisons_than_the_cap(app, client_for, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from app.accounts import twofactor

    user = make_user("race@example.com")
    secret = enrol_totp(app, user)
    compared = []
    real = twofactor._matching_step
    monkeypatch.setattr(
        twofactor, "_matching_step", lambda *a, **k: compared.append(1) or real(*a, **k)
    )
    clients = [client_for(None) for _ in range(24)]
    for each in clients:
        password_step(each, user.email)
    guess = wrong_code(secret)
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda c: c.post("/account/2fa", data={"code": guess}), clients))
    assert sorted({a.status_code for a in answers}) == [422, 429]
    assert len(compared) <= twofactor.MAX_ATTEMPTS
