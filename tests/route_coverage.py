"""Every route the suite reaches on SQLite is reached on PostgreSQL too, under row-level security.

Many modules run on SQLite only (`backends("sqlite")`: they check markup, fragments, headers,
redirects). On PostgreSQL each request acts as the app's role, bound by row-level security
(tenants/rls.py), and a query a route makes outside its store's context comes back empty there
only. So whatever a module leaves to SQLite, each route (endpoint and method) that some test gets
a success answer from on SQLite must get one on PostgreSQL from some test too. A success is an
answer below 300, or a redirect anywhere but to the sign-in or the factor check (the walls in
front of the route, not the route). Routes a test adds to its own app don't count.

The test apps (`make_app`) record what they answer; under pytest-xdist each worker sends its
share to the controller, which checks the whole when TEST_ROUTE_AUDIT=1 (scripts/test.sh sets it
for the full run; a part of the suite can't be expected to cover every route) and fails the
run, naming each route and a test that reached it on SQLite.
"""

import os
from urllib.parse import urlsplit

import pytest
from flask import request, request_finished

# (backend, endpoint, method) -> tests that got it answered (a few, to pick one to name)
REACHED: dict[tuple[str, str, str], set[str]] = {}
AUDIT = os.environ.get("TEST_ROUTE_AUDIT", "") not in ("", "0")
WALLS = ("/account/signin", "/account/2fa")  # where a redirect means the route wasn't reached
KEEP = 8  # tests remembered per route


def answered(status: int, location: str | None) -> bool:
    """True if an answer means the route itself ran: a success, or a redirect past the walls."""
    if status < 300:
        return True
    if status >= 400:
        return False
    return not urlsplit(location or "").path.startswith(WALLS)


def record_routes(app, backend: str) -> None:
    """Note each of `app`'s own routes that answers, under its database's name (`backend`)."""
    own = set(app.view_functions) - {"static"}  # before a test adds routes of its own

    def finished(sender, response, **extra):
        rule = request.url_rule
        if rule is None or rule.endpoint not in own:
            return
        if answered(response.status_code, response.headers.get("Location")):
            method = "GET" if request.method == "HEAD" else request.method
            test = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0]
            tests = REACHED.setdefault((backend, rule.endpoint, method), set())
            if len(tests) < KEEP:
                tests.add(test)

    request_finished.connect(finished, app, weak=False)


def _simplest(tests) -> str:
    """The test to name: one not parametrized beyond its backend, short names first."""
    return min(tests, key=lambda t: ("-" in t.partition("[")[2], len(t), t))


def missing_on_postgres(reached: dict) -> list[str]:
    """`endpoint method (a test that reached it on SQLite)` of each route answered on SQLite
    and never on PostgreSQL."""
    on_postgres = {(e, m) for b, e, m in reached if b == "postgresql"}
    return sorted(
        f"{endpoint} {method} (e.g. {_simplest(tests)})"
        for (backend, endpoint, method), tests in reached.items()
        if backend == "sqlite" and (endpoint, method) not in on_postgres
    )


def _whole_suite(config) -> bool:
    """True when no path or -k narrowed the run (a marker expression may: it names tiers)."""
    return config.args_source == pytest.Config.ArgsSource.TESTPATHS and not config.option.keyword


def pytest_sessionfinish(session, exitstatus):
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller checks the whole
        workeroutput["routes_reached"] = [
            [*key, sorted(tests)] for key, tests in sorted(REACHED.items())
        ]
        return
    if not AUDIT or not _whole_suite(session.config):
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
        session.exitstatus = session.exitstatus or 1


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """xdist: gather what a worker's apps answered."""
    for *key, tests in getattr(node, "workeroutput", {}).get("routes_reached", ()):
        REACHED.setdefault(tuple(key), set()).update(tests)
