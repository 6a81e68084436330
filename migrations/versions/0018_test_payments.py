"""test payments: stores a platform admin lets use the test gateway in production; test orders

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 03:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    # recreate='never': on SQLite a batch would rebuild these tables for the expression
    # default, and dropping the old `stores` (foreign keys on) would cascade-delete every
    # store's orders and payments. A plain ADD COLUMN with a constant default is enough.
    with op.batch_alter_table('stores', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('test_payments_allowed', sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table('orders', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('is_test', sa.Boolean(), server_default=sa.false(), nullable=False))

    # Orders already paid through the test gateway were never real sales: mark them, so GMV,
    # sales and payout reports leave them out from now on (their ledger rows stay, unused).
    op.execute(
        sa.text(
            "UPDATE orders SET is_test = :yes WHERE id IN "
            "(SELECT order_id FROM payments WHERE provider = 'test' AND kind = 'charge')"
        ).bindparams(yes=True)
    )


def downgrade():
    # Not rebuilt on SQLite either (3.35+ drops a column in place), for the same reason.
    with op.batch_alter_table('orders', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('is_test')

    with op.batch_alter_table('stores', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('test_payments_allowed')
