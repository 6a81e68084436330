"""What each audit action reads as ("product.updated" → "Product updated"), in one mapping for
the dashboard's and the console's audit logs, and which entries are creation noise."""

from sqlalchemy import and_, not_

from app.audit.models import AuditLog

ACTIONS = {
    "2fa.disabled": "Two-factor sign-in turned off",
    "2fa.passkey_added": "Passkey added",
    "2fa.passkey_removed": "Passkey removed",
    "2fa.recovery_code_used": "Recovery code used",
    "2fa.recovery_codes_regenerated": "Recovery codes renewed",
    "2fa.reset": "Two-factor sign-in reset",
    "2fa.totp_enabled": "Authenticator app added",
    "2fa.totp_removed": "Authenticator app removed",
    "account.registered": "Account registered",
    "api.write": "Change through the API",
    "api_key.created": "API key created",
    "api_key.revoked": "API key revoked",
    "account.verified": "Email address verified",
    "checkout.settings_changed": "Checkout settings changed",
    "email.changed": "Email address changed",
    "email.resent": "Email sent again",
    "email.retried": "Email retried",
    "export.orders": "Orders exported",
    "export.products": "Products exported",
    "job.delete": "Job deleted",
    "job.retry": "Job retried",
    "password.changed": "Password changed",
    "password.reset": "Password reset",
    "payment.failed": "Payment failed",
    "payment.succeeded": "Payment received",
    "payout.marked_paid": "Payout marked paid",
    "product.created": "Product created",
    "product.deleted": "Product deleted",
    "product.updated": "Product updated",
    "reauth.failed": "Identity check failed",
    "refund.created": "Refund started",
    "refund.succeeded": "Refund completed",
    "role.changed": "Role changed",
    "signin": "Signed in",
    "signin.failed": "Sign-in failed",
    "signout.everywhere": "Signed out everywhere",
    "signout.session": "Signed out a session",
    "staff.invite_revoked": "Invitation revoked",
    "staff.invited": "Staff member invited",
    "staff.joined": "Staff member joined",
    "staff.removed": "Staff member removed",
    "stock.adjusted": "Stock adjusted",
    "stock.reconciled": "Stock reconciled",
    "stock.threshold_changed": "Low-stock threshold changed",
    "stock_sync.apply": "Stock sync started",
    "stock_sync.applied": "Stock sync applied",
    "stock_sync.cancelled": "Stock sync discarded",
    "stock_sync.resumed": "Stock sync resumed",
    "stock_sync.undo": "Stock sync undo started",
    "stock_sync.undone": "Stock sync undone",
    "stock_sync.uploaded": "Stock file uploaded",
    "store.commission_changed": "Commission changed",
    "store.created": "Store created",
    "store.custom_domain_set": "Custom domain set",
    "store.custom_domain_verified": "Custom domain verified",
    "store.deleted": "Store deleted",
    "store.logo_changed": "Logo changed",
    "store.ownership_transferred": "Ownership transferred",
    "store.published": "Store published",
    "store.reactivated": "Store reactivated",
    "store.settings_changed": "Store settings changed",
    "store.suspended": "Store suspended",
    "store.test_payments_allowed": "Test payments allowed",
    "store.test_payments_disallowed": "Test payments no longer allowed",
    "store.two_factor_optional": "Two-factor sign-in made optional",
    "store.two_factor_required": "Two-factor sign-in required",
    "user.disabled": "Account disabled",
    "user.enabled": "Account enabled",
    "user.verification_resent": "Verification code sent again",
    "variant.created": "Variant created",
    "variant.deleted": "Variant deleted",
    "variant.updated": "Variant updated",
    "webhook.endpoint_changed": "Webhook endpoint changed",
    "webhook.endpoint_created": "Webhook endpoint added",
    "webhook.endpoint_deleted": "Webhook endpoint deleted",
    "webhook.endpoint_disabled": "Webhook endpoint switched off",
    "webhook.endpoint_enabled": "Webhook endpoint switched on",
    "webhook.secret_rotated": "Webhook signing secret renewed",
}
# Field names in an entry's changes, where the column's name doesn't read well.
FIELDS = {
    "compare_at_price": "Compare-at price",
    "description_md": "Description",
    "seo_description": "SEO description",
    "seo_title": "SEO title",
    "shipping_flat": "Flat shipping rate",
    "shipping_free_over": "Free shipping over",
    "tags_text": "Tags",
    "track_inventory": "Track stock",
    "weight_grams": "Weight (g)",
    "option1": "Option 1",
    "option2": "Option 2",
    "option3": "Option 3",
    "sku": "SKU",
}
# Entries written when a catalogue is made by Pasar rather than by a person (the demo seed, a
# job): one per product and per variant, which would bury what people did.
CREATION_NOISE = ("product.created", "variant.created")


def action_label(action: str) -> str:
    """The readable name of an action; one not in the mapping still reads as words."""
    if action in ACTIONS:
        return ACTIONS[action]
    words = action.replace(".", " ").replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def field_label(field: str) -> str:
    """The readable name of a changed field ("tags_text" → "Tags")."""
    if field in FIELDS:
        return FIELDS[field]
    words = field.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def not_noise():
    """A condition leaving out catalogue creations that no person made."""
    return not_(and_(AuditLog.action.in_(CREATION_NOISE), AuditLog.actor_id.is_(None)))
