"""row-level security: the pasar_app role and a store policy on every store-owned table

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 09:10:00

PostgreSQL only (SQLite has no roles or policies: a no-op there). The app runs as the NOLOGIN
group role `pasar_app` (through `DATABASE_ROLE`, or a login role that is a member of it), which
does not own the tables; each store-owned table gets FORCE ROW LEVEL SECURITY and one policy:
a row is visible and writable when its store is the transaction's `app.store_id`, or when the
transaction took the explicit all-stores path (`app.all_stores = 'on'`, tenants/rls.py). In the
three tables whose store_id may be NULL (audit_logs, email_messages, webhook_events) a NULL row
belongs to the platform, not to a store, and every transaction may see it: a sign-in on a
store's host writes one, and INSERT ... RETURNING must read back what it wrote. No store's
transaction ever sees another store's rows. A migration that
adds a store-owned table must call `enable_store_policy` for it (tests/services/test_rls.py
fails otherwise).
"""

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

ROLE = "pasar_app"
POLICY = "store_isolation"
STORE_OWNED = (
    "cart_items",
    "carts",
    "categories",
    "checkout_settings",
    "commission_entries",
    "coupon_redemptions",
    "coupons",
    "gateway_deliveries",
    "import_rows",
    "import_runs",
    "memberships",
    "order_counters",
    "order_events",
    "order_lines",
    "orders",
    "payments",
    "payouts",
    "product_categories",
    "product_faqs",
    "product_images",
    "product_slug_redirects",
    "product_tags",
    "products",
    "stock_movements",
    "store_invites",
    "variants",
)
# store_id is nullable: a NULL row belongs to the platform, not to a store.
PLATFORM_OR_STORE = ("audit_logs", "email_messages", "webhook_events")

# nullif: once a transaction-local setting ends, the session keeps it as '' (not NULL).
CURRENT_STORE = "nullif(current_setting('app.store_id', true), '')::int"
ALL_STORES = "coalesce(current_setting('app.all_stores', true), '') = 'on'"


def enable_store_policy(table: str, nullable: bool = False) -> None:
    """FORCE row-level security on `table` with the store policy (PostgreSQL only)."""
    rule = f"{ALL_STORES} OR store_id = {CURRENT_STORE}"
    if nullable:
        rule += " OR store_id IS NULL"
    op.execute(f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY')
    op.execute(f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY')
    op.execute(f'CREATE POLICY {POLICY} ON "{table}" USING ({rule}) WITH CHECK ({rule})')


def disable_store_policy(table: str) -> None:
    op.execute(f'DROP POLICY IF EXISTS {POLICY} ON "{table}"')
    op.execute(f'ALTER TABLE "{table}" NO FORCE ROW LEVEL SECURITY')
    op.execute(f'ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY')


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    # Roles belong to the cluster, not the database: another database (or a test worker
    # migrating at the same moment) may have made it already.
    op.execute(
        f"""
        DO $$ BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') THEN
                CREATE ROLE {ROLE} NOLOGIN;
            END IF;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END $$
        """
    )
    op.execute(f"GRANT USAGE ON SCHEMA public TO {ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {ROLE}")
    op.execute(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {ROLE}")
    # Tables and sequences that later migrations (run by this same owner) create.
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public"
        f" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {ROLE}"
    )
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public"
        f" GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {ROLE}"
    )
    # The migrations' own bookkeeping is the owner's alone.
    op.execute(f"REVOKE ALL ON alembic_version FROM {ROLE}")
    for table in STORE_OWNED:
        enable_store_policy(table)
    for table in PLATFORM_OR_STORE:
        enable_store_policy(table, nullable=True)


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in STORE_OWNED + PLATFORM_OR_STORE:
        disable_store_policy(table)
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public"
        f" REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM {ROLE}"
    )
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public"
        f" REVOKE USAGE, SELECT, UPDATE ON SEQUENCES FROM {ROLE}"
    )
    op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {ROLE}")
    op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {ROLE}")
    op.execute(f"REVOKE ALL ON SCHEMA public FROM {ROLE}")
    # The role stays while another database on the cluster still grants it something.
    op.execute(
        f"""
        DO $$ BEGIN
            DROP ROLE IF EXISTS {ROLE};
        EXCEPTION WHEN dependent_objects_still_exist THEN NULL;
        END $$
        """
    )
