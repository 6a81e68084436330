"""Destructive actions ask first, and without JavaScript too (app/confirmation.py): the form
carries its question, the browser's script asks it in a dialog, and a post that still carries
it gets a page that asks, whose form then does the action."""

import html
import re
from pathlib import Path

import pytest

from tests.conftest import sign_in_as
from tests.web.order_helpers import make_order, make_variant, order_row, owner_of
from tests.web.test_stock_sync import run_id_of, run_row, upload, variant

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


@pytest.fixture
def owner_client(app, client_for, store_a):
    client = client_for(store_a)
    sign_in_as(client, owner_of(app, store_a))
    return client


def hidden_fields(form_html: str) -> list[tuple[str, str]]:
    return [
        (name, html.unescape(value))
        for name, value in re.findall(
            r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form_html
        )
    ]


def form_posting_to(page: str, action: str) -> str:
    start = page.index(f'action="{action}"')
    return page[start : page.index("</form>", start)]


def applied_sync(app, store_a, owner_client) -> tuple[int, int]:
    lamp = make_variant(store_a, "LAMP", 1000, stock=10)
    run_id = run_id_of(upload(owner_client, "sku,stock\nLAMP,25\n"))
    assert owner_client.post(f"/admin/stock-sync/{run_id}/apply").status_code == 303
    assert variant(app, lamp)["stock"] == 25
    return run_id, lamp


def test_undo_this_sync_asks_first_without_javascript(app, store_a, owner_client):
    run_id, lamp = applied_sync(app, store_a, owner_client)
    page = owner_client.get(f"/admin/stock-sync/{run_id}").text
    action = f"/admin/stock-sync/{run_id}/undo"
    form = form_posting_to(page, action)
    assert "hx-confirm" not in form  # it never fired on a form htmx doesn't send
    fields = dict(hidden_fields(form))
    assert fields["confirm_step"].startswith(
        f"Undo stock sync #{run_id}? Its one change is reversed"
    )

    # What a browser without JavaScript sends: the form as it is.
    asked = owner_client.post(action, data=fields)
    assert asked.status_code == 200 and "Please confirm" in asked.text
    assert f"Undo stock sync #{run_id}?" in html.unescape(asked.text)
    assert run_row(app, run_id).status == "applied" and variant(app, lamp)["stock"] == 25

    confirm_form = form_posting_to(asked.text, action)
    again = dict(hidden_fields(confirm_form))
    assert "confirm_step" not in again and "Undo this sync</button>" in confirm_form
    assert owner_client.post(action, data=again).status_code == 303
    assert run_row(app, run_id).status == "undone" and variant(app, lamp)["stock"] == 10


def test_the_confirmation_page_carries_every_field_of_the_form(app, store_a, owner_client):
    lamp = make_variant(store_a, "LAMP", 4500, stock=10)
    order = make_order(app, store_a, lamp, status="paid")
    action = f"/admin/orders/{order['number']}/cancel"
    form = form_posting_to(owner_client.get(f"/admin/orders/{order['number']}").text, action)
    fields = dict(hidden_fields(form))
    assert f"Cancel order #{order['number']}? $90.00 is refunded in full" in fields["confirm_step"]
    asked = owner_client.post(action, data={**fields, "reason": "Out of stock"})
    assert asked.status_code == 200 and order_row(app, order)["status"] == "paid"
    again = dict(hidden_fields(form_posting_to(asked.text, action)))
    assert again["reason"] == "Out of stock"
    assert owner_client.post(action, data=again).status_code == 303
    state = order_row(app, order)
    assert state["status"] == "cancelled" and state["notes"][-1].endswith("Reason: Out of stock")


def test_a_post_without_the_question_does_the_action_as_before(app, store_a, owner_client):
    run_id, lamp = applied_sync(app, store_a, owner_client)
    assert owner_client.post(f"/admin/stock-sync/{run_id}/undo").status_code == 303
    assert variant(app, lamp)["stock"] == 10


def test_the_confirmation_page_goes_back_only_to_this_platform(app, store_a, owner_client):
    run_id, _ = applied_sync(app, store_a, owner_client)
    asked = owner_client.post(
        f"/admin/stock-sync/{run_id}/undo",
        data={"confirm_step": "Undo?", "confirm_label": "Undo"},
        headers={"Referer": "https://evil.example/phish"},
    )
    assert "evil.example" not in asked.text and 'href="/"' in asked.text


def test_a_forged_cross_site_question_is_refused_before_it_is_asked(app, client_for, store_a):

    app.config["WTF_CSRF_ENABLED"] = True
    try:
        client = client_for(store_a)
        sign_in_as(client, owner_of(app, store_a))
        forged = client.post("/admin/stock-sync/1/undo", data={"confirm_step": "Sure?"})
        assert forged.status_code == 400 and "Please confirm" not in forged.text
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


DESTRUCTIVE = re.compile(
    r"<form[^>]*action=\"\{\{ url_for\('([a-z_.]*(?:delete|cancel|refund|undo|revoke|remove|"
    r"reset_two_factor|two_factor_off|signout_everywhere)[a-z_]*)'[^>]*>(.*?)</form>",
    re.S,
)


def test_every_destructive_form_asks_with_the_same_macro_and_none_uses_hx_confirm():
    forms = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        assert "hx-confirm" not in text, path
        forms += [(path.name, endpoint, body) for endpoint, body in DESTRUCTIVE.findall(text)]
    # A coupon is removed (and put back) in one click; deleting a store asks for its name typed.
    exempt = {"checkout.remove_coupon", "console.store_delete"}
    unasked = [
        (name, endpoint)
        for name, endpoint, body in forms
        if endpoint not in exempt and "confirm_first(" not in body
    ]
    assert forms and unasked == []
