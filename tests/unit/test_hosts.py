import pytest

from tenants.hosts import HostTarget, classify_host, normalise_host

PLATFORM = "pasar.test"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("pasar.test", "pasar.test"),
        ("PASAR.Test", "pasar.test"),
        ("pasar.test:5000", "pasar.test"),
        ("pasar.test.", "pasar.test"),
        ("Acme.Pasar.Test.:8080", "acme.pasar.test"),
        ("  acme.pasar.test  ", "acme.pasar.test"),
        ("shop.example.co.id", "shop.example.co.id"),
    ],
)
def test_normalise_host_accepts_valid_names(raw, expected):
    assert normalise_host(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        ":5000",
        "pasar.test:abc",
        "pasar.test:123456",
        "pasar.test..",
        "a..pasar.test",
        "-acme.pasar.test",
        "acme-.pasar.test",
        "acme_shop.pasar.test",
        "acme.pasar.test/evil",
        "evil.com@pasar.test",
        "acme pasar.test",
        "acme.pasar.test\x00",
        "<script>.pasar.test",
        "ácme.pasar.test",
        "[::1]:5000",
        "x" * 64 + ".pasar.test",
        ("a" * 60 + ".") * 5 + "test",
        "h" * 400,
    ],
)
def test_normalise_host_rejects_junk(raw):
    assert normalise_host(raw) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("pasar.test", HostTarget("platform")),
        ("pasar.test:5000", HostTarget("platform")),
        ("acme.pasar.test", HostTarget("subdomain", "acme")),
        ("ACME.pasar.test.", HostTarget("subdomain", "acme")),
        ("www.pasar.test", HostTarget("redirect", "pasar.test")),
        ("a.b.pasar.test", HostTarget("subdomain", None)),
        ("shop.example.com", HostTarget("custom", "shop.example.com")),
        ("notpasar.test", HostTarget("custom", "notpasar.test")),
        ("127.0.0.1:5000", HostTarget("custom", "127.0.0.1")),
        ("bad host", HostTarget("invalid")),
    ],
)
def test_classify_host(raw, expected):
    assert classify_host(raw, PLATFORM) == expected
