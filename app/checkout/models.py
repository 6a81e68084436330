"""Each store's checkout settings: shipping, tax and the payment provider with its keys."""

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.orders.pricing import ShippingRate, TaxRule

PROVIDERS = ("test", "stripe", "midtrans")
HOLD_ON = ("checkout", "cart")  # when a cart's units are held: starting checkout, or adding
HOLD_MINUTES_DEFAULT, HOLD_MINUTES_MIN, HOLD_MINUTES_MAX = 10, 2, 60


class CheckoutSettings(db.Model):
    """One row per store; secrets are stored encrypted (see app/checkout/secrets.py)."""

    __tablename__ = "checkout_settings"
    __table_args__ = (
        CheckConstraint(f"payment_provider IN {PROVIDERS!r}", name="provider"),
        CheckConstraint("tax_basis_points BETWEEN 0 AND 10000", name="tax_range"),
        CheckConstraint("shipping_flat >= 0", name="shipping_not_negative"),
        CheckConstraint(f"hold_on IN {HOLD_ON!r}", name="hold_on"),
        CheckConstraint(
            f"hold_minutes BETWEEN {HOLD_MINUTES_MIN} AND {HOLD_MINUTES_MAX}", name="hold_minutes"
        ),
    )

    store_id: Mapped[int] = mapped_column(
        ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True
    )
    shipping_flat: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    shipping_free_over: Mapped[int | None] = mapped_column(Integer)
    tax_basis_points: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    tax_inclusive: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    payment_provider: Mapped[str] = mapped_column(String(16), default="test", server_default="test")
    stripe_secret_key: Mapped[str | None] = mapped_column(Text)  # encrypted
    stripe_webhook_secret: Mapped[str | None] = mapped_column(Text)  # encrypted
    midtrans_server_key: Mapped[str | None] = mapped_column(Text)  # encrypted
    midtrans_client_key: Mapped[str | None] = mapped_column(String(120))
    midtrans_production: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    hold_minutes: Mapped[int] = mapped_column(
        Integer, default=HOLD_MINUTES_DEFAULT, server_default=str(HOLD_MINUTES_DEFAULT)
    )
    hold_on: Mapped[str] = mapped_column(String(16), default="checkout", server_default="checkout")

    @property
    def shipping_rate(self) -> ShippingRate:
        return ShippingRate(flat=self.shipping_flat, free_over=self.shipping_free_over)

    @property
    def tax_rule(self) -> TaxRule:
        return TaxRule(rate_basis_points=self.tax_basis_points, inclusive=self.tax_inclusive)
