"""Registration, verification by code, sign-in both ways, sign-out, resets and account changes."""

import re

import pytest
from sqlalchemy import func, select

from app.accounts.models import User
from app.audit.models import AuditLog
from app.extensions import db, redis_client
from tests.accounts_helpers import code_in, emails_to, flashes, last_email, link_in, text
from tests.conftest import BACKENDS, PLATFORM, sign_in_as
from tests.factories import PASSWORD, make_user

# One backend: forms, codes, sessions, cookies, redirects; uniqueness and column limits on both.
pytestmark = pytest.mark.backends("sqlite")

NEW_PASSWORD = "a-brand-new-passphrase"


def get_user(app, email):
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        if user is not None:
            db.session.expunge(user)
        return user


def audit_actions(app, **filters):
    with app.app_context():
        query = select(AuditLog.action).order_by(AuditLog.id)
        for key, value in filters.items():
            query = query.where(getattr(AuditLog, key) == value)
        return db.session.scalars(query).all()


def register(client, email="new@example.com", password=PASSWORD, name="Nia"):
    return client.post(
        "/account/register", data={"email": email, "password": password, "name": name}
    )


def signed_in(client) -> bool:
    return client.get("/account/").status_code == 200


# Registration and verification


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_register_sends_a_code_and_verifying_signs_in(app, client):
    form = client.get("/account/register")
    assert form.status_code == 200 and 'name="email"' in form.text
    response = register(client)
    assert response.status_code == 303 and response.headers["Location"] == "/account/verify"
    user = get_user(app, "new@example.com")
    assert user is not None and not user.is_verified and user.name == "Nia"
    # No password counts until the address is proven (pre-account hijacking).
    assert user.password_hash is None
    assert not signed_in(client)

    page = client.get("/account/verify")
    assert "new@example.com" in text(page)
    mail = last_email(app, "new@example.com")
    assert mail.template == "verify_email"
    response = client.post("/account/verify", data={"code": code_in(mail.text_body)})
    assert response.status_code == 303
    verified = get_user(app, "new@example.com")
    assert verified.is_verified and verified.password_hash.startswith("$argon2id$")
    assert signed_in(client)
    assert [m.template for m in emails_to(app, "new@example.com")] == ["verify_email", "welcome"]
    assert audit_actions(app) == ["account.registered", "account.verified", "signin"]


def test_wrong_code_counts_down_and_five_wrong_void_the_code(app, client):
    register(client)
    good = code_in(last_email(app, "new@example.com").text_body)
    bad = "000000" if good != "000000" else "111111"
    for left in (4, 3, 2, 1):
        response = client.post("/account/verify", data={"code": bad})
        assert response.status_code == 422
        assert f"{left} attempt" in text(response)
    response = client.post("/account/verify", data={"code": bad})
    assert "no longer works" in text(response)
    response = client.post("/account/verify", data={"code": good})
    assert response.status_code == 422
    assert "expired or was already used" in text(response)
    assert not get_user(app, "new@example.com").is_verified


def test_a_used_code_cannot_be_replayed(app, client_for):
    client = client_for()
    register(client)
    code = code_in(last_email(app, "new@example.com").text_body)
    assert client.post("/account/verify", data={"code": code}).status_code == 303
    other = client_for()
    with other.session_transaction() as sess:
        sess["verify_email"] = "new@example.com"
    response = other.post("/account/verify", data={"code": code})
    assert response.status_code == 422
    assert "expired or was already used" in text(response)


def test_an_expired_code_is_refused(app, client):
    register(client)
    code = code_in(last_email(app, "new@example.com").text_body)
    with app.app_context():
        r = redis_client.get()
        for key in r.scan_iter("otp:verify:*:code"):
            r.delete(key)  # what the 10-minute TTL does
    response = client.post("/account/verify", data={"code": code})
    assert response.status_code == 422
    assert "expired" in text(response)


@pytest.mark.parametrize("code", ["12345", "1234567", "abcdef", "", "12 34 56 78"])
def test_malformed_codes_are_422(client, code):
    register(client)
    response = client.post("/account/verify", data={"code": code})
    assert response.status_code == 422


