"""Wrong passwords slow the guesser down, not the owner: failures count per account and source
together, with growing delays, and an attacker spread over many addresses can't lock the owner
out of the places they sign in from. The emailed sign-in code always stays open."""

import re

from app.accounts import throttle
from app.extensions import redis_client
from tests.accounts_helpers import code_in, last_email, text
from tests.conftest import HostClient, make_app, truncate_all
from tests.factories import PASSWORD, make_user

OWNER = "owner@example.com"
HOME = "198.51.100.7"
HOTEL = "192.0.2.44"
DEAD_REDIS = "redis://127.0.0.1:1/0"


def attempt(client, ip: str, password: str, email: str = OWNER):
    return client.post(
        "/account/signin",
        data={"email": email, "password": password},
        environ_base={"REMOTE_ADDR": ip},
    )


def signed_in(client, ip: str) -> bool:
    return client.get("/account/", environ_base={"REMOTE_ADDR": ip}).status_code == 200


def wait_in(response) -> int:
    """The wait the 429 page tells the person about, in seconds."""
    match = re.search(
        r"Too many failed sign-ins\. Try your password again in (\d+) (second|minute)",
        text(response),
    )
    assert match, text(response)
    return int(match.group(1)) * (60 if match.group(2) == "minute" else 1)


def end_waits(app) -> None:
    """What waiting out the delay does: the source's block runs out (its count stays)."""
    with app.app_context():
        r = redis_client.get()
        for key in r.scan_iter("signin:block:*"):
            r.delete(key)


def test_guessing_from_many_addresses_cannot_lock_the_owner_out(app, client_for):
    make_user(OWNER)
    owners_browser = client_for()
    assert attempt(owners_browser, HOME, PASSWORD).status_code == 303
    owners_browser.post("/account/signout", environ_base={"REMOTE_ADDR": HOME})

    # A botnet: 40 wrong passwords, two from each of 20 addresses.
    statuses = [
        attempt(client_for(), f"203.0.113.{n}", f"guess-{n}-{i}-wrong").status_code
        for n in range(1, 21)
        for i in range(2)
    ]
    assert statuses[: throttle.ACCOUNT_CEILING] == [422] * throttle.ACCOUNT_CEILING
    assert set(statuses[throttle.ACCOUNT_CEILING :]) == {429}
    # A further unknown address is held back until the account's window ends.
    held = attempt(client_for(), "203.0.113.99", PASSWORD)
    assert held.status_code == 429 and int(held.headers["Retry-After"]) > 0
    assert "sign-in code" in text(held)

    # The owner, from the address they signed in from before: straight in.
    at_home = client_for()
    assert attempt(at_home, HOME, PASSWORD).status_code == 303
    assert signed_in(at_home, HOME)
    # The owner's own browser (its device cookie) from a new address: in as well.
    assert attempt(owners_browser, HOTEL, PASSWORD).status_code == 303
    # A new browser at a new address waits for its password, but the emailed code works now.
    hotel = client_for()
    assert attempt(hotel, "192.0.2.45", PASSWORD).status_code == 429
    asked = hotel.post(
        "/account/signin/code", data={"email": OWNER}, environ_base={"REMOTE_ADDR": "192.0.2.45"}
    )
    assert asked.status_code == 303
    code = code_in(last_email(app, OWNER).text_body)
    entered = hotel.post(
        "/account/signin/code/verify",
        data={"code": code},
        environ_base={"REMOTE_ADDR": "192.0.2.45"},
    )
    assert entered.status_code == 303 and signed_in(hotel, "192.0.2.45")


def test_one_address_waits_longer_after_each_failure(app, client_for):
    make_user(OWNER)
    guesser = "203.0.113.5"
    free = [attempt(client_for(), guesser, f"wrong-{i}-password").status_code for i in range(5)]
    assert free == [422] * throttle.FREE_FAILURES

    waits = []
    for i in range(3):
        refused = attempt(client_for(), guesser, f"again-{i}-password")
        assert refused.status_code == 429
        waits.append(wait_in(refused))
        assert int(refused.headers["Retry-After"]) >= waits[-1]
        end_waits(app)
        assert attempt(client_for(), guesser, f"later-{i}-password").status_code == 422
    assert waits == [throttle.FIRST_DELAY, 2 * throttle.FIRST_DELAY, 4 * throttle.FIRST_DELAY]

    # Even the right password waits at that address: it is the guessing source.
    assert attempt(client_for(), guesser, PASSWORD).status_code == 429
    # Another address is not slowed down by that one's failures.
    assert attempt(client_for(), "203.0.113.6", PASSWORD).status_code == 303
    # Once the wait is over, the right password gets in and the count starts again.
    end_waits(app)
    assert attempt(client_for(), guesser, PASSWORD).status_code == 303
    assert attempt(client_for(), guesser, "one-more-wrong-password").status_code == 422


def test_hopping_between_ipv6_addresses_of_one_block_is_one_source(client_for):
    make_user(OWNER)
    statuses = [
        attempt(client_for(), f"2001:db8:1:2::{n:x}", f"wrong-{n}-password").status_code
        for n in range(1, 9)
    ]
    assert statuses == [422] * throttle.FREE_FAILURES + [429] * 3
    assert attempt(client_for(), "2001:db8:1:3::1", PASSWORD).status_code == 303


def test_with_redis_down_the_throttle_holds_in_memory_without_errors(database_urls):
    app = make_app(database_urls("sqlite"), DEAD_REDIS, RATELIMIT_STORAGE_URI=DEAD_REDIS)
    try:
        with app.app_context():
            make_user(OWNER)
        statuses = []
        for i in range(7):
            client = HostClient(app, app.response_class)
            statuses.append(attempt(client, "203.0.113.9", f"wrong-{i}-password").status_code)
        assert statuses == [422] * 5 + [429] * 2
        client = HostClient(app, app.response_class)
        assert attempt(client, "203.0.113.10", PASSWORD).status_code == 303
    finally:
        truncate_all(app)
