"""Many products at once, for tests and benchmarks that need thousands of SKUs quickly."""

from sqlalchemy import insert

from app.catalog.models import Product, Variant
from app.extensions import db
from app.inventory.models import StockMovement


def bulk_variants(store_id: int, count: int, *, stock: int = 1, prefix: str = "S-") -> None:
    """`count` active one-variant products (SKUs prefix0..), each with its opening movement.

    Needs an app context; commits every 2,000 products.
    """
    for start in range(0, count, 2000):
        numbers = range(start, min(start + 2000, count))
        product_ids = db.session.scalars(
            insert(Product).returning(Product.id, sort_by_parameter_order=True),
            [
                {
                    "store_id": store_id,
                    "title": f"Item {n}",
                    "slug": f"item-{n}",
                    "status": "active",
                    "min_price": 1000,
                    "max_price": 1000,
                    "in_stock": stock > 0,
                }
                for n in numbers
            ],
        ).all()
        variant_ids = db.session.scalars(
            insert(Variant).returning(Variant.id, sort_by_parameter_order=True),
            [
                {
                    "store_id": store_id,
                    "product_id": product_id,
                    "sku": f"{prefix}{n}",
                    "price": 1000,
                    "stock": stock,
                }
                for n, product_id in zip(numbers, product_ids, strict=True)
            ],
        ).all()
        if stock:
            db.session.execute(
                insert(StockMovement),
                [
                    {
                        "store_id": store_id,
                        "variant_id": variant_id,
                        "kind": "receive",
                        "quantity": stock,
                        "stock_after": stock,
                        "reason": "Opening stock",
                    }
                    for variant_id in variant_ids
                ],
            )
        db.session.commit()
