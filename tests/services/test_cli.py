"""The operator commands: seed-demo, create-superuser, create-store."""

import pytest
from sqlalchemy import func, select
from sqlalchemy import text as sql

from app.accounts.models import Membership, User
from app.catalog.models import Category, Product, ProductImage, Variant
from app.database import CATALOG_TABLES
from app.extensions import db
from app.orders.models import Order
from tenants.models import Store


def _count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_seed_demo_is_idempotent_and_prints_the_logins(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo", "--products", "4", "--orders", "3"])
    assert first.exit_code == 0, first.output
    with app.app_context():
        counts = (
            _count(Store),
            _count(User),
            _count(Membership),
            _count(Product),
            _count(Variant),
            _count(ProductImage),
            _count(Category),
        )
        assert counts[3] == 12 and counts[5] == 12  # 4 products, each with a picture, per store
        assert _count(Order) == 9  # 3 demo orders per store
        assert db.session.scalar(select(func.count()).where(ProductImage.status == "ready")) == 12
        stores = db.session.scalars(select(Store)).all()
        assert len(stores) >= 3
        assert len({s.name for s in stores}) == len(stores)
        assert {"IDR", "USD", "EUR"} <= {s.currency for s in stores}
        assert len({s.accent_color for s in stores}) == len(stores)
        assert db.session.scalar(select(func.count()).where(User.is_superuser)) == 1
        for store in stores:
            owners = db.session.scalar(
                select(func.count()).where(
                    Membership.store_id == store.id, Membership.role == "owner"
                )
            )
            assert owners == 1
    second = runner.invoke(args=["seed-demo", "--products", "4", "--orders", "3"])
    assert second.exit_code == 0, second.output
    with app.app_context():
        assert (
            _count(Store),
            _count(User),
            _count(Membership),
            _count(Product),
            _count(Variant),
            _count(ProductImage),
            _count(Category),
        ) == counts
        assert _count(Order) == 9  # a store that has orders gets no more
    for text in (
        "admin@example.com",
        "shopper@example.com",
        "owner@acme.example.com",
        "pasar-demo-2026",
        "http://acme.pasar.test/",
    ):
        assert text in first.output


def test_create_superuser(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["create-superuser", "--email", "Boss@Example.com", "--password", "a-long-password"]
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "boss@example.com"))
        assert user.is_superuser and user.check_password("a-long-password")
    short = runner.invoke(
        args=["create-superuser", "--email", "x@example.com", "--password", "short"]
    )
    assert short.exit_code != 0 and "at least 10" in short.output
    bad = runner.invoke(
        args=["create-superuser", "--email", "not an email", "--password", "a-long-password"]
    )
    assert bad.exit_code != 0 and "Traceback" not in bad.output


def test_create_store(app):
    runner = app.test_cli_runner()
    runner.invoke(
        args=["create-superuser", "--email", "o@example.com", "--password", "0123456789a"]
    )
    ok = runner.invoke(
        args=[
            "create-store",
            "--slug",
            "teapot",
            "--name",
            "Tea Pot",
            "--owner",
            "o@example.com",
            "--currency",
            "idr",
            "--locale",
            "id-ID",
            "--timezone",
            "Asia/Jakarta",
        ]
    )
    assert ok.exit_code == 0, ok.output
    assert "http://teapot.pasar.test/" in ok.output
    with app.app_context():
        store = db.session.scalar(select(Store).where(Store.slug == "teapot"))
        assert (store.currency, store.locale, store.timezone) == ("IDR", "id_ID", "Asia/Jakarta")
    for args, message in [
        (["--slug", "admin"], "reserved"),
        (["--slug", "teapot"], "taken"),
        (["--slug", "-bad"], "hyphen"),
        (["--slug", "fine-shop", "--currency", "XXQ"], "not a currency"),
        (["--slug", "fine-shop", "--timezone", "Mars/Olympus"], "time zone"),
        (["--slug", "fine-shop", "--owner", "ghost@example.com"], "No account"),
    ]:
        base = {"--name": "Shop", "--owner": "o@example.com"}
        extra = dict(zip(args[::2], args[1::2], strict=True))
        argv = ["create-store"] + [x for kv in {**base, **extra}.items() for x in kv]
        result = runner.invoke(args=argv)
        assert result.exit_code != 0, argv
        assert message in result.output, (argv, result.output)


def _manual_analyzes(table: str) -> int:
    db.session.execute(sql("SELECT pg_stat_clear_snapshot()"))
    return db.session.scalar(
        sql("SELECT analyze_count FROM pg_stat_user_tables WHERE relname = :t"), {"t": table}
    )


@pytest.mark.backends("sqlite")  # the option's check: nothing reaches the database
def test_seed_demo_refuses_a_negative_order_count_and_writes_nothing(app):
    result = app.test_cli_runner().invoke(args=["seed-demo", "--products", "1", "--orders", "-1"])
    assert result.exit_code == 2 and "--orders" in result.output
    with app.app_context():
        assert _count(Store) == 0


def test_seed_demo_leaves_planner_statistics_on_postgresql(app, backend):
    if backend == "postgresql":
        with app.app_context():
            before = {t: _manual_analyzes(t) for t in CATALOG_TABLES}
            db.session.rollback()
    result = app.test_cli_runner().invoke(
        args=["seed-demo", "--products", "3", "--no-images", "--orders", "0"]
    )
    assert result.exit_code == 0, result.output
    if backend == "postgresql":
        with app.app_context():
            after = {t: _manual_analyzes(t) for t in CATALOG_TABLES}
            assert all(after[t] > before[t] for t in CATALOG_TABLES), (before, after)
            last = db.session.scalar(
                sql("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'products'")
            )
            assert last is not None
