"""Pre-account hijacking: an attacker registers the victim's address first, with a password of
their own, and waits for the victim to prove the address (Sudhodanan and Paverd, 2022).

Proving the address (the verification code, a sign-in code) must leave nothing the attacker
set up before it: no working password of theirs, no open session.
"""

import pytest
from sqlalchemy import select

from app.accounts.models import User
from app.database import utcnow
from app.extensions import db, redis_client
from tests.accounts_helpers import code_in, last_email, text
from tests.conftest import sign_in_as

VICTIM = "victim@example.com"
ATTACKER_PASSWORD = "attacker-owns-this-9"
VICTIM_PASSWORD = "purple-otter-river-7"


def signed_in(client) -> bool:
    return client.get("/account/").status_code == 200


def register(client, password: str, name: str = ""):
    return client.post(
        "/account/register", data={"email": VICTIM, "password": password, "name": name}
    )


def forget_cooldowns(app) -> None:
    """What waiting a minute does: the per-address cooldown between codes runs out."""
    with app.app_context():
        r = redis_client.get()
        for key in r.scan_iter("otp:*:cooldown"):
            r.delete(key)


def victim_row(app) -> User:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == VICTIM))
        db.session.expunge(user)
        return user


def test_a_password_chosen_before_the_address_is_proven_never_signs_in(app, client_for):
    attacker = client_for()
    assert register(attacker, ATTACKER_PASSWORD, name="Support").status_code == 303
    # The attacker tries their password on the account they just made: no session comes of it.
    response = attacker.post(
        "/account/signin", data={"email": VICTIM, "password": ATTACKER_PASSWORD}
    )
    assert response.status_code in (303, 422)
    assert not signed_in(attacker)

    # The victim, later, signs in with an emailed code (the passwordless way in).
    forget_cooldowns(app)
    victim = client_for()
    victim.post("/account/signin/code", data={"email": VICTIM})
    code = code_in(last_email(app, VICTIM).text_body)
    assert victim.post("/account/signin/code/verify", data={"code": code}).status_code == 303
    assert signed_in(victim)

    assert not signed_in(attacker)
    again = client_for().post(
        "/account/signin", data={"email": VICTIM, "password": ATTACKER_PASSWORD}
    )
    assert again.status_code == 422 and "incorrect" in text(again)
    assert victim_row(app).password_hash is None and victim_row(app).is_verified


def test_the_victims_own_registration_password_is_the_one_that_counts(app, client_for):
    attacker = client_for()
    register(attacker, ATTACKER_PASSWORD)
    forget_cooldowns(app)

    victim = client_for()
    assert register(victim, VICTIM_PASSWORD, name="Vic").status_code == 303
    code = code_in(last_email(app, VICTIM).text_body)
    assert victim.post("/account/verify", data={"code": code}).status_code == 303
    assert signed_in(victim)

    assert not signed_in(attacker)
    refused = client_for().post(
        "/account/signin", data={"email": VICTIM, "password": ATTACKER_PASSWORD}
    )
    assert refused.status_code == 422
    ok = client_for().post("/account/signin", data={"email": VICTIM, "password": VICTIM_PASSWORD})
    assert ok.status_code == 303 and ok.headers["Location"] == "/"
    assert victim_row(app).name == "Vic"


def test_the_victims_password_survives_a_cooldown_and_a_resend(app, client_for):
    """The attacker registered a moment ago, so the victim's code has to wait for the cooldown."""
    register(client_for(), ATTACKER_PASSWORD)
    victim = client_for()
    first = register(victim, VICTIM_PASSWORD)
    assert first.status_code == 303 and first.headers["Location"] == "/account/verify"
    forget_cooldowns(app)
    assert victim.post("/account/code/verify/resend").status_code == 303
    code = code_in(last_email(app, VICTIM).text_body)
    assert victim.post("/account/verify", data={"code": code}).status_code == 303

    ok = client_for().post("/account/signin", data={"email": VICTIM, "password": VICTIM_PASSWORD})
    assert ok.status_code == 303
    refused = client_for().post(
        "/account/signin", data={"email": VICTIM, "password": ATTACKER_PASSWORD}
    )
    assert refused.status_code == 422


@pytest.mark.parametrize("proof", ["sign-in code", "verification code"])
def test_proving_the_address_ends_sessions_and_passwords_from_before(app, client_for, proof):
    """An unverified account that already has a password and a live session (as accounts made
    before this rule do): the proof ends the session and drops the password."""
    with app.app_context():
        from app.accounts.service import create_user

        planted = create_user(VICTIM, ATTACKER_PASSWORD, name="Support")
        db.session.commit()
        db.session.refresh(planted)
        db.session.expunge(planted)
    attacker = client_for()
    sign_in_as(attacker, planted)
    assert signed_in(attacker)

    victim = client_for()
    if proof == "sign-in code":
        victim.post("/account/signin/code", data={"email": VICTIM})
        code = code_in(last_email(app, VICTIM).text_body)
        assert victim.post("/account/signin/code/verify", data={"code": code}).status_code == 303
    else:
        register(victim, VICTIM_PASSWORD)
        code = code_in(last_email(app, VICTIM).text_body)
        assert victim.post("/account/verify", data={"code": code}).status_code == 303
    assert signed_in(victim)

    assert not signed_in(attacker)
    refused = client_for().post(
        "/account/signin", data={"email": VICTIM, "password": ATTACKER_PASSWORD}
    )
    assert refused.status_code == 422
    if proof == "verification code":
        ok = client_for().post(
            "/account/signin", data={"email": VICTIM, "password": VICTIM_PASSWORD}
        )
        assert ok.status_code == 303


def test_a_remembered_session_from_before_the_proof_ends_too(app, client_for):
    """Same as above, with the attacker's long-lived remember-me cookie alone."""
    with app.app_context():
        from app.accounts.service import create_user

        create_user(VICTIM, ATTACKER_PASSWORD)
        db.session.commit()
    attacker = client_for()
    # Accounts made before the rule could sign in with a password while unverified.
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == VICTIM))
        user.email_verified_at = utcnow()
        db.session.commit()
    attacker.post(
        "/account/signin", data={"email": VICTIM, "password": ATTACKER_PASSWORD, "remember": "y"}
    )
    with app.app_context():
        db.session.scalar(select(User).where(User.email == VICTIM)).email_verified_at = None
        db.session.commit()
    remember = attacker.get_cookie("remember_token", domain="pasar.test")
    assert remember is not None
    attacker.delete_cookie("session", domain="pasar.test")  # only the remember cookie is left
    assert signed_in(attacker)

    victim = client_for()
    victim.post("/account/signin/code", data={"email": VICTIM})
    code = code_in(last_email(app, VICTIM).text_body)
    assert victim.post("/account/signin/code/verify", data={"code": code}).status_code == 303

    attacker.delete_cookie("session", domain="pasar.test")
    assert not signed_in(attacker)
