import pytest

from tenants.slugs import RESERVED_SLUGS, slug_problem


@pytest.mark.parametrize("slug", ["acme", "batik-nusantara", "a1b", "shop2go", "x" * 40])
def test_valid_slugs(slug):
    assert slug_problem(slug) is None


@pytest.mark.parametrize(
    ("slug", "reason"),
    [
        ("", "Choose"),
        ("admin", "reserved"),
        ("www", "reserved"),
        ("console", "reserved"),
        ("-shop", "hyphen"),
        ("shop-", "hyphen"),
        ("Shop", "lower-case"),
        ("sh", "at least"),
        ("x" * 64, "at most"),
        ("аcme", "lower-case"),  # Cyrillic "а": a look-alike
        ("acme shop", "lower-case"),
        ("acme_shop", "lower-case"),
        ("a--b", "two hyphens"),
        (" acme", "lower-case"),
    ],
)
def test_invalid_slugs_say_why(slug, reason):
    problem = slug_problem(slug)
    assert problem is not None and reason in problem


@pytest.mark.parametrize("name", ["www", "admin", "api", "static", "mail", "console"])
def test_the_issue_s_reserved_names_are_reserved(name):
    assert name in RESERVED_SLUGS
