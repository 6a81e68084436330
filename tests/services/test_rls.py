"""PostgreSQL row-level security (migration 0021, tenants/rls.py): as the app's role, a store's
transaction sees only that store's rows, a transaction with no store sees none, and every
table with a store_id column carries the policy."""

import logging

import pytest
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.exc import ProgrammingError

from app.extensions import db
from tenants.rls import APP_ROLE, all_stores, store_owned_tables_without_policy

pytestmark = pytest.mark.backends("postgresql")

# Rows the demo seed doesn't make, one per store: (table, INSERT ... SELECT for store :s).
EXTRA_ROWS = [
    (
        "carts",
        "INSERT INTO carts (store_id, token, status, created_at, updated_at)"
        " VALUES (:s, 'tok-' || :s, 'open', now(), now())",
    ),
    (
        "api_keys",
        "INSERT INTO api_keys (store_id, name, prefix, key_hash, scopes, created_at)"
        " VALUES (:s, 'ERP', 'pk_x', 'hash-' || :s, 'orders:read', now())",
    ),
    (
        "api_idempotency_keys",
        "INSERT INTO api_idempotency_keys (store_id, key, fingerprint, status_code, body,"
        " created_at) VALUES (:s, 'key-1', 'f', 201, '{}', now())",
    ),
    (
        "cart_items",
        "INSERT INTO cart_items (store_id, cart_id, variant_id, quantity, price_seen, created_at)"
        " SELECT :s, (SELECT id FROM carts WHERE store_id = :s LIMIT 1),"
        " (SELECT id FROM variants WHERE store_id = :s LIMIT 1), 1, 100, now()",
    ),
    (
        "stock_holds",
        "INSERT INTO stock_holds (store_id, cart_id, variant_id, quantity, expires_at, extensions,"
        " status, created_at, released_at) SELECT :s,"
        " (SELECT id FROM carts WHERE store_id = :s LIMIT 1),"
        " (SELECT id FROM variants WHERE store_id = :s LIMIT 1), 1, now(), 0, 'released',"
        " now(), now()",
    ),
    (
        "coupons",
        "INSERT INTO coupons (store_id, code, kind, value, created_at)"
        " VALUES (:s, 'SAVE' || :s, 'fixed', 100, now())",
    ),
    (
        "coupon_redemptions",
        "INSERT INTO coupon_redemptions (store_id, coupon_id, order_id, email, created_at)"
        " SELECT :s, (SELECT id FROM coupons WHERE store_id = :s LIMIT 1),"
        " (SELECT id FROM orders WHERE store_id = :s LIMIT 1), 'x@example.com', now()",
    ),
    (
        "gateway_deliveries",
        "INSERT INTO gateway_deliveries (store_id, event_id, order_number, decision, body,"
        " status, attempts, created_at) VALUES (:s, 'ev-' || :s, 1, 'approve', '{}',"
        " 'pending', 0, now())",
    ),
    (
        "import_runs",
        "INSERT INTO import_runs (store_id, filename, content, content_hash, status, phase,"
        " forced, total_rows, processed_rows, done_through_row_id, changes, unchanged, errors,"
        " flagged, updated, reverted, message, created_at, updated_at) VALUES (:s, 'a.csv',"
        " '', 'h', 'previewed', 'preview', false, 1, 1, 0, 0, 0, 0, 0, 0, 0, '', now(), now())",
    ),
    (
        "import_rows",
        "INSERT INTO import_rows (store_id, run_id, line, sku, status, message, price_applied)"
        " SELECT :s, (SELECT id FROM import_runs WHERE store_id = :s LIMIT 1), 2, 'SKU',"
        " 'unchanged', '', false",
    ),
    (
        "payouts",
        "INSERT INTO payouts (store_id, period_start, period_end, currency, gross, refunds,"
        " commission, net, reference, paid_at) VALUES (:s, '2026-11-01', '2026-11-30', 'USD',"
        " 100, 0, 5, 95, 'ref-' || :s, now())",
    ),
    (
        "product_slug_redirects",
        "INSERT INTO product_slug_redirects (store_id, product_id, old_slug)"
        " SELECT :s, (SELECT id FROM products WHERE store_id = :s LIMIT 1), 'old-' || :s",
    ),
    (
        "store_invites",
        "INSERT INTO store_invites (store_id, email, role, created_at, expires_at)"
        " VALUES (:s, 'staff@example.com', 'staff', now(), now() + interval '1 day')",
    ),
    (
        "webhook_endpoints",
        "INSERT INTO webhook_endpoints (store_id, url, description, events, secret, enabled,"
        " disabled_reason, created_at) VALUES (:s, 'https://hooks.example.com/' || :s, '',"
        " '[\"order.paid\"]', 'whsec_x', true, '', now())",
    ),
    (
        "outbound_events",
        "INSERT INTO outbound_events (store_id, message_id, type, body, created_at)"
        " VALUES (:s, 'msg_' || :s, 'order.paid', '{}', now())",
    ),
    (
        "webhook_deliveries",
        "INSERT INTO webhook_deliveries (store_id, endpoint_id, event_id, status, attempts,"
        " created_at) SELECT :s, (SELECT id FROM webhook_endpoints WHERE store_id = :s LIMIT 1),"
        " (SELECT id FROM outbound_events WHERE store_id = :s LIMIT 1), 'pending', 0, now()",
    ),
    (
        "webhook_attempts",
        "INSERT INTO webhook_attempts (store_id, delivery_id, duration_ms, response_body,"
        " created_at) SELECT :s, (SELECT id FROM webhook_deliveries WHERE store_id = :s"
        " LIMIT 1), 5, '', now()",
    ),
    (
        "webhook_events",
        "INSERT INTO webhook_events (store_id, provider, event_id, event_type, payload, status,"
        " received_at) VALUES (:s, 'test', 'evt-' || :s, 'payment', '{}', 'received', now())",
    ),
]


