"""What each event's `data` holds: small, stable shapes built from the rows that changed.

Amounts are integers in minor units with their ISO currency, as everywhere in Pasar.
"""


def _iso(moment) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def order_data(order) -> dict:
    """An order's identity, status and totals."""
    return {
        "id": order.id,
        "number": order.number,
        "status": order.status,
        "email": order.email,
        "currency": order.currency,
        "subtotal": order.subtotal,
        "discount": order.discount,
        "shipping": order.shipping,
        "tax": order.tax,
        "total": order.total,
        "placed_at": _iso(order.placed_at),
        "paid_at": _iso(order.paid_at),
    }


def product_data(product) -> dict:
    """A product's identity and the fields a feed shows."""
    return {
        "id": product.id,
        "title": product.title,
        "slug": product.slug,
        "status": product.status,
        "updated_at": _iso(product.updated_at),
    }
