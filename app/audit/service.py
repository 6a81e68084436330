"""Writing the audit trail."""

from flask import has_request_context, request

from app.audit.models import AuditLog
from app.extensions import db


def record(action: str, *, actor=None, store=None, target=None, **details) -> AuditLog:
    """Add an audit entry to the session; the caller's commit writes it with the change."""
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