def store_owned_tables() -> list[str]:
    """Every table the models give a store_id column."""
    return sorted(name for name, table in db.metadata.tables.items() if "store_id" in table.c)


@pytest.fixture
def owner_engine(app):
    """A connection pool that acts as the tables' owner (the test's PostgreSQL superuser)."""
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    yield engine
    engine.dispose()


@pytest.fixture
def stores(app, owner_engine):
    """The demo's three stores, with rows of their own in every store-owned table."""
    from app.demo import seed_demo
    from tenants.models import Store

    with app.app_context():
        seed_demo(products=2, images=True, orders=10)  # a few orders: rows, not a month of sales
        ids = list(db.session.scalars(select(Store.id).order_by(Store.id)))
        db.session.remove()
    with owner_engine.begin() as conn:
        for _table, sql in EXTRA_ROWS:
            for store_id in ids:
                conn.execute(text(sql), {"s": store_id})
        # Platform rows (no store) in the tables where store_id may be NULL.
        conn.execute(
            text(
                "INSERT INTO audit_logs (store_id, action, details, created_at)"
                " VALUES (NULL, 'platform.test', '{}', now())"
            )
        )
    return ids


def counts_as_owner(engine, table: str) -> dict:
    with engine.connect() as conn:
        rows = conn.execute(text(f'SELECT store_id, count(*) FROM "{table}" GROUP BY 1'))
        return dict(rows.all())


def select_as_app_role(engine, table: str, store_id=None, every: bool = False) -> list:
    """A raw SELECT of the table's store ids, as the app's role, in one transaction."""
    with engine.begin() as conn:
        conn.execute(text(f"SET LOCAL ROLE {APP_ROLE}"))
        if store_id is not None:
            conn.execute(text("SELECT set_config('app.store_id', :s, true)"), {"s": str(store_id)})
        if every:
            conn.execute(text("SELECT set_config('app.all_stores', 'on', true)"))
        return list(conn.scalars(text(f'SELECT store_id FROM "{table}"')))


def test_as_the_app_role_a_raw_select_returns_only_the_current_stores_rows(
    app, owner_engine, stores
):
    """The Done-when test of issue 18, on every store-owned table (the seed makes one
    stage of setup for all of it: about 15 s)."""
    a = stores[0]
    with app.app_context():
        tables = store_owned_tables()
    assert len(tables) >= 29
    for table in tables:
        by_store = counts_as_owner(owner_engine, table)
        assert len([s for s in by_store if s]) >= 2, f"{table}: seed rows of several stores"
        platform = [None] * by_store.get(None, 0)  # rows of no store (nullable store_id)
        # Store A set: exactly A's rows (and the platform's).
        seen = select_as_app_role(owner_engine, table, store_id=a)
        assert sorted(seen, key=str) == sorted([a] * by_store[a] + platform, key=str), table
        # No store set: no store's rows at all.
        assert select_as_app_role(owner_engine, table) == platform, table
        # The explicit all-stores path: everything.
        assert len(select_as_app_role(owner_engine, table, every=True)) == sum(by_store.values()), (
            table
        )
    assert select_as_app_role(owner_engine, "audit_logs").count(None) >= 1


def test_a_query_that_forgets_its_store_filter_returns_nothing_of_store_b(app, stores, caplog):
    """The app itself (DATABASE_ROLE, as in production), in store A's request."""
    from app.orders.models import Order
    from tenants.context import store_context

    a, b = stores[0], stores[1]
    with app.test_request_context("/"), store_context(a):
        assert db.session.scalar(text("SELECT current_user")) == APP_ROLE
        orders = db.session.scalars(select(Order)).all()  # no store filter
        assert orders and {o.store_id for o in orders} == {a}
        # Writes are fenced too: an unfiltered UPDATE leaves store B alone ...
        db.session.execute(update(Order).values(coupon_code="TOUCHED"))
        db.session.commit()
        # ... and a row for store B can't be written from store A's transaction.
        with pytest.raises(ProgrammingError, match="row-level security"):
            db.session.execute(
                text(
                    "INSERT INTO coupons (store_id, code, kind, value, created_at)"
                    " VALUES (:b, 'EVIL', 'fixed', 1, now())"
                ),
                {"b": b},
            )
        db.session.rollback()
    with app.app_context():
        with all_stores(reason="test: read back"):
            notes = dict(db.session.execute(select(Order.store_id, Order.coupon_code)).all())
        assert notes[a] == "TOUCHED" and notes[b] != "TOUCHED"

    # all_stores() is logged with its reason, and ends with its block.
    with app.test_request_context("/"), store_context(a):
        with (
            caplog.at_level(logging.INFO, logger="tenants.rls"),
            all_stores("test: console totals"),
        ):
            inside = set(db.session.scalars(select(Order.store_id)))
        after = set(db.session.scalars(select(Order.store_id)))
    assert inside == set(stores)
    assert after == {a}
    assert "all-stores access: test: console totals" in caplog.text


