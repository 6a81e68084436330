"""The route guard of the suite (tests/route_coverage.py): what it records and what it names."""

from flask import Flask, redirect

from tests import route_coverage


def test_a_route_answered_only_on_sqlite_is_named_with_its_simplest_test():
    reached = {
        ("sqlite", "cart.view", "GET"): {"test_view[sqlite]"},
        ("postgresql", "cart.view", "GET"): {"test_view[postgresql]"},
        ("sqlite", "cart.add", "POST"): {"test_add_many[sqlite-3]", "test_add[sqlite]"},
        ("postgresql", "orders.list", "GET"): {"test_list[postgresql]"},  # nothing missing
    }
    assert route_coverage.missing_on_postgres(reached) == ["cart.add POST (e.g. test_add[sqlite])"]


def test_successes_and_redirects_past_the_walls_count_and_head_is_a_get(monkeypatch):
    monkeypatch.setattr(route_coverage, "REACHED", {})
    app = Flask(__name__)

    @app.route("/ok", methods=["GET", "POST"])
    def ok():
        return "ok"

    @app.route("/saved", methods=["POST"])
    def saved():
        return redirect("/ok", 303)

    @app.route("/walled", methods=["POST"])
    def walled():
        return redirect("/account/signin?next=/walled")

    @app.route("/refused", methods=["POST"])
    def refused():
        return "no", 422

    route_coverage.record_routes(app, "postgresql")

    @app.route("/added-by-a-test")
    def added():
        return "not one of the app's routes"

    client = app.test_client()
    client.head("/ok")
    client.post("/saved")
    client.post("/walled")
    client.post("/refused")
    client.get("/missing")
    client.get("/added-by-a-test")
    assert sorted(route_coverage.REACHED) == [
        ("postgresql", "ok", "GET"),
        ("postgresql", "saved", "POST"),
    ]
