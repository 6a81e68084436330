"""Store-scoped reads: every query for store-owned rows goes through these."""

from typing import TypeVar

from flask import abort
from sqlalchemy import Select, select

from app.extensions import db
from tenants.context import current_store
from tenants.models import Store

M = TypeVar("M")
MAX_ID = 2**31 - 1  # primary keys are 32-bit integers; larger ids can't exist


def scoped_select(model: type[M], store: Store | None = None) -> Select:
    """`SELECT model WHERE store_id = <current store>`; add filters and ordering to it."""
    store = store or current_store()
    return select(model).where(model.store_id == store.id)


def get_for_store(model: type[M], obj_id, store: Store | None = None) -> M | None:
    """The row with this id if it belongs to the store, else None."""
    try:
        obj_id = int(obj_id)
    except (TypeError, ValueError):
        return None
    if not 1 <= obj_id <= MAX_ID:
        return None
    return db.session.scalar(scoped_select(model, store).where(model.id == obj_id))


def get_for_store_or_404(model: type[M], obj_id, store: Store | None = None) -> M:
    """The row with this id in the current store, or 404 (also for other stores' rows)."""
    obj = get_for_store(model, obj_id, store)
    if obj is None:
        abort(404)
    return obj
