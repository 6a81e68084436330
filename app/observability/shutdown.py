"""Whether this server is shutting down: set by gunicorn's master on SIGTERM (gunicorn.conf.py).

The master keeps serving for SHUTDOWN_DRAIN_SECONDS after SIGTERM while `/readyz` answers 503,
so a load balancer stops sending before the workers stop accepting. The flag is one byte of
shared memory the master maps before it forks, so every worker sees it at once.
"""

_flag = None


def attach(flag) -> None:
    """Use `flag` (a shared one-byte buffer; non-zero = draining) in this process."""
    global _flag
    _flag = flag


def draining() -> bool:
    """True once the server got SIGTERM and is letting its requests finish."""
    return _flag is not None and _flag[0] != 0
