"""Platform home benchmark: the marketplace home, its store directory and the platform's
cross-store search with many stores.

Seeds N open stores with a few products each (bulk insert) in a database of its own on
PostgreSQL, then requests the home, a directory search, a later directory page and platform
searches (a rare and a common word) through the Flask test client and prints each one's
single-request p50 and size:

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/pasar_bench_stores \\
        .venv/bin/python bench/platform_home.py --stores 10000 --products-per-store 5

Results are recorded in bench/RESULTS.md.
"""

import argparse
import logging
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text

from bench.catalog import VOCABULARY, WORDS, reset_database, vacuum_analyze

PATHS = (
    "/",
    "/?q=shop+01",
    "/?currency=EUR",
    "/?page=50",
    "/search?q=cotton+shirt",
    "/search?q=shirt",
    "/search?q=shirt&page=30",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=10_000)
    parser.add_argument("--products-per-store", type=int, default=5)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    url = os.environ.get(
        "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/pasar_bench_stores"
    ).replace("postgresql://", "postgresql+psycopg://", 1)

    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from tenants.models import Store
    from tenants.rls import all_stores

    reset_database(url)
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench",
            "PLATFORM_DOMAIN": "pasar.bench",
            "REDIS_URL": None,
            "RATELIMIT_ENABLED": False,
        }
    )
    with app.app_context(), all_stores("bench: seeding stores and products"):
        upgrade()
        now = datetime.now(UTC)
        db.session.execute(
            insert(Store),
            [
                {
                    "slug": f"shop{n:05d}",
                    "name": f"Shop {n:05d}",
                    "currency": ("USD", "EUR", "IDR")[n % 3],
                    "locale": "en_US",
                    "timezone": "UTC",
                    "accent_color": "#0f766e",
                    "status": "active",
                    "published_at": now - timedelta(seconds=n),
                }
                for n in range(args.stores)
            ],
        )
        db.session.commit()
        seed_products(db, args.stores, args.products_per_store)
        db.session.commit()
        # As autovacuum would: statistics, and the text index's pending entries merged.
        vacuum_analyze(db.engine)
    logging.disable(logging.INFO)  # the per-request log lines
    client = app.test_client()
    products = args.stores * args.products_per_store
    print(f"\n{args.stores:,} stores, {products:,} products\n")
    print("| page | p50 (ms) | size (KB) |\n| --- | ---: | ---: |")
    for path in PATHS:
        times = []
        for _ in range(args.runs + 3):  # the first 3 warm the pools and caches
            started = time.perf_counter()
            response = client.get(path, headers={"Host": "pasar.bench"})
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (path, response.status_code)
        size = len(response.data) / 1024
        print(f"| `{path}` | {statistics.median(times[3:]):.1f} | {size:.1f} |")
    with app.app_context():
        db.engine.dispose()


def seed_products(db, stores: int, per_store: int) -> None:
    """`per_store` active single-variant products in every store (titles from bench/catalog)."""
    import random

    from app.catalog.models import Product, Variant

    rng = random.Random(17)
    ids = db.session.execute(text("SELECT id FROM stores ORDER BY id")).scalars().all()
    products, variants = [], []
    next_id = 1
    for store_id in ids:
        for n in range(per_store):
            words = rng.sample(WORDS, 3)
            price = rng.randint(500, 30000)
            products.append(
                {
                    "id": next_id,
                    "store_id": store_id,
                    "title": " ".join(w.title() for w in words),
                    "slug": f"product-{n + 1}",
                    "status": "active",
                    "description_md": " ".join(rng.choices(VOCABULARY, k=30)),
                    "description_html": "",
                    "tags_text": "",
                    "min_price": price,
                    "max_price": price,
                    "in_stock": True,
                }
            )
            variants.append(
                {
                    "store_id": store_id,
                    "product_id": next_id,
                    "sku": f"P-{n}",
                    "price": price,
                    "stock": 5,
                    "position": 0,
                }
            )
            next_id += 1
        if len(products) >= 5000:
            db.session.execute(insert(Product), products)
            db.session.execute(insert(Variant), variants)
            products, variants = [], []
    if products:
        db.session.execute(insert(Product), products)
        db.session.execute(insert(Variant), variants)
    db.session.execute(text("SELECT setval('products_id_seq', (SELECT max(id) FROM products))"))
    db.session.commit()


if __name__ == "__main__":
    main()
