"""When the database or Redis is down: readiness says so, pages degrade without tracebacks."""

from app.extensions import limiter
from tests.conftest import HostClient, make_app, truncate_all
from tests.factories import make_store

DEAD_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:1/pasar_nowhere"
DEAD_REDIS = "redis://127.0.0.1:1/0"


def test_database_down_gives_the_500_page_and_readyz_503():
    app = make_app(DEAD_POSTGRES, PROPAGATE_EXCEPTIONS=False)
    client = HostClient(app, app.response_class)
    client.host = "alpha.pasar.test"
    response = client.get("/")
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "Something went wrong" in html
    assert "Traceback" not in html and "OperationalError" not in html and "psycopg" not in html

    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["database"] == "down"
    assert client.get("/healthz").status_code == 200


def test_redis_down_keeps_pages_working_and_readyz_reports_it(database_urls):
    app = make_app(database_urls("sqlite"), DEAD_REDIS, RATELIMIT_STORAGE_URI=DEAD_REDIS)

    @app.get("/_test/limited")
    @limiter.limit("3 per minute")
    def limited():
        return "ok"

    try:
        with app.app_context():
            store = make_store("alpha", "Alpha Goods")
        client = HostClient(app, app.response_class)
        client.host = f"{store.slug}.pasar.test"
        assert client.get("/").status_code == 200
        client.host = "pasar.test"
        assert client.get("/").status_code == 200
        # Limits fall back to memory: they still hold, and nothing turns into a 500.
        assert [client.get("/_test/limited").status_code for _ in range(4)] == [200, 200, 200, 429]
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.get_json() == {
            "database": "ok",
            "redis": "down",
            "mode": "production",
            "status": "unavailable",
        }
    finally:
        truncate_all(app)


def test_readyz_is_ok_when_everything_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["database"] == "ok"
    assert response.get_json()["status"] == "ok"


def test_accounts_with_redis_down(database_urls):
    """Password sign-in keeps working; code flows say they can't run now (503, not 500)."""
    from tests.factories import PASSWORD, make_user

    app = make_app(database_urls("sqlite"), DEAD_REDIS, RATELIMIT_STORAGE_URI=DEAD_REDIS)
    try:
        with app.app_context():
            make_user("sam@example.com")
        client = HostClient(app, app.response_class)
        ok = client.post("/account/signin", data={"email": "sam@example.com", "password": PASSWORD})
        assert ok.status_code == 303
        client = HostClient(app, app.response_class)
        for path, data in [
            ("/account/signin/code", {"email": "sam@example.com"}),
            ("/account/register", {"email": "new@example.com", "password": "correct-horse-9"}),
        ]:
            response = client.post(path, data=data)
            assert response.status_code == 503, path
            assert "sign in with your password" in response.get_data(as_text=True)
    finally:
        truncate_all(app)
