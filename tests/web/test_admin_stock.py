"""A variant's stock ledger in the dashboard: history, the adjust form, low-stock thresholds and
their alert emails (SQLite and PostgreSQL)."""

import threading

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditLog
from app.catalog.models import Variant
from app.extensions import db
from app.inventory.models import StockMovement
from app.inventory.service import apply_movement, ledger_total
from app.notifications.models import EmailMessage
from tests.conftest import sign_in_as
from tests.factories import add_member, make_user
from tests.services.test_browse import count_queries
from tests.web.order_helpers import make_order, make_variant, owner_of

HTMX = {"HX-Request": "true"}


def stock_of(app, variant_id: int) -> int:
    with app.app_context():
        stock = db.session.get(Variant, variant_id).stock
        assert stock == ledger_total(variant_id)  # the ledger always adds up
        return stock


def move(app, store, variant_id: int, quantity: int, kind: str = "adjust") -> int:
    """Someone else changes the stock (and commits), as another tab or an order would."""
    with app.app_context():
        stock = apply_movement(store.id, variant_id, quantity, kind, reason="elsewhere")
        db.session.commit()
        return stock


def alerts_sent(app) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(EmailMessage.to_address)
                .where(EmailMessage.template == "low_stock")
                .order_by(EmailMessage.id)
            )
        )


def movements(app, variant_id: int) -> list[tuple]:
    with app.app_context():
        return [
            tuple(row)
            for row in db.session.execute(
                select(StockMovement.kind, StockMovement.quantity, StockMovement.reason)
                .where(StockMovement.variant_id == variant_id)
                .order_by(StockMovement.id)
            )
        ]


@pytest.fixture
def staff(app, store_a):
    """A signed-in staff member of store A (staff may adjust stock)."""
    return make_user("stocker@example.com", name="Sita Stocker")


@pytest.fixture
def staff_client(app, client_for, store_a, staff):
    add_member(store_a, staff, "staff")
    client = client_for(store_a)
    sign_in_as(client, staff)
    return client


def adjust_form(**values) -> dict:
    form = {"mode": "change", "quantity": "+12", "kind": "receive", "reason": "Delivery"}
    form.update(values)
    return form


# The history page ------------------------------------------------------------------------------


def test_the_ledger_lists_every_movement_newest_first_with_order_links(app, store_a, staff_client):
    lamp = make_variant(store_a, "LAMP", 1000, stock=10)
    order = make_order(app, store_a, lamp, quantity=3, status="paid")
    move(app, store_a, lamp, -1)
    page = staff_client.get(f"/admin/variants/{lamp}/stock")
    assert page.status_code == 200
    text = page.text
    assert "Stock: Lamp LAMP" in text and "<code>LAMP</code>" in text
    assert f'href="/admin/orders/{order["number"]}">Order #{order["number"]}' in text
    # Newest first: the adjustment, the sale, the opening stock; with the balance after each.
    rows = text.split("<tbody>", 1)[1].split("</tbody>", 1)[0].split("<tr>")[1:]
    assert ["Adjustment" in rows[0], "Sale" in rows[1], "Received" in rows[2]] == [True] * 3
    assert ">-1<" in rows[0] and ">6<" in rows[0] and ">-3<" in rows[1] and ">7<" in rows[1]
    assert 'value="6"' in text  # the form is based on the stock shown


def test_history_pages_and_htmx_gets_just_the_history(app, store_a, staff_client):
    lamp = make_variant(store_a, "LAMP", 1000, stock=100)
    for n in range(30):
        move(app, store_a, lamp, -1 if n % 2 else 2)
    first = staff_client.get(f"/admin/variants/{lamp}/stock")
    assert first.text.count('<td class="nowrap">') == 25
    assert "1–25 of 31 movements" in first.text and "Page 1 of 2" in first.text
    second = staff_client.get(f"/admin/variants/{lamp}/stock?page=2", headers=HTMX)
    assert second.status_code == 200 and "<html" not in second.text
    assert second.text.lstrip().startswith('<section id="stock-history"')
    assert second.text.count('<td class="nowrap">') == 6 and "Received" in second.text
    assert "HX-Request" in second.headers["Vary"]
    for junk in ("abc", "-3", "0", "99999999999999"):
        response = staff_client.get(f"/admin/variants/{lamp}/stock?page={junk}")
        assert response.status_code == 200


