"""Writing the audit trail."""

from flask import g, has_request_context, request

from app.audit.models import AuditLog
from app.extensions import db


def record(action: str, *, actor=None, store=None, target=None, **details) -> AuditLog:
    """Add an audit entry to the session; the caller's commit writes it with the change.

    A change made through the vendor API names the API key that made it (`api_key`).
    """
    if has_request_context() and g.get("api_key") is not None:
        details.setdefault("api_key", g.api_key.name)
    entry = AuditLog(
        action=action,
        actor_id=getattr(actor, "id", None),
        store_id=getattr(store, "id", None),
        target_type=type(target).__name__ if target is not None else None,
        target_id=str(target.id) if target is not None else None,
        ip=request.remote_addr if has_request_context() else None,
        details=details,
    )
    db.session.add(entry)
    return entry
