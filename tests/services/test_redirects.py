import pytest

from app.accounts.redirects import safe_next

# One backend: where `next` may send a browser (see "Which tests run on both databases" in the README).
pytestmark = pytest.mark.backends("sqlite")


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/account/", "/account/"),
        ("/admin/?x=1", "/admin/?x=1"),
        ("http://pasar.test/console/", "http://pasar.test/console/"),
        ("http://alpha.pasar.test:5000/admin/", "http://alpha.pasar.test:5000/admin/"),
        ("https://evil.com/", "/"),
        ("//evil.com/x", "/"),
        ("/\\evil.com", "/"),
        ("http://pasar.test.evil.com/", "/"),
        ("http://evilpasar.test/", "/"),
        ("http://user:pw@pasar.test/", "/"),
        ("javascript:alert(1)", "/"),
        ("account", "/"),
        ("/x\r\nLocation: http://evil.com", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_safe_next_only_allows_the_platform(app, target, expected):
    with app.test_request_context():
        assert safe_next(target) == expected