def test_the_ledger_page_runs_the_same_queries_for_few_and_many_movements(
    app, store_a, staff_client
):
    lamp = make_variant(store_a, "LAMP", 1000, stock=100)
    counts = []
    for n in range(1, 41):
        if n % 3:
            move(app, store_a, lamp, -1)
        else:
            make_order(app, store_a, lamp, quantity=1)
        if n in (3, 40):  # with an order among them already: its number is looked up
            with app.app_context(), count_queries() as counter:
                assert staff_client.get(f"/admin/variants/{lamp}/stock").status_code == 200
            counts.append(counter.count)
    assert counts[0] == counts[1] <= 12, counts


# Adjusting -------------------------------------------------------------------------------------


def test_adjusting_without_htmx_redirects_and_records_a_movement_and_an_audit_entry(
    app, store_a, staff, staff_client
):
    lamp = make_variant(store_a, "LAMP", 1000, stock=10)
    response = staff_client.post(
        f"/admin/variants/{lamp}/stock", data=adjust_form(based_on="10", reason="  Delivery  ")
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/admin/variants/{lamp}/stock"
    assert stock_of(app, lamp) == 22
    assert movements(app, lamp)[-1] == ("receive", 12, "Delivery")
    page = staff_client.get(response.headers["Location"])
    assert "Stock +12: 22 in stock now." in page.text and "Sita Stocker" in page.text
    with app.app_context():
        entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "stock.adjusted"))
        assert entry.actor_id == staff.id and entry.store_id == store_a.id
        assert entry.target_type == "Variant" and entry.target_id == str(lamp)
        assert (entry.details["before"], entry.details["after"]) == (10, 22)
        assert entry.details["reason"] == "Delivery"


@pytest.mark.backends("sqlite")  # an htmx fragment
def test_adjusting_with_htmx_answers_with_the_ledger_block(app, store_a, staff_client):
    lamp = make_variant(store_a, "LAMP", 1000, stock=10)
    response = staff_client.post(
        f"/admin/variants/{lamp}/stock",
        data=adjust_form(quantity="-3", kind="adjust", reason="Damaged", based_on="10"),
        headers=HTMX,
    )
    assert response.status_code == 200 and "<html" not in response.text
    assert response.text.lstrip().startswith('<div id="stock-ledger"')
    assert "Stock -3: 7 in stock now." in response.text
    assert 'name="based_on" value="7"' in response.text  # a fresh form for the next change
    assert 'value="Damaged"' not in response.text
    assert stock_of(app, lamp) == 7


