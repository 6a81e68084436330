"""The catalog: categories, products, their variants, images, FAQ and old slugs."""

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import UTCDateTime, utcnow
from app.extensions import db
from tenants.models import StoreScoped

PRODUCT_STATUSES = ("draft", "active", "archived")
IMAGE_STATUSES = ("processing", "ready", "failed")
MAX_OPTIONS = 3  # like Shopify: up to three option types (size, colour, material)


class Category(StoreScoped, db.Model):
    """A node of the store's category tree."""

    __tablename__ = "categories"
    __table_args__ = (
        UniqueConstraint("store_id", "slug"),
        Index("ix_categories_store_id_parent_id_position", "store_id", "parent_id", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(120))
    slug: Mapped[str] = mapped_column(String(140))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    parent: Mapped["Category | None"] = relationship(remote_side=[id])


class ProductCategory(StoreScoped, db.Model):
    """A product's place in a category (a product can sit in several).

    A model rather than a bare link table so the row carries its store_id like every
    store-owned row. Write through `Product.category_links`; read `Product.categories`.
    """

    __tablename__ = "product_categories"
    __table_args__ = (
        # Store first and product last: a category filter reads the index alone, in
        # product order, and merges with the tag index below.
        Index(
            "ix_product_categories_store_id_category_id_product_id",
            "store_id",
            "category_id",
            "product_id",
        ),
    )

    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    category_id: Mapped[int] = mapped_column(
        ForeignKey("categories.id", ondelete="CASCADE"), primary_key=True
    )


product_categories = ProductCategory.__table__


class Product(StoreScoped, db.Model):
    """Something a store sells; what is bought is one of its variants."""

    __tablename__ = "products"
    __table_args__ = (
        UniqueConstraint("store_id", "slug"),
        CheckConstraint(f"status IN {PRODUCT_STATUSES!r}", name="status"),
        # The storefront lists active products newest first, or by price, per store.
        Index("ix_products_store_id_status_created_at", "store_id", "status", "created_at"),
        Index("ix_products_store_id_status_min_price", "store_id", "status", "min_price"),
        Index("ix_products_store_id_status_featured", "store_id", "status", "featured"),
        # A category or tag filter finds product ids in its own index; this one then checks
        # and sorts them by the listing columns without visiting the table.
        Index(
            "ix_products_id_listing",
            "id",
            "store_id",
            "status",
            "in_stock",
            "min_price",
            "created_at",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(220))
    status: Mapped[str] = mapped_column(String(16), default="draft", server_default="draft")
    # Sanitised HTML rendered from the vendor's markdown; the markdown is kept for editing.
    description_md: Mapped[str] = mapped_column(Text, default="", server_default="")
    description_html: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Space-separated normalised tags, also the text full-text search weighs second.
    tags_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    seo_title: Mapped[str] = mapped_column(String(70), default="", server_default="")
    seo_description: Mapped[str] = mapped_column(String(170), default="", server_default="")
    featured: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    option1_name: Mapped[str | None] = mapped_column(String(40))
    option2_name: Mapped[str | None] = mapped_column(String(40))
    option3_name: Mapped[str | None] = mapped_column(String(40))
    # Kept in step with the variants by catalog.service, so listings filter and sort on one row.
    min_price: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    max_price: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    in_stock: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    variants: Mapped[list["Variant"]] = relationship(
        back_populates="product",
        cascade="all, delete-orphan",
        order_by="Variant.position, Variant.id",
    )
    images: Mapped[list["ProductImage"]] = relationship(
        back_populates="product",
        cascade="all, delete-orphan",
        order_by="ProductImage.position, ProductImage.id",
    )
    faqs: Mapped[list["ProductFAQ"]] = relationship(
        cascade="all, delete-orphan", order_by="ProductFAQ.position, ProductFAQ.id"
    )
    tags: Mapped[list["ProductTag"]] = relationship(cascade="all, delete-orphan")
    category_links: Mapped[list[ProductCategory]] = relationship(cascade="all, delete-orphan")
    # Read-only view of the categories; change them through `category_links`.
    categories: Mapped[list[Category]] = relationship(
        secondary="product_categories", viewonly=True, order_by="Category.position, Category.id"
    )

    @property
    def option_names(self) -> list[str]:
        """The names of the product's options, in order (e.g. ["Size", "Colour"])."""
        return [n for n in (self.option1_name, self.option2_name, self.option3_name) if n]


class ProductTag(StoreScoped, db.Model):
    """One tag of a product, in its own row so that listings can filter by tag with an index."""

    __tablename__ = "product_tags"
    __table_args__ = (
        UniqueConstraint("product_id", "tag"),
        # Covers the tag filter (product_id included), so it never visits the table.
        Index("ix_product_tags_store_id_tag_product_id", "store_id", "tag", "product_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    tag: Mapped[str] = mapped_column(String(40))


class Variant(StoreScoped, db.Model):
    """One buyable combination of a product's options, with its own SKU, price and stock."""

    __tablename__ = "variants"
    __table_args__ = (
        UniqueConstraint("store_id", "sku"),
        # The last line of defence against overselling: stock can never go below zero.
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        # Held units are taken only while `stock - held` covers them (app/inventory/holds.py).
        # No `held <= stock` here: a stock count or sync records what is really on the shelf,
        # even below what carts hold; those holds then simply can't all become sales.
        CheckConstraint("held >= 0", name="held_not_negative"),
        CheckConstraint("price >= 0", name="price_not_negative"),
        CheckConstraint(
            "compare_at_price IS NULL OR compare_at_price > price", name="compare_at_above_price"
        ),
        Index("ix_variants_product_id_position", "product_id", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(String(64))
    option1: Mapped[str | None] = mapped_column(String(60))
    option2: Mapped[str | None] = mapped_column(String(60))
    option3: Mapped[str | None] = mapped_column(String(60))
    price: Mapped[int] = mapped_column(Integer)  # minor units of the store's currency
    compare_at_price: Mapped[int | None] = mapped_column(Integer)
    weight_grams: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    stock: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Units that live stock holds keep for carts in checkout (the sum of the active
    # StockHold rows, maintained in the same conditional UPDATE that takes a hold).
    held: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    track_inventory: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # The store's managers are emailed when stock falls to this or below; None: the default.
    low_stock_threshold: Mapped[int | None] = mapped_column(Integer)
    # Set (conditionally, under the row's lock) by the movement that sent the alert for this
    # dip, cleared when stock is above the threshold again: one email per crossing.
    low_stock_alerted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    product: Mapped[Product] = relationship(back_populates="variants")

    @property
    def options(self) -> list[str]:
        return [o for o in (self.option1, self.option2, self.option3) if o]

    @property
    def title(self) -> str:
        """e.g. "M / Red"; "Default" for a product without options."""
        return " / ".join(self.options) or "Default"

    @property
    def available(self) -> bool:
        return not self.track_inventory or self.units_left > 0

    # Units other shoppers' live holds keep from this shopper; set by
    # app.inventory.holds.available_for before a page shows the variant (0 until then).
    held_by_others = 0

    @property
    def units_left(self) -> int:
        """What one shopper can still buy: on hand minus the others' live holds."""
        return max(0, self.stock - self.held_by_others)

    @property
    def discount_percent(self) -> int | None:
        """The saving against the compare-at price, rounded down to whole percent."""
        if not self.compare_at_price or self.compare_at_price <= self.price:
            return None
        return (self.compare_at_price - self.price) * 100 // self.compare_at_price


class ProductImage(StoreScoped, db.Model):
    """An uploaded product picture; a job re-encodes it and makes the smaller sizes."""

    __tablename__ = "product_images"
    __table_args__ = (
        CheckConstraint(f"status IN {IMAGE_STATUSES!r}", name="status"),
        Index("ix_product_images_product_id_position", "product_id", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    # Random storage prefix: sizes at "<key>/<size>.webp", the upload at "<key>/original".
    key: Mapped[str] = mapped_column(String(64), unique=True)
    alt: Mapped[str] = mapped_column(String(200), default="", server_default="")
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    status: Mapped[str] = mapped_column(
        String(16), default="processing", server_default="processing"
    )
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    product: Mapped[Product] = relationship(back_populates="images")


class ProductFAQ(StoreScoped, db.Model):
    """A question and answer shown on the product page."""

    __tablename__ = "product_faqs"
    __table_args__ = (Index("ix_product_faqs_product_id_position", "product_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    question: Mapped[str] = mapped_column(String(300))
    answer: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ProductSlugRedirect(StoreScoped, db.Model):
    """An old slug of a product, so links made before a rename keep working."""

    __tablename__ = "product_slug_redirects"
    __table_args__ = (UniqueConstraint("store_id", "old_slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    old_slug: Mapped[str] = mapped_column(String(220))