@pytest.mark.backends(*BACKENDS)  # case-insensitive uniqueness
def test_registering_a_taken_email_looks_the_same_and_changes_nothing(app, client_for):
    make_user("taken@example.com", name="Original")
    first = register(client_for(), email="fresh@example.com")
    second_client = client_for()
    second = register(second_client, email="TAKEN@Example.COM", password="another-password-9")
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    fresh_page = client_for().get("/account/verify")  # no session: back to register
    assert fresh_page.status_code == 302
    page = second_client.get("/account/verify", follow_redirects=True).get_data(as_text=True)
    assert "taken@example.com" in page
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 2
        assert db.session.scalar(
            select(User).where(User.email == "taken@example.com")
        ).check_password(PASSWORD)
    assert [m.template for m in emails_to(app, "taken@example.com")] == ["account_exists"]
    assert not re.search(r"\b\d{6}\b", last_email(app, "taken@example.com").text_body)


@pytest.mark.parametrize(
    ("email", "fragment"),
    [
        ("not-an-email", "isn't valid"),
        ("two words@example.com", "isn't valid"),
        ("ünïcode@example.com", "isn't valid"),
        ("x" * 290 + "@example.com", "too long"),
        ("", "Enter your email"),
        ("a@localhost", "isn't valid"),
    ],
)
@pytest.mark.backends(*BACKENDS)  # a column limit (the email's length)
def test_bad_emails_get_a_clear_message(app, client, email, fragment):
    response = register(client, email=email)
    assert response.status_code == 422
    assert fragment in text(response)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_email_is_normalised(app, client):
    register(client, email="  Mixed.Case@Example.COM ")
    assert get_user(app, "mixed.case@example.com") is not None


def test_idn_domains_are_stored_as_ascii(app, client):
    register(client, email="shop@bücher.de")
    assert get_user(app, "shop@xn--bcher-kva.de") is not None


@pytest.mark.parametrize(
    ("password", "fragment"), [("short", "at least 10"), ("1234567890", "too common")]
)
def test_weak_passwords_are_refused_on_registration(app, client, password, fragment):
    response = register(client, password=password)
    assert response.status_code == 422 and fragment in text(response)
    assert get_user(app, "new@example.com") is None


def test_script_in_the_name_is_inert(app, client):
    register(client, name="<script>alert(1)</script>")
    code = code_in(last_email(app, "new@example.com").text_body)
    client.post("/account/verify", data={"code": code})
    html = client.get("/account/").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


# Resend: cooldown and hourly limits


def _clear_cooldowns(app):
    with app.app_context():
        r = redis_client.get()
        for key in r.scan_iter("otp:*:cooldown"):
            r.delete(key)


def test_resend_has_a_cooldown_shown_on_the_page(app, client):
    register(client)
    response = client.post("/account/code/verify/resend", headers={"HX-Request": "true"})
    html = text(response)
    assert response.status_code == 200 and "<html" not in html
    assert "Please wait" in html and "available in" in html
    assert re.search(r'hx-trigger="load delay:\d+s"', html)
    page = client.get("/account/verify").get_data(as_text=True)
    assert "disabled" in page and "available in" in page
    _clear_cooldowns(app)
    response = client.post("/account/code/verify/resend")
    assert response.status_code == 303
    assert len(emails_to(app, "new@example.com")) == 2


def test_the_sixth_send_within_an_hour_is_refused(app, client):
    register(client)
    for _ in range(4):
        _clear_cooldowns(app)
        client.post("/account/code/verify/resend")
    assert len(emails_to(app, "new@example.com")) == 5
    _clear_cooldowns(app)
    response = client.post("/account/code/verify/resend", follow_redirects=True)
    assert "Too many codes were requested" in flashes(response)
    assert len(emails_to(app, "new@example.com")) == 5


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_sends_per_ip_are_limited_across_addresses(app, client_for):
    for i in range(5):
        client_for().post("/account/signin/code", data={"email": f"person{i}@example.com"})
    response = client_for().post(
        "/account/signin/code", data={"email": "person9@example.com"}, follow_redirects=True
    )
    assert "Too many codes were requested" in flashes(response)
    assert emails_to(app, "person9@example.com") == []