@pytest.mark.backends("sqlite")  # form messages; stock guards: test_inventory
@pytest.mark.parametrize(
    ("form", "field_message"),
    [
        ({"reason": ""}, "Say why the stock changes"),
        ({"reason": "   "}, "Say why the stock changes"),
        ({"reason": "x" * 301}, "300 characters"),
        ({"quantity": "abc"}, "whole number, like +12"),
        ({"quantity": "1.5"}, "whole number, like +12"),
        ({"quantity": ""}, "whole number, like +12"),
        ({"quantity": "0"}, "other than 0"),
        ({"quantity": "99999999999"}, "more than 1,000,000,000"),
        ({"quantity": "+" + "9" * 40}, "whole number, like +12"),
        ({"quantity": "-11", "kind": "adjust"}, "Only 10 in stock"),
        ({"quantity": "-1"}, "Received stock is added"),
        ({"quantity": "+1000000000"}, "can&#39;t go above 1,000,000,000"),
        ({"kind": "sale"}, "Choose Received or Adjustment"),
        ({"mode": "steal"}, "Choose whether to change"),
        ({"mode": "set", "quantity": "-1"}, "can&#39;t be set below 0"),
        ({"mode": "set", "quantity": "lots"}, "whole number you counted"),
        ({"mode": "set", "quantity": "10", "based_on": "10"}, "already 10"),
        ({"mode": "set", "quantity": "4", "based_on": ""}, "Reload the page"),
    ],
)
@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_bad_adjustments_are_refused_with_a_message_and_change_nothing(
    app, store_a, staff_client, form, field_message, htmx
):
    lamp = make_variant(store_a, "LAMP", 1000, stock=10)
    response = staff_client.post(
        f"/admin/variants/{lamp}/stock",
        data=adjust_form(**{"based_on": "10", **form}),
        headers=HTMX if htmx else {},
    )
    assert response.status_code == 422
    assert field_message in response.text
    assert ("<html" in response.text) is not htmx
    assert stock_of(app, lamp) == 10 and len(movements(app, lamp)) == 1


def test_a_stale_form_still_applies_its_change_to_the_current_stock(app, store_a, staff_client):
    lamp = make_variant(store_a, "LAMP", 1000, stock=10)
    shown = staff_client.get(f"/admin/variants/{lamp}/stock")
    assert 'name="based_on" value="10"' in shown.text
    make_order(app, store_a, lamp, quantity=3)  # an order arrives while the form is open
    response = staff_client.post(
        f"/admin/variants/{lamp}/stock", data=adjust_form(quantity="+5", based_on="10")
    )
    assert response.status_code == 303
    assert stock_of(app, lamp) == 12  # 10 - 3 + 5, not 10 + 5
    page = staff_client.get(f"/admin/variants/{lamp}/stock")
    assert "It had changed from 10 to 7 while the form was open" in page.text


def test_setting_a_count_is_based_on_the_stock_shown_and_refused_once_it_moved(
    app, store_a, staff_client
):
    lamp = make_variant(store_a, "LAMP", 1000, stock=10)
    ok = staff_client.post(
        f"/admin/variants/{lamp}/stock",
        data=adjust_form(mode="set", quantity="4", reason="Stocktake", based_on="10"),
    )
    assert ok.status_code == 303 and stock_of(app, lamp) == 4
    assert movements(app, lamp)[-1] == ("adjust", -6, "Stocktake")

    move(app, store_a, lamp, 3, "return")  # someone else changes it: 7 now
    stale = staff_client.post(
        f"/admin/variants/{lamp}/stock",
        data=adjust_form(mode="set", quantity="9", reason="Recount", based_on="4"),
        headers=HTMX,
    )
    assert stale.status_code == 409
    assert "the form showed 4, it is 7 now" in stale.text
    assert 'name="based_on" value="7"' in stale.text and 'value="Recount"' in stale.text
    assert stock_of(app, lamp) == 7

    again = staff_client.post(
        f"/admin/variants/{lamp}/stock",
        data=adjust_form(mode="set", quantity="9", reason="Recount", based_on="7"),
    )
    assert again.status_code == 303 and stock_of(app, lamp) == 9
    assert movements(app, lamp)[-1] == ("adjust", 2, "Recount")


def test_a_count_equal_to_a_stale_basis_is_still_a_conflict(app, store_a, staff_client):
    lamp = make_variant(store_a, "LAMP", 1000, stock=10)
    move(app, store_a, lamp, -2)
    stale = staff_client.post(
        f"/admin/variants/{lamp}/stock",
        data=adjust_form(mode="set", quantity="10", based_on="10"),
    )
    assert stale.status_code == 409 and "it is 8 now" in stale.text
    assert stock_of(app, lamp) == 8


