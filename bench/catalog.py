"""Catalog benchmark: listing, filtered listing, search and product page latency on PostgreSQL.

Seeds one store per size with N products each (bulk inserts, no pictures) in one database, then
requests each page of each store in turns through the Flask app (test client, so the numbers are
app + database time, no network) and reports p50 and p95 in milliseconds, and the ratio of the
largest size to the smallest:

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/pasar_bench \\
        .venv/bin/python bench/catalog.py --products 1000 100000 --runs 60

Results are recorded in bench/RESULTS.md.
"""

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

WORDS = [
    "cotton",
    "linen",
    "wool",
    "denim",
    "canvas",
    "silk",
    "shirt",
    "hoodie",
    "trousers",
    "jacket",
    "cap",
    "tote",
    "scarf",
    "classic",
    "urban",
    "trail",
    "summit",
    "coastal",
    "heritage",
    "nordic",
    "weekend",
    "harbor",
    "canyon",
    "organic",
    "vintage",
    "slim",
]
# Descriptions draw on a large vocabulary, as real ones do; a handful of words would make
# every product match every query and measure nothing but the ranking of the whole table.
VOCABULARY = [
    f"{a}{b}{c}"
    for a in "bdfgklmnprstvz"
    for b in "aeiou"
    for c in (
        "la",
        "ri",
        "no",
        "ka",
        "te",
        "mo",
        "su",
        "di",
        "ve",
        "po",
        "xi",
        "ju",
        "qa",
        "wy",
        "ze",
    )
]
TAGS = ["new", "sale", "bestseller", "organic", "outdoor", "gift", "limited", "basic"]


def reset_database(url: str) -> None:
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


@contextmanager
def as_admin(app, reason: str = "bench: setting up and reading back") -> Iterator[None]:
    """An app context on the all-stores path (tenants/rls.py): a benchmark seeds and reads back
    as the database's administrator would, where row-level security would refuse a request."""
    from tenants.rls import all_stores

    with app.app_context(), all_stores(reason):
        yield


