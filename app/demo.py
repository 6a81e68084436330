"""Demo data: a few stores with owners, a platform admin and a shopper."""

from sqlalchemy import select

from app.accounts.models import Membership, User
from app.accounts.service import create_user, find_user_by_email
from app.checkout.models import CheckoutSettings
from app.database import CATALOG_TABLES, analyze
from app.extensions import db
from tenants.models import Store
from tenants.provisioning import create_store

DEMO_PASSWORD = "pasar-demo-2026"  # noqa: S105  (demo data only)
# A known API key of the demo store acme (every scope), so the README's curl works as printed.
# Only the demo seed makes it; a real store's keys are random and shown once.
DEMO_API_STORE = "acme"
DEMO_API_KEY = "pk_demo_acme_0123456789abcdefghijklmnopqrstuv"

DEMO_STORES = [
    {
        "slug": "acme",
        "name": "Acme Outfitters",
        "currency": "USD",
        "locale": "en_US",
        "timezone": "America/New_York",
        "accent_color": "#c2410c",
        "owner": "owner@acme.example.com",
        "checkout": {"shipping_flat": 700, "shipping_free_over": 10000},
    },
    {
        "slug": "batik",
        "name": "Batik Nusantara",
        "currency": "IDR",
        "locale": "id_ID",
        "timezone": "Asia/Jakarta",
        "accent_color": "#7c3aed",
        "owner": "owner@batik.example.com",
        "checkout": {
            "shipping_flat": 2000000,
            "shipping_free_over": 50000000,
            "tax_basis_points": 1100,
            "tax_inclusive": True,
        },
    },
    {
        "slug": "kaffee",
        "name": "Kaffeerösterei Berlin",
        "currency": "EUR",
        "locale": "de_DE",
        "timezone": "Europe/Berlin",
        "accent_color": "#0f766e",
        "owner": "owner@kaffee.example.com",
        "checkout": {"shipping_flat": 490, "tax_basis_points": 1900, "tax_inclusive": True},
    },
]

DEMO_USERS = [
    {"email": "admin@example.com", "name": "Platform Admin", "is_superuser": True},
    {"email": "shopper@example.com", "name": "Sam Shopper", "is_superuser": False},
]


def _ensure_user(email: str, name: str, is_superuser: bool = False) -> User:
    user = find_user_by_email(email)
    if user is None:
        user = create_user(
            email, DEMO_PASSWORD, name=name, is_superuser=is_superuser, verified=True
        )
        db.session.flush()
    return user


def seed_demo(
    products: int = 200, images: bool = True, progress=lambda message: None, orders: int = 45
) -> list[tuple[str, str, str]]:
    """Create whatever demo rows are missing (safe to run again); returns (role, email, where).

    Each store is filled up to `products` products with variants, categories and pictures, and
    a store without orders gets `orders` over the last 30 days.
    """
    from tenants.rls import all_stores

    with all_stores("demo seed: stores, catalogs and orders"):
        return _seed_demo(products, images, progress, orders)


def _seed_demo(products: int, images: bool, progress, orders: int) -> list[tuple[str, str, str]]:
    from app.catalog.demo import seed_store_catalog
    from app.orders.demo import seed_store_orders
    from app.payments.test_mode import set_test_payments

    logins = []
    for spec in DEMO_USERS:
        _ensure_user(spec["email"], spec["name"], spec["is_superuser"])
        logins.append(
            ("superuser" if spec["is_superuser"] else "shopper", spec["email"], "platform")
        )
    for spec in DEMO_STORES:
        owner = _ensure_user(spec["owner"], f"{spec['name']} Owner")
        store = db.session.scalar(select(Store).where(Store.slug == spec["slug"]))
        if store is None:
            settings = {k: v for k, v in spec.items() if k not in ("owner", "checkout")}
            store = create_store(owner=owner, **settings)
            # The demo sells on the test gateway, in production mode too (a staging server).
            set_test_payments(store, True, reason="demo store made by flask seed-demo")
        elif (
            db.session.scalar(
                select(Membership.id).where(
                    Membership.store_id == store.id, Membership.user_id == owner.id
                )
            )
            is None
        ):
            db.session.add(Membership(store=store, user=owner, role="owner"))
        logins.append(("owner", spec["owner"], spec["slug"]))
        if db.session.get(CheckoutSettings, store.id) is None:
            db.session.add(CheckoutSettings(store_id=store.id, **spec["checkout"]))
        db.session.commit()
        progress(f"Filling {store.name} with up to {products} products...")
        added = seed_store_catalog(store, products, images=images)
        progress(f"  {added} products added.")
        placed = seed_store_orders(store, orders) if orders > 0 else 0
        if placed:
            progress(f"  {placed} demo orders placed over the last 30 days.")
        if spec["slug"] == DEMO_API_STORE and _ensure_demo_api_key(store):
            progress(f"  API key for the demo: {DEMO_API_KEY}")
    db.session.commit()
    analyze(
        db.session,
        *CATALOG_TABLES,
        "stores",
        "users",
        "memberships",
        "orders",
        "order_lines",
        "stock_movements",
    )
    return logins


def _ensure_demo_api_key(store: Store) -> bool:
    """The demo store's known API key (every scope), made once; True if it was made now."""
    from app.api.keys import SCOPES, create_key, hash_key
    from app.api.models import ApiKey

    if db.session.scalar(select(ApiKey.id).where(ApiKey.key_hash == hash_key(DEMO_API_KEY))):
        return False
    create_key(store, "Demo key (README)", SCOPES, secret=DEMO_API_KEY)
    db.session.commit()
    return True
