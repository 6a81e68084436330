"""stock holds: held units per variant, the hold rows, and each store's hold time

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06 12:10:00

`variants.held` is the sum of the variant's active holds, kept in the same conditional UPDATE
that takes a hold; `stock_holds` are the rows behind it (store-owned: row-level security like
0021). Checkout settings get the hold time (2 to 60 minutes) and when holding starts.
"""

import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def _rls():
    path = Path(__file__).with_name("0021_row_level_security.py")
    spec = importlib.util.spec_from_file_location("rls_0021", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def upgrade():
    with op.batch_alter_table("variants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("held", sa.Integer(), server_default="0", nullable=False))
        batch_op.create_check_constraint("held_not_negative", "held >= 0")
    with op.batch_alter_table("checkout_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("hold_minutes", sa.Integer(), server_default="10", nullable=False)
        )
        batch_op.add_column(
            sa.Column("hold_on", sa.String(length=16), server_default="checkout", nullable=False)
        )
        batch_op.create_check_constraint("hold_on", "hold_on IN ('checkout', 'cart')")
        batch_op.create_check_constraint("hold_minutes", "hold_minutes BETWEEN 2 AND 60")
    op.create_table(
        "stock_holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("variant_id", sa.Integer(), nullable=False),
        sa.Column("cart_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("extensions", sa.Integer(), server_default="0", nullable=False),
        sa.Column("status", sa.String(length=16), server_default="active", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'released', 'expired', 'converted')",
            name=op.f("ck_stock_holds_status"),
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_stock_holds_quantity_positive")),
        sa.CheckConstraint(
            "extensions BETWEEN 0 AND 2", name=op.f("ck_stock_holds_extensions_range")
        ),
        sa.ForeignKeyConstraint(
            ["cart_id"], ["carts.id"], name=op.f("fk_stock_holds_cart_id_carts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.id"],
            name=op.f("fk_stock_holds_store_id_stores"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["variant_id"],
            ["variants.id"],
            name=op.f("fk_stock_holds_variant_id_variants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_holds")),
    )
    with op.batch_alter_table("stock_holds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stock_holds_cart_id"), ["cart_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_stock_holds_store_id"), ["store_id"], unique=False)
        batch_op.create_index(
            "ix_stock_holds_status_expires_at", ["status", "expires_at"], unique=False
        )
        batch_op.create_index(
            "ix_stock_holds_variant_id_status_expires_at",
            ["variant_id", "status", "expires_at"],
            unique=False,
        )
        batch_op.create_index(
            "uq_stock_holds_cart_id_variant_id_active",
            ["cart_id", "variant_id"],
            unique=True,
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        )
    if op.get_bind().dialect.name == "postgresql":
        _rls().enable_store_policy("stock_holds")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        _rls().disable_store_policy("stock_holds")
    op.drop_table("stock_holds")
    with op.batch_alter_table("checkout_settings", schema=None) as batch_op:
        batch_op.drop_constraint("hold_minutes", type_="check")
        batch_op.drop_constraint("hold_on", type_="check")
        batch_op.drop_column("hold_on")
        batch_op.drop_column("hold_minutes")
    with op.batch_alter_table("variants", schema=None) as batch_op:
        batch_op.drop_constraint("held_not_negative", type_="check")
        batch_op.drop_column("held")
