"""A store's logo: an uploaded picture made into a small WebP for the header (Pillow)."""

import io
import secrets
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from app.catalog.images import sniff_image_type, without_metadata
from app.storage import get_storage

MAX_LOGO_BYTES = 2 * 1024 * 1024
MAX_PIXELS = 20_000_000  # far above any logo; Pillow refuses decompression bombs above it
BOX = (400, 160)


class LogoRefused(ValueError):
    """The upload can't be a logo; the message says why."""


def make_logo(data: bytes) -> bytes:
    """The upload as a WebP at most 400 x 160 (transparency kept); LogoRefused if it isn't one."""
    if not data:
        raise LogoRefused("Choose a picture to upload.")
    if len(data) > MAX_LOGO_BYTES:
        raise LogoRefused("A logo can be at most 2 MB.")
    if sniff_image_type(data) is None:
        raise LogoRefused("Upload a PNG, JPEG or WebP picture (SVG isn't accepted).")
    previous = Image.MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            Image.MAX_IMAGE_PIXELS = MAX_PIXELS
            picture = Image.open(io.BytesIO(data))
            picture.load()
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
        ValueError,
    ):
        raise LogoRefused("That file isn't a picture Pasar can read.") from None
    finally:
        Image.MAX_IMAGE_PIXELS = previous
    picture = ImageOps.exif_transpose(picture)
    if picture.mode not in ("RGB", "RGBA"):
        picture = picture.convert("RGBA" if "A" in picture.getbands() else "RGB")
    picture = without_metadata(picture)
    picture.thumbnail(BOX, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    picture.save(out, "WEBP", quality=90, method=4)
    return out.getvalue()


def save_logo(store_id: int, data: bytes) -> str:
    """Store the made logo under a new key (so caches never show the old one); returns it."""
    key = f"{store_id}/logo-{secrets.token_hex(8)}.webp"
    get_storage().save(key, make_logo(data))
    return key


def logo_url(store) -> str | None:
    return get_storage().url(store.logo_key) if store.logo_key else None