# Passwordless sign-in


def test_code_sign_in_creates_a_verified_account_for_a_new_email(app, client):
    response = client.post("/account/signin/code", data={"email": "Walk.In@Example.com"})
    assert response.status_code == 303
    code = code_in(last_email(app, "walk.in@example.com").text_body)
    response = client.post("/account/signin/code/verify", data={"code": code})
    assert response.status_code == 303
    user = get_user(app, "walk.in@example.com")
    assert user.is_verified and user.password_hash is None
    assert signed_in(client)
    assert "welcome" in [m.template for m in emails_to(app, "walk.in@example.com")]


def test_code_sign_in_for_an_existing_account_says_the_same(app, client_for):
    make_user("known@example.com")
    known = client_for().post(
        "/account/signin/code", data={"email": "known@example.com"}, follow_redirects=True
    )
    unknown = client_for().post(
        "/account/signin/code", data={"email": "unknown@example.com"}, follow_redirects=True
    )
    assert flashes(known).replace("known@", "X@") == flashes(unknown).replace("unknown@", "X@")
    client = client_for()
    client.post("/account/signin/code", data={"email": "known@example.com", "next": "/admin/"})
    code = code_in(last_email(app, "known@example.com").text_body)
    response = client.post("/account/signin/code/verify", data={"code": code})
    assert response.status_code == 303 and response.headers["Location"] == "/admin/"
    assert signed_in(client)


def test_code_sign_in_refuses_a_disabled_account(app, client):
    from app.database import utcnow

    make_user("gone@example.com")
    with app.app_context():
        db.session.scalar(
            select(User).where(User.email == "gone@example.com")
        ).disabled_at = utcnow()
        db.session.commit()
    client.post("/account/signin/code", data={"email": "gone@example.com"})
    code = code_in(last_email(app, "gone@example.com").text_body)
    response = client.post("/account/signin/code/verify", data={"code": code})
    assert response.status_code == 422 and "can't sign in" in text(response)
    assert not signed_in(client)


# Password sign-in and sign-out


def test_sign_in_with_password_rotates_the_session(app, client):
    make_user("sam@example.com", name="Sam")
    with client.session_transaction() as sess:
        sess["planted"] = "attacker-chosen"
    response = client.post(
        "/account/signin",
        data={"email": "SAM@example.com", "password": PASSWORD, "next": "/account/"},
    )
    assert response.status_code == 303 and response.headers["Location"] == "/account/"
    with client.session_transaction() as sess:
        assert "planted" not in sess
        assert sess["_user_id"].startswith(f"{get_user(app, 'sam@example.com').id}:")
    actions = audit_actions(app)
    assert actions == ["signin"]
    with app.app_context():
        entry = db.session.scalar(select(AuditLog))
        assert entry.ip == "127.0.0.1" and entry.actor_id is not None and entry.created_at


def test_wrong_password_is_a_generic_422_and_audited(app, client):
    make_user("sam@example.com")
    wrong = client.post(
        "/account/signin", data={"email": "sam@example.com", "password": "nope-nope-nope"}
    )
    unknown = client.post(
        "/account/signin", data={"email": "nobody@example.com", "password": "nope-nope-nope"}
    )
    for response in (wrong, unknown):
        assert response.status_code == 422
        assert "Email or password is incorrect." in text(response)
    assert audit_actions(app) == ["signin.failed", "signin.failed"]