def test_every_table_with_store_id_has_forced_rls_and_a_policy(app, owner_engine):
    with owner_engine.connect() as conn:
        assert store_owned_tables_without_policy(conn) == []
        policies = set(conn.scalars(text("SELECT polrelid::regclass::text FROM pg_policy")))
    with app.app_context():
        assert set(store_owned_tables()) <= policies


def test_a_new_store_owned_table_without_a_policy_fails_the_check(app, owner_engine):
    with owner_engine.connect() as conn:
        conn.execute(text("CREATE TABLE rls_probe (id int PRIMARY KEY, store_id int NOT NULL)"))
        assert store_owned_tables_without_policy(conn) == ["rls_probe"]
        conn.execute(text("ALTER TABLE rls_probe ENABLE ROW LEVEL SECURITY"))
        assert store_owned_tables_without_policy(conn) == ["rls_probe"]  # not FORCE'd, no policy
        conn.execute(text("ALTER TABLE rls_probe FORCE ROW LEVEL SECURITY"))
        conn.execute(text("CREATE POLICY p ON rls_probe USING (false)"))
        assert store_owned_tables_without_policy(conn) == []
        conn.rollback()


def test_the_store_setting_costs_one_round_trip_per_transaction(
    app, client_for, store_a, monkeypatch
):
    """set_config goes out once in each transaction of a store's request: when the request
    resolves its store (in the transaction that looked the store up), then as each later
    transaction begins. Measured on placing an order: 2 transactions, 2 round trips, none of
    them seen by the statement counters of test_checkout_speed.py."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from tenants import rls
    from tests.web.test_checkout import add, to_review, variant_of

    sent, transactions = [], []
    original = rls._apply

    def counted(connection, scope):
        sent.append(scope)
        original(connection, scope)

    def began(session, transaction, connection):
        transactions.append(transaction)

    monkeypatch.setattr(rls, "_apply", counted)
    variant = variant_of(store_a, "Mug", stock=10)
    client = client_for(store_a)
    add(client, variant, 1)
    key = to_review(client)
    sent.clear()
    event.listen(Session, "after_begin", began)
    try:
        response = client.post("/checkout/place", data={"idempotency_key": key})
    finally:
        event.remove(Session, "after_begin", began)
    assert response.status_code == 303
    assert sent == [(str(store_a.id), "off")] * len(transactions)
    assert len(transactions) == 2


def test_the_migration_downgrades_and_upgrades_again(app):
    """On a scratch database of its own: 0021 down removes every policy, up puts them back."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy.engine import make_url

    from tests.conftest import _ensure_postgres_database, _reset_postgres, make_app

    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    scratch = url.set(database=f"{url.database}_rls").render_as_string(hide_password=False)
    _ensure_postgres_database(scratch)
    _reset_postgres(scratch)
    other = make_app(scratch)
    owner = create_engine(scratch)
    try:
        with other.app_context():
            upgrade()
            with owner.connect() as conn:
                assert store_owned_tables_without_policy(conn) == []
            downgrade(revision="0020")
            with owner.connect() as conn:
                assert "products" in store_owned_tables_without_policy(conn)
                assert conn.scalar(text("SELECT count(*) FROM pg_policy")) == 0
            upgrade()
            with owner.connect() as conn:
                assert store_owned_tables_without_policy(conn) == []
            db.engine.dispose()
    finally:
        owner.dispose()


def test_product_search_keeps_its_text_index_under_row_level_security(app, stores):
    """Migration 0026: `search_vector @@ query` may drive the GIN index although the policy is
    checked first, because ts_match_vq is leakproof; without that every search read every
    visible product (29 ms instead of 3 ms over 50,000 in bench/platform_home.py)."""
    from sqlalchemy.dialects import postgresql

    from app.catalog.models import Product
    from app.catalog.search import apply_search
    from tenants.context import store_context

    with app.test_request_context("/"), store_context(stores[0]):
        assert db.session.scalar(
            text("SELECT proleakproof FROM pg_proc WHERE oid = 'ts_match_vq'::regproc")
        )
        stmt, _rank = apply_search(select(Product.id), "lamp")
        sql = stmt.compile(dialect=postgresql.psycopg.dialect())
        db.session.execute(text("SET LOCAL enable_seqscan = off"))  # a tiny table: force a choice
        explained = db.session.connection().exec_driver_sql(f"EXPLAIN {sql}", sql.params)
        plan = "\n".join(row[0] for row in explained)
        db.session.rollback()
    assert "ix_products_search_vector" in plan, plan