def vacuum_analyze(engine) -> None:
    """VACUUM ANALYZE the whole database, as autovacuum would after a bulk load, as the tables'
    owner: the app's connections act as DATABASE_ROLE (row-level security), and PostgreSQL
    skips tables that role doesn't own with nothing but a warning, leaving the planner blind."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("SET ROLE NONE"))
        conn.execute(text("VACUUM ANALYZE"))
        conn.execute(text("RESET ROLE"))
        blind = conn.scalars(
            text(
                "SELECT relname FROM pg_stat_user_tables"
                " WHERE last_analyze IS NULL AND n_live_tup > 0"
            )
        ).all()
    assert not blind, f"tables left without statistics: {blind}"


def seed(app, count: int, slug: str, first_id: int, owner_email: str) -> dict:
    """One store with `count` active products (1-6 variants each), categories and tags."""
    from app.accounts.service import create_user
    from app.catalog.models import Category, Product, ProductCategory, ProductTag, Variant
    from app.extensions import db
    from tenants.provisioning import create_store
    from tenants.rls import all_stores

    rng = random.Random(42)
    with app.app_context(), all_stores("bench: seeding a store's catalog"):
        owner = create_user(owner_email, "bench-password-1", verified=True)
        db.session.flush()
        store = create_store(slug=slug, name=f"Bench Store {count:,}", owner=owner)
        parents = [
            Category(store_id=store.id, name=f"Group {i}", slug=f"group-{i}", position=i)
            for i in range(5)
        ]
        db.session.add_all(parents)
        db.session.flush()
        leaves = [
            Category(
                store_id=store.id,
                name=f"Shelf {i}",
                slug=f"shelf-{i}",
                parent_id=parents[i % 5].id,
                position=i,
            )
            for i in range(20)
        ]
        db.session.add_all(leaves)
        db.session.commit()
        leaf_ids = [c.id for c in leaves]
        store_id = store.id
        batch = 2000
        for start in range(0, count, batch):
            products, variants, tags, links = [], [], [], []
            for n in range(start, min(start + batch, count)):
                words = rng.sample(WORDS, 3)
                title = f"{words[0].title()} {words[1].title()} {words[2].title()} {n}"
                price = rng.randint(500, 30000)
                product_tags = rng.sample(TAGS, 2)
                products.append(
                    {
                        "id": first_id + n,
                        "store_id": store_id,
                        "title": title,
                        "slug": f"product-{n + 1}",
                        "status": "active",
                        "description_md": " ".join(rng.choices(VOCABULARY, k=30)),
                        "description_html": "",
                        "tags_text": " ".join(product_tags),
                        "min_price": price,
                        "max_price": price + 500,
                        "in_stock": n % 9 != 0,
                        "featured": n % 50 == 0,
                        "option1_name": "Size",
                    }
                )
                for v in range(1 + n % 6):
                    variants.append(
                        {
                            "store_id": store_id,
                            "product_id": first_id + n,
                            "sku": f"B-{n + 1}-{v}",
                            "option1": f"S{v}",
                            "price": price + (500 if v else 0),
                            "stock": 0 if n % 9 == 0 else 5,
                            "position": v,
                        }
                    )
                tags += [
                    {"store_id": store_id, "product_id": first_id + n, "tag": t}
                    for t in product_tags
                ]
                links.append(
                    {
                        "store_id": store_id,
                        "product_id": first_id + n,
                        "category_id": leaf_ids[n % len(leaf_ids)],
                    }
                )
            db.session.execute(insert(Product), products)
            db.session.execute(insert(Variant), variants)
            db.session.execute(insert(ProductTag), tags)
            db.session.execute(insert(ProductCategory), links)
            db.session.commit()
        db.session.execute(text("SELECT setval('products_id_seq', (SELECT max(id) FROM products))"))
        db.session.commit()
    return {"slug": slug, "product": f"product-{count // 2}", "category": "shelf-3"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, nargs="+", default=[1000, 100000])
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument(
        "--no-vacuum",
        action="store_true",
        help="skip the VACUUM ANALYZE after seeding (as right after a bulk import)",
    )
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/pasar_bench")
    url = url.replace("postgresql://", "postgresql+psycopg://", 1)

    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db

    pages = {
        "store home": "/",
        "listing": "/products/",
        "filtered listing": "/products/?category={category}&min=20&max=200&in_stock=1"
        "&tag=sale&sort=price-asc",
        "search": "/search?q=cotton+shirt",
        "product page": "/products/{product}",
    }
    # Every size gets a database of its own (a small store's search shouldn't wade through a
    # big one's matches), and the sizes are measured in turns, so a busy moment on the
    # machine slows all sizes alike and the ratios between them stay honest.
    apps, stores = {}, {}
    for count in args.products:
        size_url = make_url(url).set(database=f"{make_url(url).database}_{count}")
        size_url = size_url.render_as_string(hide_password=False)
        reset_database(size_url)
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": size_url,
                "SECRET_KEY": "bench",
                "PLATFORM_DOMAIN": "pasar.bench",
                "REDIS_URL": None,
                "RATELIMIT_ENABLED": False,
            }
        )
        with app.app_context():
            upgrade()
        started = time.perf_counter()
        stores[count] = seed(app, count, "bench", 1, "bench@example.com")
        print(f"seeded {count:,} products in {time.perf_counter() - started:.1f}s", flush=True)
        # What autovacuum does on a live database: statistics, and the visibility map that
        # lets counts and index scans skip the table.
        if not args.no_vacuum:
            with app.app_context():
                vacuum_analyze(db.engine)
        apps[count] = app
    clients = {count: app.test_client() for count, app in apps.items()}
    targets = [
        (count, name, path.format(**info))
        for count, info in stores.items()
        for name, path in pages.items()
    ]
    timings = {(count, name): [] for count, name, _ in targets}
    for round_ in range(args.runs + 3):  # the first 3 rounds warm caches and the pools
        for count, name, path in targets:
            started = time.perf_counter()
            response = clients[count].get(path, headers={"Host": "bench.pasar.bench"})
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, (count, path, response.status_code)
            if round_ >= 3:
                timings[(count, name)].append(elapsed)
    for app in apps.values():
        with app.app_context():
            db.engine.dispose()
    print("\n| products | page | p50 (ms) | p95 (ms) |\n| ---: | --- | ---: | ---: |")
    for (count, name), values in timings.items():
        values.sort()
        p50, p95 = statistics.median(values), values[int(len(values) * 0.95) - 1]
        print(f"| {count:,} | {name} | {p50:.1f} | {p95:.1f} |")
    smallest, largest = min(stores), max(stores)
    print(f"\nratio {largest:,} / {smallest:,} (p50):")
    for name in pages:
        small = statistics.median(timings[(smallest, name)])
        large = statistics.median(timings[(largest, name)])
        print(f"  {name:<17} {large / small:.2f}x")


if __name__ == "__main__":
    main()
