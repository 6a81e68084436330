"""Every model, imported in one place so the metadata (and Alembic) sees every table."""

from app.accounts.factor_models import Passkey, RecoveryCode, TotpFactor
from app.accounts.models import Membership, StoreInvite, User
from app.addresses.models import Address
from app.api.models import ApiIdempotencyKey, ApiKey
from app.audit.models import AuditLog
from app.cart.models import Cart, CartItem
from app.catalog.models import (
    Category,
    Product,
    ProductCategory,
    ProductFAQ,
    ProductImage,
    ProductSlugRedirect,
    ProductTag,
    Variant,
)
from app.checkout.models import CheckoutSettings
from app.inventory.models import StockHold, StockMovement
from app.notifications.models import EmailMessage
from app.orders.models import (
    Coupon,
    CouponRedemption,
    Order,
    OrderCounter,
    OrderEvent,
    OrderLine,
)
from app.payments.models import Payment, WebhookEvent
from app.payouts.models import CommissionEntry, Payout
from app.stocksync.models import ImportRow, ImportRun
from app.webhooks.models import OutboundEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tenants.models import Store

__all__ = [
    "Address",
    "ApiIdempotencyKey",
    "ApiKey",
    "AuditLog",
    "Cart",
    "CartItem",
    "Category",
    "CheckoutSettings",
    "CommissionEntry",
    "Coupon",
    "CouponRedemption",
    "EmailMessage",
    "ImportRow",
    "ImportRun",
    "Membership",
    "Order",
    "OrderCounter",
    "OrderEvent",
    "OrderLine",
    "OutboundEvent",
    "Passkey",
    "Payment",
    "Payout",
    "Product",
    "ProductCategory",
    "ProductFAQ",
    "ProductImage",
    "ProductSlugRedirect",
    "ProductTag",
    "RecoveryCode",
    "StockHold",
    "StockMovement",
    "Store",
    "StoreInvite",
    "TotpFactor",
    "User",
    "Variant",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
]
