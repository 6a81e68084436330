"""listing filter indexes: category, tag and listing columns answered from indexes alone

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        'ix_products_id_listing',
        'products',
        ['id', 'store_id', 'status', 'in_stock', 'min_price', 'created_at'],
    )
    op.drop_index('ix_product_categories_category_id_product_id', table_name='product_categories')
    op.create_index(
        'ix_product_categories_store_id_category_id_product_id',
        'product_categories',
        ['store_id', 'category_id', 'product_id'],
    )
    op.drop_index('ix_product_tags_store_id_tag', table_name='product_tags')
    op.create_index(
        'ix_product_tags_store_id_tag_product_id', 'product_tags', ['store_id', 'tag', 'product_id']
    )


def downgrade():
    op.drop_index('ix_products_id_listing', table_name='products')
    op.drop_index('ix_product_tags_store_id_tag_product_id', table_name='product_tags')
    op.create_index('ix_product_tags_store_id_tag', 'product_tags', ['store_id', 'tag'])
    op.drop_index(
        'ix_product_categories_store_id_category_id_product_id', table_name='product_categories'
    )
    op.create_index(
        'ix_product_categories_category_id_product_id',
        'product_categories',
        ['category_id', 'product_id'],
    )
