"""The outbound webhooks' SSRF guard and Standard Webhooks signatures, without a database."""

import socket

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from app.webhooks import network, signing
from app.webhooks.network import UnsafeURL, check_address, check_url


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1",
        "10.255.1.2",
        "172.16.5.4",
        "192.168.1.1",
        "127.0.0.1",
        "127.8.9.10",
        "::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "fc00::1",
        "fd12:3456::1",
    ],
)
def test_private_and_loopback_addresses_are_refused_unless_allowed(address):
    with pytest.raises(UnsafeURL):
        check_address(address, private_ok=False)
    check_address(address, private_ok=True)


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",  # the cloud metadata service
        "169.254.0.1",
        "fe80::1",
        "::ffff:169.254.169.254",
        "0.0.0.0",
        "::",
        "224.0.0.1",
        "ff02::1",
        "240.0.0.1",
        "255.255.255.255",
        "100.64.0.1",  # carrier-grade NAT
        "192.0.2.10",  # documentation
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
    ],
)
def test_link_local_multicast_reserved_and_unspecified_are_always_refused(address):
    for private_ok in (False, True):
        with pytest.raises(UnsafeURL):
            check_address(address, private_ok=private_ok)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_pass(address):
    check_address(address, private_ok=False)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://hooks.example.com/x", "https"),
        ("ftp://hooks.example.com/x", "https"),
        ("https://user:pw@hooks.example.com/x", "passwords"),
        ("https:///x", "host"),
        ("https://10.1.2.3/x", "private"),
        ("https://[::1]/x", "private"),
        ("https://169.254.169.254/latest/meta-data", "public"),
        ("https://localhost/x", "private"),
        ("https://shop.localhost:8443/x", "private"),
        ("https://example.com:99999/x", "valid"),
        ("", "Enter"),
    ],
)
def test_endpoint_urls_are_checked(url, why):
    with pytest.raises(UnsafeURL, match=why):
        check_url(url, private_ok=False)


def test_https_on_a_public_name_passes_and_http_only_with_private_networks():
    assert check_url("https://hooks.example.com/pasar", private_ok=False) == (
        "https",
        "hooks.example.com",
        443,
    )
    assert check_url("http://127.0.0.1:7621/x", private_ok=True) == ("http", "127.0.0.1", 7621)


def test_a_name_that_resolves_to_loopback_is_refused():
    with pytest.raises(UnsafeURL, match="private or loopback"):
        network.resolve("localhost", 443, private_ok=False)


def test_every_address_a_name_resolves_to_is_checked(monkeypatch):
    """DNS rebinding: one public and one private answer is refused, not the public one used."""

    def answers(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port)),
        ]

    monkeypatch.setattr(network.socket, "getaddrinfo", answers)
    with pytest.raises(UnsafeURL, match=r"10\.0\.0\.7"):
        network.resolve("rebind.example.com", 443, private_ok=False)


def test_a_public_name_connects_to_the_address_that_was_checked(monkeypatch):
    calls = []

    def answers(host, port, *args, **kwargs):
        calls.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]

    monkeypatch.setattr(network.socket, "getaddrinfo", answers)
    assert network.resolve("hooks.example.com", 443, private_ok=False) == "93.184.216.34"
    assert calls == ["hooks.example.com"]


def test_a_receiver_verifies_the_signature_with_the_specs_library():
    secret = signing.new_secret()
    assert secret.startswith("whsec_")
    body = '{"type":"order.paid","data":{"number":7}}'
    import time

    headers = signing.headers(secret, "msg_abc", int(time.time()), body)
    assert Webhook(secret).verify(body, headers) == {"type": "order.paid", "data": {"number": 7}}
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace("7", "8"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(body, headers)


def test_the_signature_matches_the_published_algorithm():
    """The spec's example: secret, id, timestamp and body give this exact signature."""
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = '{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert signing.signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == expected