def test_wrong_passwords_from_one_address_slow_that_address_down(app, client_for):
    make_user("target@example.com")
    statuses = [
        client_for()
        .post(
            "/account/signin", data={"email": "Target@example.com", "password": f"guess-{i:04d}-x"}
        )
        .status_code
        for i in range(20)
    ]
    assert statuses[:5] == [422] * 5
    assert statuses[5:] == [429] * 15
    locked = client_for().post(
        "/account/signin", data={"email": "target@example.com", "password": PASSWORD}
    )
    assert locked.status_code == 429
    assert "Too many" in text(locked) and int(locked.headers["Retry-After"]) > 0
    assert "sign-in code" in text(locked)
    # Another account is not slowed down by this one's failures.
    make_user("bystander@example.com")
    ok = client_for().post(
        "/account/signin", data={"email": "bystander@example.com", "password": PASSWORD}
    )
    assert ok.status_code == 303


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/account/", "/account/"),
        ("https://evil.com/steal", "/"),
        ("//evil.com/", "/"),
        (f"http://alpha.{PLATFORM}/admin/", f"http://alpha.{PLATFORM}/admin/"),
    ],
)
def test_next_only_leads_to_the_platform(client, next_url, expected):
    make_user("sam@example.com")
    response = client.post(
        "/account/signin", data={"email": "sam@example.com", "password": PASSWORD, "next": next_url}
    )
    assert response.headers["Location"] == expected


def test_remember_me_sets_a_platform_wide_cookie(client):
    make_user("sam@example.com")
    response = client.post(
        "/account/signin", data={"email": "sam@example.com", "password": PASSWORD, "remember": "y"}
    )
    cookies = response.headers.getlist("Set-Cookie")
    remember = [c for c in cookies if c.startswith("remember_token=")]
    assert remember and f"Domain={PLATFORM}" in remember[0] and "HttpOnly" in remember[0]


def test_session_made_on_a_store_host_works_on_the_platform_and_other_stores(
    client_for, store_a, store_b
):
    make_user("sam@example.com")
    on_store = client_for(store_a)
    response = on_store.post(
        "/account/signin", data={"email": "sam@example.com", "password": PASSWORD}
    )
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert f"Domain={PLATFORM}" in cookie
    value = cookie.split(";", 1)[0].split("=", 1)[1]
    for other in (client_for(), client_for(store_b)):
        other.set_cookie("session", value, domain=PLATFORM, origin_only=False)
        page = other.get("/account/")
        assert page.status_code == 200 and "sam@example.com" in text(page)


def test_sign_out_is_a_post_and_ends_the_session(client):
    make_user("sam@example.com")
    client.post("/account/signin", data={"email": "sam@example.com", "password": PASSWORD})
    assert client.get("/account/signout").status_code == 405
    assert signed_in(client)
    response = client.post("/account/signout")
    assert response.status_code == 303
    assert not signed_in(client)


def test_anonymous_account_page_redirects_to_sign_in_and_htmx_is_told_where(client):
    response = client.get("/account/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/account/signin?next=")
    htmx = client.get("/account/", headers={"HX-Request": "true"})
    assert htmx.status_code == 401 and htmx.headers["HX-Redirect"].startswith("/account/signin")


def test_csrf_is_required_on_sign_in(app, client):
    app.config["WTF_CSRF_ENABLED"] = True
    make_user("sam@example.com")
    response = client.post(
        "/account/signin", data={"email": "sam@example.com", "password": PASSWORD}
    )
    assert response.status_code == 400
    assert "security token" in text(response)
    bad = client.post(
        "/account/signin",
        data={"email": "sam@example.com", "password": PASSWORD, "csrf_token": "wrong"},
    )
    assert bad.status_code == 400
    page = client.get("/account/signin").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    ok = client.post(
        "/account/signin",
        data={"email": "sam@example.com", "password": PASSWORD, "csrf_token": token},
    )
    assert ok.status_code == 303


# Password reset


def request_reset(client, email):
    return client.post("/account/reset", data={"email": email}, follow_redirects=True)


