"""Embedded mode's shared state (app/kvstore.py): Redis semantics, and seen by every process."""

import threading
import time

import pytest

from app.extensions import limiter, redis_client
from app.kvstore import SqliteKV
from tests.conftest import PLATFORM, make_app


@pytest.fixture
def kv(tmp_path):
    return SqliteKV(tmp_path / "state.kv")


def test_set_get_and_expiry(kv, monkeypatch):
    assert kv.get("a") is None
    assert kv.set("a", "x", ex=10) is True
    assert kv.get("a") == b"x"
    assert 9 <= kv.ttl("a") <= 10
    assert kv.ttl("missing") == -2
    kv.set("forever", 1)
    assert kv.ttl("forever") == -1
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 11)
    assert kv.get("a") is None
    assert kv.ttl("a") == -2
    assert kv.get("forever") == b"1"


def test_nx_only_sets_an_absent_or_expired_key(kv, monkeypatch):
    assert kv.set("k", "first", ex=5, nx=True) is True
    assert kv.set("k", "second", nx=True) is None
    assert kv.get("k") == b"first"
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 6)
    assert kv.set("k", "third", nx=True) is True
    assert kv.get("k") == b"third"


def test_incr_keeps_the_ttl_and_expire_nx_sets_it_once(kv):
    assert kv.incr("n") == 1
    assert kv.expire("n", 100, nx=True) is True
    assert kv.expire("n", 5, nx=True) is False
    assert kv.incr("n") == 2
    assert 99 <= kv.ttl("n") <= 100
    assert kv.expire("absent", 5) is False


def test_delete_getdel_and_scan(kv):
    kv.set("otp:a:code", "1")
    kv.set("otp:b:code", "2")
    kv.set("other", "3")
    assert sorted(kv.scan_iter("otp:*:code")) == [b"otp:a:code", b"otp:b:code"]
    assert kv.delete(b"otp:a:code", "nothing") == 1
    assert kv.getdel("otp:b:code") == b"2"
    assert kv.getdel("otp:b:code") is None
    assert kv.exists("other", "otp:a:code") == 1


def test_a_pipeline_is_one_transaction_and_returns_every_result(kv):
    with kv.pipeline() as pipe:
        pipe.get("c").incr("attempts").expire("attempts", 60)
        pipe.set("c", "v", ex=60)
        assert pipe.execute() == [None, 1, True, True]
    with kv.pipeline(transaction=False) as pipe:
        pipe.ttl("c").get("c")
        ttl, value = pipe.execute()
    assert value == b"v" and 59 <= ttl <= 60
    kv.set("text", "abc")
    with pytest.raises(Exception, match="not an integer"), kv.pipeline() as pipe:
        pipe.set("c", "changed").incr("text").execute()
    assert kv.get("c") == b"v"  # the failed pipeline changed nothing


def test_incr_is_atomic_across_threads_and_connections(tmp_path):
    path = tmp_path / "state.kv"
    stores = [SqliteKV(path) for _ in range(4)]  # like four processes on one file
    seen: list[int] = []

    def bump(store):
        for _ in range(50):
            seen.append(store.incr("counter"))

    threads = [threading.Thread(target=bump, args=(stores[i % 4],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(seen) == list(range(1, 401))  # every increment got its own number
    assert SqliteKV(path).get("counter") == b"400"


def test_a_code_sent_by_one_process_is_accepted_by_another(database_urls):
    """Two apps on one embedded database stand for two gunicorn workers."""
    from app.accounts import otp

    url = database_urls("sqlite")
    one, two = make_app(url), make_app(url)
    assert one.config["EMBEDDED"] and two.config["EMBEDDED"]
    with one.app_context():
        code = otp.issue_code("verify", "two@example.com", "10.0.0.1")
    with two.app_context():
        assert otp.check_code("verify", "two@example.com", code).ok
    with one.app_context():
        redis_client.get().flushdb()


def test_request_limits_count_the_requests_of_every_process(database_urls):
    url = database_urls("sqlite")
    one, two = make_app(url), make_app(url)
    assert one.config["RATELIMIT_STORAGE_URI"].startswith("sqlite-kv:///")
    try:
        statuses = []
        for i in range(8):  # POST /account/reset allows 5 per 15 minutes per address
            client = (one, two)[i % 2].test_client()
            response = client.post(
                "/account/reset", data={"email": f"x{i}@example.com"}, headers={"Host": PLATFORM}
            )
            statuses.append(response.status_code)
        assert statuses.index(429) == 5  # in one process's memory it came only at the 11th
    finally:
        with one.app_context():
            limiter.reset()
            redis_client.get().flushdb()
