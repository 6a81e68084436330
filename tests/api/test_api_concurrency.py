"""The API under concurrency on both databases: one effect per Idempotency-Key, and the API
and a checkout racing for the last units never take the stock below zero."""

import threading
import uuid

from sqlalchemy import func, select

from app.api.models import ApiIdempotencyKey
from app.catalog.models import Variant
from app.extensions import db
from app.inventory.models import StockMovement
from app.inventory.service import ledger_total
from app.orders.service import Checkout, SoldOut, place_order
from tenants.models import Store
from tests.api.helpers import bearer, make_key
from tests.web.order_helpers import ADDRESS, make_variant


def _run_together(count: int, work) -> list:
    """Run `work(n)` in `count` threads released at once; their results, in any order."""
    barrier = threading.Barrier(count, timeout=30)
    results: list = []

    def run(n: int):
        barrier.wait()
        try:
            results.append(work(n))
        except Exception as exc:  # reported by the assertions on `results`
            results.append(repr(exc))

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    return results


def test_concurrent_replays_of_one_adjustment_make_one_movement(app, client_for, store_a):
    secret = make_key(app, store_a)
    variant_id = make_variant(store_a, stock=10)
    headers = bearer(secret, **{"Idempotency-Key": "erp-adjust-42"})
    body = {"change": 7, "kind": "receive", "reason": "delivery 42"}

    def send(n: int):
        response = client_for(store_a).post(
            f"/api/v1/stock/{variant_id}/adjustments", json=body, headers=headers
        )
        return response.status_code, response.get_json()

    results = _run_together(8, send)
    assert {status for status, _ in results} == {201}, results
    assert {tuple(sorted(answer.items())) for _, answer in results} == {
        (("after", 17), ("before", 10), ("change", 7), ("variant_id", variant_id))
    }
    with app.app_context():
        assert db.session.get(Variant, variant_id).stock == 17 == ledger_total(variant_id)
        movements = db.session.scalar(
            select(func.count()).select_from(StockMovement).where(StockMovement.quantity == 7)
        )
        assert movements == 1
        assert db.session.scalar(select(func.count()).select_from(ApiIdempotencyKey)) == 1


def test_the_api_and_checkouts_racing_for_the_last_units(app, client_for, store_a):
    secret = make_key(app, store_a)
    variant_id = make_variant(store_a, stock=3)

    def act(n: int):
        if n % 2:
            response = client_for(store_a).post(
                f"/api/v1/stock/{variant_id}/adjustments",
                json={"change": -1, "reason": "sold at the market stall"},
                headers=bearer(secret),
            )
            return ("api", response.status_code)
        with app.app_context():
            try:
                place_order(
                    db.session.get(Store, store_a.id),
                    Checkout(
                        email=f"b{n}@example.com",
                        lines=[(variant_id, 1)],
                        idempotency_key=uuid.uuid4().hex,
                        shipping_address=ADDRESS,
                    ),
                )
                return ("checkout", 201)
            except SoldOut:
                return ("checkout", 409)
            finally:
                db.session.remove()

    results = _run_together(10, act)
    sold = [r for r in results if r[1] == 201]
    assert len(sold) == 3, results
    assert {status for kind, status in results if kind == "api"} <= {201, 422}
    with app.app_context():
        assert db.session.get(Variant, variant_id).stock == 0 == ledger_total(variant_id)