def test_the_stock_after_a_mixed_sequence_is_the_sum_of_its_movements(app, store_a, staff_client):
    from app.orders import fulfilment
    from app.orders.models import Order

    lamp = make_variant(store_a, "LAMP", 1000, stock=20)
    paid = make_order(app, store_a, lamp, quantity=4, status="paid")
    unpaid = make_order(app, store_a, lamp, quantity=2)
    with app.app_context():
        fulfilment.cancel(db.session.get(Order, unpaid["id"]), None, reason="Changed mind")
        fulfilment.refund(db.session.get(Order, paid["id"]), None, amount=4000, restock=True)
    move(app, store_a, lamp, 7, "sync")
    for form in (
        adjust_form(quantity="+3"),
        adjust_form(quantity="-5", kind="adjust", reason="Broken"),
        adjust_form(mode="set", quantity="11", reason="Count"),
    ):
        form["based_on"] = str(stock_of(app, lamp))
        assert staff_client.post(f"/admin/variants/{lamp}/stock", data=form).status_code == 303
    assert stock_of(app, lamp) == 11
    kinds = [kind for kind, *_ in movements(app, lamp)]
    assert kinds == [
        "receive", "sale", "sale", "cancellation", "return", "sync", "receive", "adjust", "adjust"
    ]  # fmt: skip


# The low-stock threshold and its alert ---------------------------------------------------------


@pytest.mark.backends("sqlite")  # a form, its fragment and messages
def test_the_threshold_form_sets_clears_and_refuses(app, store_a, staff_client):
    lamp = make_variant(store_a, "LAMP", 1000, stock=10)
    url = f"/admin/variants/{lamp}/threshold"
    assert staff_client.post(url, data={"threshold": "3"}).status_code == 303
    with app.app_context():
        assert db.session.get(Variant, lamp).low_stock_threshold == 3
    fragment = staff_client.post(url, data={"threshold": " 12 "}, headers=HTMX)
    assert fragment.status_code == 200 and fragment.text.lstrip().startswith(
        '<div id="stock-ledger"'
    )
    assert "Low-stock alert at 12." in fragment.text and 'badge--warn">Low' in fragment.text
    for bad in ("abc", "-2", "1.5", "9" * 20):
        refused = staff_client.post(url, data={"threshold": bad}, headers=HTMX)
        assert refused.status_code == 422 and "field__error" in refused.text
    assert staff_client.post(url, data={"threshold": ""}).status_code == 303
    with app.app_context():
        variant = db.session.get(Variant, lamp)
        assert variant.low_stock_threshold is None
        actions = db.session.scalars(
            select(AuditLog.action).where(AuditLog.action == "stock.threshold_changed")
        ).all()
        assert len(actions) == 3


def test_crossing_the_threshold_emails_owners_and_managers_once_and_rearms(
    app, store_a, staff_client
):
    add_member(store_a, make_user("manager@example.com"), "manager")
    lamp = make_variant(store_a, "LAMP", 1000, stock=8)  # the default threshold, 5
    move(app, store_a, lamp, -2)  # 6: still above
    assert alerts_sent(app) == []
    make_order(app, store_a, lamp, quantity=1)  # 5: at the threshold
    assert alerts_sent(app) == ["owner@alpha.example.com", "manager@example.com"]
    move(app, store_a, lamp, -1)  # 4: the same dip
    staff_client.post(
        f"/admin/variants/{lamp}/stock", data=adjust_form(quantity="-4", kind="adjust")
    )  # 0
    assert len(alerts_sent(app)) == 2
    staff_client.post(f"/admin/variants/{lamp}/stock", data=adjust_form(quantity="+3"))  # 3
    assert len(alerts_sent(app)) == 2  # still at or below: not re-armed yet
    staff_client.post(f"/admin/variants/{lamp}/stock", data=adjust_form(quantity="+10"))  # 13
    move(app, store_a, lamp, -8)  # 5 again: a new dip
    assert len(alerts_sent(app)) == 4
    with app.app_context():
        message = db.session.scalar(
            select(EmailMessage).where(EmailMessage.template == "low_stock")
        )
        assert message.subject == "Low stock: Lamp LAMP has 5 left at Alpha Goods"
        assert f"/admin/variants/{lamp}/stock" in message.text_body
        assert message.status == "logged"  # sent (to the log: no mail server in tests)
        assert message.store_id == store_a.id
    assert stock_of(app, lamp) == 5


