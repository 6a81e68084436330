"""gunicorn settings for Pasar; gunicorn reads this file from the working directory.

Graceful shutdown: on SIGTERM the master marks the server as draining (`/readyz` answers 503 in
every worker) and keeps serving for SHUTDOWN_DRAIN_SECONDS, so a load balancer polling
`/readyz` stops sending new requests; then it stops the workers gracefully: they stop
accepting, finish the requests in flight (up to GRACEFUL_TIMEOUT seconds) and exit. A second
SIGTERM skips the rest of the drain; SIGINT and SIGQUIT still stop at once. The platform's stop
timeout (Kubernetes' terminationGracePeriodSeconds, Docker's --stop-timeout) must be longer than
the drain plus the graceful timeout. Options given on the command line override these.

Metrics: with PROMETHEUS_MULTIPROC_DIR set (an empty directory of this instance's own), each
worker writes its samples there and `/metrics` adds every worker's up; it is emptied when the
server starts.
"""

import gc
import mmap
import os
import signal
import sys
import threading

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
# One process per core, each with threads for the requests that wait on the database: on this
# project's 2-core machine 2 x 8 placed about twice the orders/s of 4 x 4 (bench/RESULTS.md).
workers = int(os.environ.get("WEB_CONCURRENCY", str(os.cpu_count() or 2)))
threads = int(os.environ.get("WEB_THREADS", "8"))
worker_class = "gthread"
# The app is loaded once, in the master, and each worker is forked from it: a worker starts at
# once (importing and building the app costs over 2 s of CPU) and shares the master's memory.
# Not under gevent (the `stream` process): its monkey-patching must come before the app's
# imports, and it patches in the worker (a gevent worker class named anywhere but the command
# line needs GUNICORN_PRELOAD=0). GUNICORN_PRELOAD=0 turns it off.
preload_app = "gevent" not in " ".join(sys.argv[1:]) and os.environ.get("GUNICORN_PRELOAD") != "0"
# Requests in flight get this long to finish once the workers are told to stop.
graceful_timeout = int(os.environ.get("GRACEFUL_TIMEOUT", "20"))
# The app logs one line per request itself (LOG_FORMAT); gunicorn's access log would repeat it.
accesslog = None

DRAIN_SECONDS = float(os.environ.get("SHUTDOWN_DRAIN_SECONDS", "5"))
# One byte of memory shared with every worker forked after this: non-zero = draining.
DRAINING = mmap.mmap(-1, 1)


def on_starting(server):
    """Empty this instance's metrics directory: samples of a previous run must not add up."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for name in os.listdir(directory):
            if name.endswith(".db"):
                os.remove(os.path.join(directory, name))


def when_ready(server):
    """Turn the master's SIGTERM into drain, then graceful stop."""
    graceful_stop = server.handle_term

    def handle_term():
        if DRAINING[0] or DRAIN_SECONDS <= 0:
            graceful_stop()  # raises StopIteration: the master stops the workers gracefully
        DRAINING[0] = 1
        server.log.info(
            "SIGTERM: /readyz answers 503; serving %g s more, then stopping gracefully",
            DRAIN_SECONDS,
        )
        timer = threading.Timer(DRAIN_SECONDS, server.SIG_QUEUE.put_nowait, (signal.SIGTERM,))
        timer.daemon = True
        timer.start()

    server.handle_term = handle_term


def pre_fork(server, worker):
    """Freeze what the master holds (the preloaded app: modules, routes, templates' code) out
    of the garbage collector's passes: a worker's collections then skip it, and don't write to
    the pages it shares with the master (gc.freeze, as the Python docs advise before fork)."""
    gc.freeze()


def post_fork(server, worker):
    """A preloaded app's database pools were made in the master: a worker opens its own
    connections (dispose without closing: the master's, if any, stay the master's)."""
    wsgi = sys.modules.get("wsgi")
    if wsgi is None or not hasattr(wsgi, "app"):
        return
    from app.extensions import db

    with wsgi.app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)


def post_worker_init(worker):
    """Let the app in this worker see the draining flag."""
    from app.observability import shutdown

    shutdown.attach(DRAINING)


def child_exit(server, worker):
    """Drop a dead worker's live gauges from the metrics directory."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
