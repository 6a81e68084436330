"""The worker's and cron's way through a Redis outage: capped backoff, one log line per outage,
a stop honoured while waiting, and a loop that keeps quitting while Redis answers gives up."""

import logging

import click
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from app.background.worker import backoff, run_through_outages, wait_for_redis


class FlakyRedis:
    """Answers PING only after `down` failed attempts."""

    def __init__(self, down: int):
        self.down, self.pings = down, 0

    def ping(self):
        self.pings += 1
        if self.pings <= self.down:
            raise RedisConnectionError("Connection refused")
        return True


def test_the_backoff_doubles_up_to_its_cap():
    waits = backoff(first=1, cap=30)
    assert [next(waits) for _ in range(8)] == [1, 2, 4, 8, 16, 30, 30, 30]


def test_waiting_for_redis_logs_once_per_outage(caplog):
    slept = []
    with caplog.at_level(logging.WARNING, logger="app.background.worker"):
        assert wait_for_redis(FlakyRedis(down=6), "worker", sleep=slept.append)
    messages = [r.getMessage() for r in caplog.records]
    assert sum("unreachable" in m for m in messages) == 1
    assert sum("Redis is back" in m for m in messages) == 1
    assert len(messages) == 2 and slept  # six failed attempts, two lines


def test_a_stop_request_ends_the_wait():
    assert not wait_for_redis(FlakyRedis(down=10**6), "cron", stopping=lambda: True)


def test_the_loop_is_started_again_after_a_redis_error(monkeypatch):
    monkeypatch.setattr("app.background.worker.time.sleep", lambda seconds: None)
    connection, runs = FlakyRedis(down=3), []

    def run():
        runs.append(1)
        if len(runs) == 1:
            raise RedisConnectionError("Connection closed by server.")

    run_through_outages(run, connection, "cron", stopping=lambda: len(runs) == 2)
    assert len(runs) == 2 and connection.pings == 4  # three refused, then back


def test_a_loop_that_keeps_quitting_while_redis_answers_exits_non_zero(monkeypatch):
    monkeypatch.setattr("app.background.worker.time.sleep", lambda seconds: None)
    runs = []
    with pytest.raises(click.ClickException, match="quit 5 times"):
        run_through_outages(lambda: runs.append(1), FlakyRedis(down=0), "worker")
    assert len(runs) == 5


def test_other_errors_propagate():
    def run():
        raise ValueError("bad config")

    with pytest.raises(ValueError):
        run_through_outages(run, FlakyRedis(down=0), "worker")
