"""Parallel guesses can't beat the cap on wrong codes: every attempt is counted in Redis before
its code is compared, so 24 guesses at once still get at most five comparisons, and the right
code fails once the cap is spent. Run against real Redis (TEST_REDIS_URL), or without it
against embedded mode's shared-state file (app/kvstore.py), which must hold the same line."""

import hmac
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.accounts import otp
from tests.accounts_helpers import code_in, last_email, text

VICTIM = "victim@example.com"
GUESSES = 24


class CountingHmac:
    """Stands in for the `hmac` module inside app.accounts.otp, counting code comparisons."""

    def __init__(self):
        self.comparisons = 0
        self._lock = threading.Lock()
        self.new = hmac.new

    def compare_digest(self, a, b):
        with self._lock:
            self.comparisons += 1
        return hmac.compare_digest(a, b)


@pytest.fixture
def counting(monkeypatch):
    shim = CountingHmac()
    monkeypatch.setattr(otp, "hmac", shim)
    return shim


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def all_at_once(calls):
    """Run every call in its own thread, released together."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_parallel_wrong_codes_over_http_get_at_most_five_comparisons(app, client_for, counting):
    client = client_for()
    client.post("/account/register", data={"email": VICTIM, "password": "purple-otter-river-7"})
    code = code_in(last_email(app, VICTIM).text_body)
    guessers = []
    for _ in range(GUESSES):
        guesser = client_for()
        with guesser.session_transaction() as sess:
            sess["verify_email"] = VICTIM
        guessers.append(guesser)

    responses = all_at_once(
        [lambda g=g: g.post("/account/verify", data={"code": wrong(code)}) for g in guessers]
    )
    assert [r.status_code for r in responses] == [422] * GUESSES
    bodies = [text(r) for r in responses]
    compared = [b for b in bodies if "isn't right" in b or "no longer works" in b]
    assert counting.comparisons <= otp.MAX_ATTEMPTS
    assert len(compared) <= otp.MAX_ATTEMPTS

    late = client.post("/account/verify", data={"code": code})
    assert late.status_code == 422 and "expired or was already used" in text(late)
    assert counting.comparisons <= otp.MAX_ATTEMPTS


def test_parallel_checks_in_the_service_get_at_most_five_comparisons(app, counting):
    """Five rounds of 24 simultaneous wrong guesses, each at a fresh code; then the owner's
    right code, typed within the cap, still works exactly once (a parallel replay loses)."""
    for round_ in range(5):
        email = f"round{round_}@example.com"
        with app.app_context():
            code = otp.issue_code("signin", email, f"203.0.113.{round_}")

        def guess(email=email, code=code):
            with app.app_context():
                return otp.check_code("signin", email, wrong(code))

        counting.comparisons = 0
        results = all_at_once([guess] * GUESSES)
        assert not any(r.ok for r in results)
        assert counting.comparisons <= otp.MAX_ATTEMPTS, f"round {round_}"
        with app.app_context():
            assert not otp.check_code("signin", email, code).ok

    with app.app_context():
        code = otp.issue_code("signin", VICTIM, "203.0.113.99")
        for _ in range(otp.MAX_ATTEMPTS - 2):
            assert not otp.check_code("signin", VICTIM, wrong(code)).ok

    def right():
        with app.app_context():
            return otp.check_code("signin", VICTIM, code)

    assert sorted(r.ok for r in all_at_once([right, right])) == [False, True]
