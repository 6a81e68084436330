"""low stock thresholds: a per-variant threshold and the flag that makes its alert once per dip

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('variants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('low_stock_threshold', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('low_stock_alerted', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table('variants', schema=None) as batch_op:
        batch_op.drop_column('low_stock_alerted')
        batch_op.drop_column('low_stock_threshold')