def test_reset_answers_the_same_for_unknown_addresses(app, client_for):
    make_user("sam@example.com")
    known = request_reset(client_for(), "sam@example.com")
    unknown = request_reset(client_for(), "ghost@example.com")
    assert known.status_code == unknown.status_code == 200
    assert flashes(known).replace("sam@", "X@") == flashes(unknown).replace("ghost@", "X@")
    assert [m.template for m in emails_to(app, "sam@example.com")] == ["password_reset"]
    assert emails_to(app, "ghost@example.com") == []


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_reset_link_works_once_and_signs_out_other_sessions(app, client_for):
    make_user("sam@example.com")
    old_session = client_for()
    old_session.post("/account/signin", data={"email": "sam@example.com", "password": PASSWORD})
    assert signed_in(old_session)
    request_reset(client_for(), "sam@example.com")
    link = link_in(last_email(app, "sam@example.com").text_body)
    path = link.split(PLATFORM, 1)[1]
    client = client_for()
    assert client.get(path).status_code == 200
    weak = client.post(path, data={"password": "short", "confirm": "short"})
    assert weak.status_code == 422
    mismatch = client.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD + "x"})
    assert mismatch.status_code == 422 and "don't match" in text(mismatch)
    done = client.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 303 and done.headers["Location"] == "/account/signin"
    assert not signed_in(old_session)
    again = client_for().get(path)
    assert again.status_code == 400 and "doesn't work any more" in text(again)
    ok = client_for().post(
        "/account/signin", data={"email": "sam@example.com", "password": NEW_PASSWORD}
    )
    assert ok.status_code == 303
    assert "password.reset" in audit_actions(app)


def test_expired_and_tampered_reset_links_are_refused(app, client, monkeypatch):
    make_user("sam@example.com")
    request_reset(client, "sam@example.com")
    path = link_in(last_email(app, "sam@example.com").text_body).split(PLATFORM, 1)[1]
    assert client.get(path[:-3] + "abc").status_code == 400
    assert client.get("/account/reset/not-a-token").status_code == 400
    monkeypatch.setattr("app.accounts.tokens.RESET_MAX_AGE", -1)
    assert client.get(path).status_code == 400


def test_reset_requests_are_rate_limited_per_address(app, client_for):
    make_user("sam@example.com")
    statuses = [
        client_for().post("/account/reset", data={"email": "sam@example.com"}).status_code
        for _ in range(4)
    ]
    assert statuses == [303, 303, 303, 429]


# Account pages


def signed_in_client(client_for, email="sam@example.com", store=None):
    make_user(email)
    client = client_for(store)
    client.post("/account/signin", data={"email": email, "password": PASSWORD})
    return client


@pytest.mark.backends(*BACKENDS)  # a column limit (the name)
def test_profile_name_can_be_changed(app, client_for):
    client = signed_in_client(client_for)
    assert client.post("/account/", data={"name": "Sam S."}).status_code == 303
    assert get_user(app, "sam@example.com").name == "Sam S."
    too_long = client.post("/account/", data={"name": "x" * 121})
    assert too_long.status_code == 422


