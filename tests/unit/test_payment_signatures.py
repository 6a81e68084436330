import json

import pytest

from app.payments.signatures import (
    SignatureError,
    midtrans_signature,
    stripe_signature,
    verify_midtrans,
    verify_stripe,
)

SECRET = "whsec_test_secret"
BODY = json.dumps({"id": "evt_1", "type": "checkout.session.completed"}).encode()
NOW = 1_800_000_000


def header(body=BODY, secret=SECRET, t=NOW):
    return f"t={t},v1={stripe_signature(body, secret, t)}"


def test_a_genuine_stripe_signature_passes():
    assert verify_stripe(BODY, header(), SECRET, now=NOW + 10) == NOW
    rotated = f"{header()},v1={'0' * 64}"  # several v1 values during secret rotation
    assert verify_stripe(BODY, rotated, SECRET, now=NOW) == NOW


@pytest.mark.parametrize(
    ("body", "value", "now"),
    [
        (BODY, None, NOW),
        (BODY, "", NOW),
        (BODY, "garbage", NOW),
        (BODY, f"t={NOW}", NOW),
        (BODY, f"v1={'a' * 64}", NOW),
        (BODY, header(secret="whsec_other"), NOW),
        (BODY + b" ", header(), NOW),  # body changed after signing
        (BODY, header(), NOW + 301),  # too old: a replay
        (BODY, header(), NOW - 301),  # from the future
        (BODY, header(t=NOW - 7 * 86400), NOW),  # a replay from a week ago
        (BODY, f"t=abc,v1={stripe_signature(BODY, SECRET, NOW)}", NOW),
    ],
)
def test_bad_stripe_signatures_are_refused(body, value, now):
    with pytest.raises(SignatureError):
        verify_stripe(body, value, SECRET, now=now)


def test_no_secret_configured_refuses_everything():
    with pytest.raises(SignatureError):
        verify_stripe(BODY, header(), "", now=NOW)


def notification(**changes):
    data = {
        "order_id": "1001",
        "status_code": "200",
        "gross_amount": "150000.00",
        "transaction_status": "settlement",
    }
    data.update(changes)
    data.setdefault(
        "signature_key",
        midtrans_signature(
            data["order_id"], data["status_code"], data["gross_amount"], "server-key"
        ),
    )
    return data


def test_midtrans_signature_is_sha512_of_the_fields_and_key():
    import hashlib

    expected = hashlib.sha512(b"1001200150000.00server-key").hexdigest()
    assert midtrans_signature("1001", "200", "150000.00", "server-key") == expected
    verify_midtrans(notification(), "server-key")


@pytest.mark.parametrize(
    "bad",
    [
        notification(signature_key="0" * 128),
        {**notification(), "gross_amount": "1.00"},  # amount tampered after signing
        {**notification(), "order_id": "1002"},
        {k: v for k, v in notification().items() if k != "signature_key"},
        {**notification(), "status_code": 200},  # wrong type
    ],
)
def test_bad_midtrans_notifications_are_refused(bad):
    with pytest.raises(SignatureError):
        verify_midtrans(bad, "server-key")
    with pytest.raises(SignatureError):
        verify_midtrans(notification(), "")
