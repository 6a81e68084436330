"""Jobs that exist only for the worker tests (the worker imports them by name)."""

from app.extensions import redis_client


def flaky(key: str, failures: int) -> int:
    """Fail the first `failures` runs, then succeed; counts runs in Redis."""
    runs = redis_client.get().incr(key)
    if runs <= failures:
        raise RuntimeError(f"run {runs} fails on purpose")
    return runs


def always_fails() -> None:
    """Fail every time."""
    raise ValueError("broken on purpose")


def sleeps(seconds: float) -> None:
    """Outlive a short job timeout."""
    import time

    time.sleep(seconds)
