"""Error pages: every status renders in the layout, htmx gets a fragment, nothing leaks a traceback."""

import io

import pytest
from flask import request

from app.extensions import limiter
from tests.conftest import HostClient, make_app, truncate_all


@pytest.fixture
def error_app(database_urls):
    """An app with a few test-only routes that fail in each way a real route can."""
    app = make_app(database_urls("sqlite"), MAX_CONTENT_LENGTH=1024, PROPAGATE_EXCEPTIONS=False)
    app.config["WTF_CSRF_ENABLED"] = True

    @app.post("/_test/form")
    def form():
        return f"got {request.form.get('name', '')}"

    @app.get("/_test/boom")
    def boom():
        raise RuntimeError("secret internals")

    @app.get("/_test/limited")
    @limiter.limit("2 per minute")
    def limited():
        return "ok"

    @app.get("/_test/forbidden")
    def forbidden():
        from flask import abort

        abort(403)

    yield app
    truncate_all(app)


@pytest.fixture
def eclient(error_app):
    return HostClient(error_app, error_app.response_class, use_cookies=True)


@pytest.mark.parametrize(
    ("method", "path", "status", "text"),
    [
        ("get", "/no/such/page", 404, "Page not found"),
        ("post", "/healthz", 405, "Method not allowed"),
        ("get", "/_test/forbidden", 403, "Not allowed"),
        ("get", "/_test/boom", 500, "Something went wrong"),
    ],
)
def test_error_pages_render_in_the_layout(eclient, method, path, status, text):
    response = getattr(eclient, method)(path)
    assert response.status_code == status
    html = response.get_data(as_text=True)
    assert text in html
    assert '<header class="site-header">' in html
    assert "Traceback" not in html and "secret internals" not in html


def test_405_says_which_methods_are_allowed(eclient):
    response = eclient.post("/healthz")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]


def test_htmx_requests_get_a_fragment_aimed_at_the_message_area(eclient):
    response = eclient.get("/no/such/page", headers={"HX-Request": "true"})
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "<html" not in html and "Page not found" in html
    assert response.headers["HX-Retarget"] == "#messages"
    assert response.headers["HX-Reswap"] == "innerHTML"
    assert "HX-Request" in response.headers["Vary"]


def test_htmx_500_is_a_fragment_too(eclient):
    response = eclient.get("/_test/boom", headers={"HX-Request": "true"})
    assert response.status_code == 500
    assert "<html" not in response.get_data(as_text=True)


def test_missing_csrf_token_is_a_friendly_400(eclient):
    response = eclient.post("/_test/form", data={"name": "x"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "form has expired or was sent without its security token" in html


def test_wrong_csrf_token_is_refused(eclient):
    response = eclient.post("/_test/form", data={"name": "x", "csrf_token": "forged"})
    assert response.status_code == 400


def test_valid_csrf_token_from_the_page_is_accepted(eclient):
    import re

    page = eclient.get("/").get_data(as_text=True)
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    response = eclient.post("/_test/form", data={"name": "ok"}, headers={"X-CSRFToken": token})
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "got ok"


def test_oversized_body_is_413(eclient):
    data = {"file": (io.BytesIO(b"x" * 5000), "big.bin")}
    response = eclient.post("/_test/form", data=data, content_type="multipart/form-data")
    assert response.status_code == 413
    assert "larger than we accept" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (
            b'--boundary\r\nContent-Disposition: form-data; name="a"\r\n\r\nunterminated',
            "multipart/form-data; boundary=boundary",
        ),
        (b"%%%=&&&=%zz", "application/x-www-form-urlencoded"),
        (b"\xff\xfe\x00garbage", "multipart/form-data"),
        (b"a=1", "application/x-www-form-urlencoded; charset=no-such-charset"),
    ],
)
def test_malformed_form_posts_are_400_not_500(eclient, body, content_type):
    response = eclient.post("/_test/form", data=body, content_type=content_type)
    assert response.status_code == 400


def test_overlong_path_is_414(eclient):
    response = eclient.get("/" + "a" * 5000)
    assert response.status_code == 414
    assert "Address too long" in response.get_data(as_text=True)


def test_rate_limited_route_answers_429_with_retry_after(eclient):
    assert eclient.get("/_test/limited").status_code == 200
    assert eclient.get("/_test/limited").status_code == 200
    response = eclient.get("/_test/limited")
    assert response.status_code == 429
    html = response.get_data(as_text=True)
    assert "Too many requests" in html and "try again in" in html
    assert 0 < int(response.headers["Retry-After"]) <= 60


def test_security_headers_on_every_page(eclient):
    response = eclient.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_flash_messages_show_in_the_layout(error_app, eclient):
    from flask import flash, redirect

    @error_app.get("/_test/flash")
    def flash_then_redirect():
        flash("Saved your changes.", "success")
        flash("<b>not bold</b>", "error")
        return redirect("/", code=303)

    response = eclient.get("/_test/flash", follow_redirects=True)
    html = response.get_data(as_text=True)
    assert 'class="flash flash--success" role="status">Saved your changes.</div>' in html
    assert "&lt;b&gt;not bold&lt;/b&gt;" in html and "<b>not bold</b>" not in html


def test_rate_limit_page_says_how_long_in_words(error_app, eclient):
    from werkzeug.exceptions import TooManyRequests

    @error_app.get("/_test/slow-down")
    def slow_down():
        error = TooManyRequests()
        error.retry_after = 887
        raise error

    html = eclient.get("/_test/slow-down").get_data(as_text=True)
    assert "try again in 15 minutes" in html and "887" not in html.split("<main")[1]
