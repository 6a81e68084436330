"""Every model, imported in one place so the metadata (and Alembic) sees every table."""

from app.accounts.models import Membership, User
from app.audit.models import AuditLog
from app.notifications.models import EmailMessage
from tenants.models import Store

__all__ = ["AuditLog", "EmailMessage", "Membership", "Store", "User"]