def test_a_rolled_back_crossing_sends_nothing_and_stays_armed(app, store_a):
    lamp = make_variant(store_a, "LAMP", 1000, stock=6)
    with app.app_context():
        apply_movement(store_a.id, lamp, -2, "adjust")
        db.session.rollback()
    assert alerts_sent(app) == []
    move(app, store_a, lamp, -2)
    assert len(alerts_sent(app)) == 1


def test_the_variants_own_threshold_counts_and_raising_it_does_not_alert_an_old_dip(
    app, store_a, staff_client
):
    lamp = make_variant(store_a, "LAMP", 1000, stock=10)
    url = f"/admin/variants/{lamp}/threshold"
    staff_client.post(url, data={"threshold": "20"})  # already below: no alert for this dip
    move(app, store_a, lamp, -1)
    assert alerts_sent(app) == []
    move(app, store_a, lamp, 16)  # 25: above again
    move(app, store_a, lamp, -5)  # 20
    assert alerts_sent(app) == ["owner@alpha.example.com"]
    staff_client.post(url, data={"threshold": "0"})  # lowered below the stock: re-armed
    move(app, store_a, lamp, -20)  # 0
    assert len(alerts_sent(app)) == 2


@pytest.mark.backends("sqlite")  # a flag read in Python
def test_untracked_variants_never_alert(app, store_a):
    lamp = make_variant(store_a, "LAMP", 1000, stock=8)
    with app.app_context():
        db.session.get(Variant, lamp).track_inventory = False
        db.session.commit()
    move(app, store_a, lamp, -8)
    assert alerts_sent(app) == []


def test_concurrent_movements_across_the_threshold_send_one_alert(app, store_a):
    lamp = make_variant(store_a, "LAMP", 1000, stock=12)  # threshold 5: the 7th sale crosses
    barrier = threading.Barrier(12, timeout=30)
    errors: list = []

    def take(n: int):
        barrier.wait()
        with app.app_context():
            try:
                apply_movement(store_a.id, lamp, -1, "sale", reference=f"order:{n}")
                db.session.commit()
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(repr(exc))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=take, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    assert errors == []
    assert stock_of(app, lamp) == 0
    assert alerts_sent(app) == ["owner@alpha.example.com"]
    with app.app_context():
        assert db.session.get(Variant, lamp).low_stock_alerted is True
        count = db.session.scalar(select(func.count()).select_from(StockMovement))
        assert count == 13


# Another store's variant -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("GET", "/admin/variants/{id}/stock", None),
        ("GET", "/admin/variants/{id}/stock?page=2", None),
        ("POST", "/admin/variants/{id}/stock", adjust_form(based_on="5")),
        ("POST", "/admin/variants/{id}/stock", adjust_form(mode="set", quantity="1", based_on="5")),
        ("POST", "/admin/variants/{id}/threshold", {"threshold": "1"}),
    ],
)
@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_another_stores_variant_is_404_on_this_stores_dashboard(
    app, client_for, store_a, store_b, method, path, data, htmx
):
    theirs = make_variant(store_b, "THEIRS", 1000, stock=5)
    client = client_for(store_a)
    sign_in_as(client, owner_of(app, store_a))
    response = client.open(
        path.format(id=theirs), method=method, data=data, headers=HTMX if htmx else {}
    )
    assert response.status_code == 404
    assert stock_of(app, theirs) == 5 and len(movements(app, theirs)) == 1
    with app.app_context():
        assert db.session.get(Variant, theirs).low_stock_threshold is None