def test_change_password_needs_the_current_one_and_ends_other_sessions(app, client_for):
    client = signed_in_client(client_for)
    other = client_for()
    other.post("/account/signin", data={"email": "sam@example.com", "password": PASSWORD})
    wrong = client.post(
        "/account/password",
        data={
            "current_password": "wrong-wrong-wrong",
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )
    assert wrong.status_code == 422 and "current password" in text(wrong)
    ok = client.post(
        "/account/password",
        data={"current_password": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert ok.status_code == 303
    assert signed_in(client) and not signed_in(other)
    assert "password.changed" in audit_actions(app)


@pytest.mark.backends(*BACKENDS)  # a JSON column (the audit details)
def test_change_email_needs_the_code_from_the_new_address(app, client_for):
    client = signed_in_client(client_for)
    wrong_pw = client.post("/account/email", data={"email": "sam2@example.com", "password": "nope"})
    assert wrong_pw.status_code == 422
    response = client.post(
        "/account/email", data={"email": "Sam2@Example.com", "password": PASSWORD}
    )
    assert response.status_code == 303
    assert get_user(app, "sam@example.com") is not None  # nothing changed yet
    code = code_in(last_email(app, "sam2@example.com").text_body)
    assert (
        client.post(
            "/account/email/verify", data={"code": "999999" if code != "999999" else "000000"}
        ).status_code
        == 422
    )
    assert client.post("/account/email/verify", data={"code": code}).status_code == 303
    assert get_user(app, "sam2@example.com").is_verified
    assert get_user(app, "sam@example.com") is None
    assert last_email(app, "sam@example.com").template == "email_changed"
    with app.app_context():
        entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "email.changed"))
        assert entry.details == {"old": "sam@example.com", "new": "sam2@example.com"}


@pytest.mark.backends(*BACKENDS)  # email uniqueness
def test_change_email_to_a_taken_address_is_refused_at_the_end(app, client_for):
    make_user("other@example.com")
    client = signed_in_client(client_for)
    client.post("/account/email", data={"email": "other@example.com", "password": PASSWORD})
    code = code_in(last_email(app, "other@example.com").text_body)
    response = client.post("/account/email/verify", data={"code": code})
    assert response.status_code == 422 and "can't be used" in text(response)
    assert get_user(app, "sam@example.com") is not None


def test_sign_out_everywhere(app, client_for):
    first = signed_in_client(client_for)
    second = client_for()
    second.post("/account/signin", data={"email": "sam@example.com", "password": PASSWORD})
    assert first.post("/account/signout-everywhere").status_code == 303
    assert not signed_in(first) and not signed_in(second)


def test_account_pages_work_on_store_hosts(client_for, store_a):
    client = signed_in_client(client_for, store=store_a)
    page = client.get("/account/")
    assert page.status_code == 200 and "Alpha Goods" in text(page)


def test_unverified_users_see_a_banner_and_can_browse(app, client_for, store_a):
    user = make_user("unv@example.com", verified=False)
    client = client_for(store_a)
    sign_in_as(client, user)  # a session from before addresses had to be proven
    page = client.get("/")
    assert page.status_code == 200
    assert "Please verify your email address" in text(page)


def test_a_password_for_an_unverified_account_asks_for_the_code_first(app, client):
    make_user("unv@example.com", verified=False)
    response = client.post(
        "/account/signin", data={"email": "unv@example.com", "password": PASSWORD}
    )
    assert response.status_code == 303 and response.headers["Location"] == "/account/verify"
    assert not signed_in(client)
    code = code_in(last_email(app, "unv@example.com").text_body)
    assert client.post("/account/verify", data={"code": code}).status_code == 303
    assert signed_in(client) and get_user(app, "unv@example.com").is_verified
    # The password typed in this browser is the one that counts after the proof.
    assert get_user(app, "unv@example.com").password_hash is not None


@pytest.mark.backends(*BACKENDS)  # date arithmetic in SQL
def test_ended_sessions_are_pruned_after_a_while(app, client_for):
    from datetime import timedelta

    from app.accounts import sessions
    from app.accounts.models import UserSession
    from app.database import utcnow

    make_user("sam@example.com")
    for _ in range(3):
        client_for().post(
            "/account/signin", data={"email": "sam@example.com", "password": PASSWORD}
        )
    with app.app_context():
        old, ended, live = db.session.scalars(select(UserSession).order_by(UserSession.id)).all()
        old.revoked_at = utcnow() - sessions.KEEP_ENDED - timedelta(days=1)
        ended.revoked_at = utcnow() - timedelta(days=1)
        db.session.commit()
        assert sessions.prune() == 1
        assert db.session.scalars(select(UserSession.id).order_by(UserSession.id)).all() == [
            ended.id,
            live.id,
        ]


def test_sign_in_redirect_carries_the_path_without_a_stray_question_mark(client_for, store_a):
    account = client_for().get("/account/")
    assert account.headers["Location"] == "/account/signin?next=/account/"
    admin = client_for(store_a).get("/admin/")
    assert admin.headers["Location"] == "/account/signin?next=/admin/"
    with_query = client_for(store_a).get("/admin/orders/?status=paid")
    assert with_query.headers["Location"].endswith("next=/admin/orders/?status%3Dpaid")
