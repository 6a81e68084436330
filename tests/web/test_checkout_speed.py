"""Placing an order is cheap: a bounded number of statements and one commit, however many lines.

bench/checkout.py measures it under load; this keeps the work per order from creeping back
(a second commit to empty the cart, the order read back after the commit, a query per line).
"""

from contextlib import contextmanager

from sqlalchemy import event, func, select

from app.catalog.models import Variant
from app.extensions import db
from app.orders.models import Order
from tests.services.test_browse import count_queries
from tests.web.test_checkout import add, to_review, variant_of

# 14 on PostgreSQL with one line (SQLite adds its BEGIN IMMEDIATE): the store, the cart with its
# lines, variants and products (one query), the settings, one stock UPDATE per variant, emptying
# the cart, the counter, the order, its lines, its event, the ledger rows and the store's webhook
# endpoints (the `order.created` outbox row is written only when one listens). The order's key
# is not looked up first (its unique constraint settles a second submit) and the cart's variants
# are not read again. (It was 21 with two commits before bench/checkout.py, then 14.)
# Stock holds add two reads: the cart's own holds (none here) and other carts' expired holds
# of the ordered variants, released before the sale so they never stop it.
MOST_FOR_ONE_LINE = 14
# Each more variant costs its conditional stock UPDATE (the no-oversell rule); the order lines
# and ledger rows go in one statement each (executemany) on both databases.
PER_MORE_LINE = {"postgresql": 1, "sqlite": 1}


@contextmanager
def count_commits():
    class Counter:
        count = 0

    counter = Counter()

    def listener(conn):
        counter.count += 1

    event.listen(db.engine, "commit", listener)
    try:
        yield counter
    finally:
        event.remove(db.engine, "commit", listener)


def place_counted(app, client, variants):
    for variant in variants:
        add(client, variant, 2)
    key = to_review(client)
    with app.app_context(), count_queries() as queries, count_commits() as commits:
        response = client.post("/checkout/place", data={"idempotency_key": key})
    assert response.status_code == 303 and "/pay/test/" in response.location
    return queries, commits.count


def test_placing_an_order_takes_a_bounded_number_of_statements_and_one_commit(
    app, backend, client_for, store_a
):
    one = variant_of(store_a, "Mug", stock=10)
    several = [variant_of(store_a, f"Plate {n}", stock=10) for n in range(4)]
    place_counted(app, client_for(store_a), [one])  # the store's first order makes its counter

    single, single_commits = place_counted(app, client_for(store_a), [one])
    many, many_commits = place_counted(app, client_for(store_a), several)

    assert single.count <= MOST_FOR_ONE_LINE, single.statements
    assert many.count - single.count <= PER_MORE_LINE[backend] * (len(several) - 1), many.statements
    assert single_commits == many_commits == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Order)) == 3
        stocks = db.session.scalars(
            select(Variant.stock).where(Variant.id.in_([one.id] + [v.id for v in several]))
        ).all()
        assert sorted(stocks) == [6] + [8] * 4
