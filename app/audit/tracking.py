"""Catalog edits in the audit log, with before and after, whatever code path made them.

A `before_flush` listener looks at the products and variants the flush will write: new ones are
recorded as created, deleted ones as deleted, and changed ones with each tracked field's value
before and after. Stock is not here: every stock change is a movement in the ledger, and the
dashboard's adjustments and syncs have their own entries. Bulk SQL updates (a stock sync's
batches) don't pass through the ORM, and are audited by the run.
"""

from flask import g, has_request_context, request
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from app.audit.models import AuditLog

PRODUCT_FIELDS = (
    "title",
    "slug",
    "status",
    "featured",
    "tags_text",
    "seo_title",
    "seo_description",
    "description_md",
)
VARIANT_FIELDS = (
    "sku",
    "price",
    "compare_at_price",
    "track_inventory",
    "weight_grams",
    "option1",
    "option2",
    "option3",
)
LONG_TEXT = 200  # characters of a long field kept in an entry


def _tracked():
    from app.catalog.models import Product, Variant

    return {Product: ("product", PRODUCT_FIELDS), Variant: ("variant", VARIANT_FIELDS)}


def _actor_and_ip():
    if not has_request_context():
        return None, None
    # The user Flask-Login already loaded for this request (never a query mid-flush).
    user = g.get("_login_user")
    return getattr(user, "id", None), request.remote_addr


def _short(value):
    if isinstance(value, str) and len(value) > LONG_TEXT:
        return value[:LONG_TEXT] + "…"
    return value


def _label(obj) -> dict:
    if hasattr(obj, "sku"):
        return {"sku": obj.sku}
    return {"title": _short(obj.title)}


@event.listens_for(Session, "before_flush")
def _audit_catalog(session: Session, flush_context, instances) -> None:
    tracked = _tracked()
    actor_id, ip = None, None
    entries = []
    for state, objects in (("created", session.new), ("deleted", session.deleted)):
        for obj in objects:
            kind = tracked.get(type(obj))
            if kind is None:
                continue
            entries.append((obj, f"{kind[0]}.{state}", _label(obj)))
    for obj in session.dirty:
        kind = tracked.get(type(obj))
        if kind is None or not session.is_modified(obj, include_collections=False):
            continue
        attrs = inspect(obj).attrs
        changes = {}
        for field in kind[1]:
            history = attrs[field].history
            if not history.has_changes():
                continue
            before = history.deleted[0] if history.deleted else None
            after = history.added[0] if history.added else None
            if before != after:
                changes[field] = [_short(before), _short(after)]
        if changes:
            entries.append((obj, f"{kind[0]}.updated", {**_label(obj), "changes": changes}))
    if not entries:
        return
    actor_id, ip = _actor_and_ip()
    for obj, action, details in entries:
        session.add(
            AuditLog(
                action=action,
                actor_id=actor_id,
                store_id=obj.store_id,
                target_type=type(obj).__name__,
                target_id=str(obj.id) if obj.id is not None else None,
                ip=ip,
                details=details,
            )
        )
