"""The image job: make an uploaded product image's sizes (see app.catalog.image_processing)."""

from app.catalog.image_processing import process_image


def process_product_image(image_id: int) -> str:
    """Make the WebP sizes of one image; safe to run twice. Returns the image's status."""
    return process_image(image_id)
