"""Accepting product image uploads: sniff the content, store the original, queue the processing."""

import secrets

from flask_babel import gettext

from app.catalog.models import ProductImage
from app.catalog.service import CatalogError
from app.extensions import db
from app.storage import get_storage

MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_IMAGES_PER_PRODUCT = 20
SIZES = {"thumb": 320, "medium": 800, "large": 1600}


def without_metadata(picture):
    """The picture with no EXIF (GPS above all), XMP, IPTC or comments left to write out."""
    # Pillow writes what `info` holds in some formats and versions; nothing of it is wanted.
    picture.info = {}
    return picture


def sniff_image_type(data: bytes) -> str | None:
    """ "jpeg", "png" or "webp" from the file's first bytes (never from its name), else None."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def add_image(product, data: bytes, *, alt: str = "", process_now: bool = False) -> ProductImage:
    """Store an uploaded image for `product` and queue its processing; CatalogError if refused.

    `process_now` runs the processing here instead (CLI seeding, where nobody waits on a page).
    """
    from app.background import enqueue_after_commit
    from app.catalog.image_processing import process_image

    if len(data) > MAX_IMAGE_BYTES:
        raise CatalogError(
            "image", gettext("Images can be at most %(mb)s MB.", mb=MAX_IMAGE_BYTES // 2**20)
        )
    if sniff_image_type(data) is None:
        raise CatalogError("image", gettext("Upload a JPEG, PNG or WebP image."))
    if len(product.images) >= MAX_IMAGES_PER_PRODUCT:
        raise CatalogError(
            "image",
            gettext("A product can have at most %(max)s images.", max=MAX_IMAGES_PER_PRODUCT),
        )
    key = f"{product.store_id}/{secrets.token_hex(16)}"
    get_storage().save(f"{key}/original", data)
    image = ProductImage(
        store_id=product.store_id,
        product_id=product.id,
        key=key,
        alt=(alt or "").strip()[:200],
        position=len(product.images),
    )
    db.session.add(image)
    db.session.commit()
    if process_now:
        process_image(image.id)
    else:
        # If Redis can't take it, the image shows as stuck in the job centre, which re-queues it.
        enqueue_after_commit("jobs.images.process_product_image", image.id, queue="default")
    return image


def image_url(image: ProductImage, size: str = "medium") -> str | None:
    """The URL of a processed size, or None while it is still processing (or failed)."""
    if image.status != "ready":
        return None
    return get_storage().url(f"{image.key}/{size}.webp")
