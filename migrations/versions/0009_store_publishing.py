"""store publishing: stores opened by vendors stay unpublished until their owner publishes

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.add_column(sa.Column('published_at', sa.DateTime(timezone=True), nullable=True))
    # Every store that existed before publishing did was open to shoppers: keep it so.
    op.execute("UPDATE stores SET published_at = created_at")


def downgrade():
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.drop_column('published_at')
