"""Every route the suite reaches on SQLite is reached on PostgreSQL too, under row-level security.

Many modules run on SQLite only (`backends("sqlite")`: they check markup, fragments, headers,
redirects). On PostgreSQL each request acts as the app's role, bound by row-level security
(tenants/rls.py), and a query a route makes outside its store's context comes back empty there
only. So whatever a module leaves to SQLite, each route (endpoint and method) that some test gets
a success answer from (below 400) on SQLite must get one on PostgreSQL from some test too.

The test apps (`make_app`) record what they answer; under pytest-xdist each worker sends its
share to the controller, which checks the whole when TEST_ROUTE_AUDIT=1 (scripts/test.sh sets it
for the full run; a part of the suite can't be expected to cover every route) and fails a run
that passed otherwise, naming the routes.
"""

import os

import pytest
from flask import request, request_finished

# (backend, endpoint, method) -> the first test that got it answered
REACHED: dict[tuple[str, str, str], str] = {}
AUDIT = os.environ.get("TEST_ROUTE_AUDIT", "") not in ("", "0")


def record_routes(app) -> None:
    """Note each route `app` answers with a success, under its database's name."""
    backend = (
        "postgresql" if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql") else "sqlite"
    )

    def finished(sender, response, **extra):
        rule = request.url_rule
        if rule is not None and rule.endpoint != "static" and response.status_code < 400:
            method = "GET" if request.method == "HEAD" else request.method
            test = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0]
            REACHED.setdefault((backend, rule.endpoint, method), test)

    request_finished.connect(finished, app, weak=False)


def missing_on_postgres(reached: dict) -> list[str]:
    """`endpoint method (a test that reached it on SQLite)` of each route answered on SQLite
    and never on PostgreSQL."""
    on_postgres = {(e, m) for b, e, m in reached if b == "postgresql"}
    return sorted(
        f"{endpoint} {method} (e.g. {test})"
        for (backend, endpoint, method), test in reached.items()
        if backend == "sqlite" and (endpoint, method) not in on_postgres
    )


def _whole_suite(config) -> bool:
    """True when no path or -k narrowed the run (a marker expression may: it names tiers)."""
    return config.args_source == pytest.Config.ArgsSource.TESTPATHS and not config.option.keyword


def pytest_sessionfinish(session, exitstatus):
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller checks the whole
        workeroutput["routes_reached"] = [[*key, test] for key, test in sorted(REACHED.items())]
        return
    if not AUDIT or session.exitstatus != 0 or not _whole_suite(session.config):
        return
    missing = missing_on_postgres(REACHED)
    if missing:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        reporter.ensure_newline()
        reporter.write_line(
            "Routes answered on SQLite but never on PostgreSQL, where row-level security applies"
            " (leave a test of each on both databases: @pytest.mark.backends(*BACKENDS)):",
            red=True,
        )
        for route in missing:
            reporter.write_line(f"  {route}", red=True)
        session.exitstatus = 1


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """xdist: gather what a worker's apps answered."""
    for *key, test in getattr(node, "workeroutput", {}).get("routes_reached", ()):
        REACHED.setdefault(tuple(key), test)
