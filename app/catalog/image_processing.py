"""Processing an uploaded product image: re-encode it and make its sizes (Pillow).

The job `jobs.images.process_product_image` runs `process_image` in the background.

Nothing it writes keeps the upload's metadata: the sizes are made from decoded pixels, and the
stored original is replaced by a clean copy (rotation applied), so a photo's GPS position
isn't kept anywhere once the image is ready.
"""

import io
import logging
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from app.catalog.images import SIZES, without_metadata
from app.catalog.models import ProductImage
from app.extensions import db
from app.live import jobs_changed
from app.storage import get_storage

log = logging.getLogger(__name__)

# Bigger than any real product photo; Pillow refuses decompression bombs above it.
MAX_PIXELS = 50_000_000


def process_image(image_id: int) -> str:
    """Make the WebP sizes of one image; safe to run twice. Returns the image's status."""
    image = db.session.get(ProductImage, image_id)
    if image is None or image.status == "ready":
        return "missing" if image is None else image.status
    storage = get_storage()
    original = storage.read(f"{image.key}/original")
    try:
        picture, source_format = _open(original)
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
        ValueError,
    ) as exc:
        # A bad file won't get better on a retry: record why, and stop.
        image.status = "failed"
        jobs_changed(image.store_id)
        image.error = f"{type(exc).__name__}: {exc}"[:500]
        db.session.commit()
        log.warning("image %s refused: %s", image_id, image.error)
        return image.status
    encoded: dict[tuple[int, int], bytes] = {}  # below an edge, a size is the picture itself
    for name, edge in SIZES.items():
        copy = picture.copy()
        copy.thumbnail((edge, edge), Image.Resampling.LANCZOS)
        if copy.size not in encoded:  # the same pixels as a smaller edge's: encoded once
            buffer = io.BytesIO()
            copy.save(buffer, "WEBP", quality=82, method=4)
            encoded[copy.size] = buffer.getvalue()
        storage.save(f"{image.key}/{name}.webp", encoded[copy.size])
    storage.save(f"{image.key}/original", _clean_original(picture, source_format))
    image.width, image.height = picture.size
    image.status = "ready"
    jobs_changed(image.store_id)
    image.error = None
    db.session.commit()
    return image.status


def scrub_original(image: ProductImage) -> bool:
    """Replace a ready image's stored original with a clean copy; False if there was none.

    For images processed before originals were cleaned (`flask scrub-originals`).
    """
    storage = get_storage()
    key = f"{image.key}/original"
    if image.status != "ready" or not storage.exists(key):
        return False
    picture, source_format = _open(storage.read(key))
    storage.save(key, _clean_original(picture, source_format))
    return True


def _clean_original(picture: Image.Image, source_format: str) -> bytes:
    """The original re-encoded in its own format at high quality, with no metadata."""
    buffer = io.BytesIO()
    if source_format == "JPEG" and picture.mode == "RGB":
        picture.save(buffer, "JPEG", quality=95)
    elif source_format == "WEBP":
        picture.save(buffer, "WEBP", quality=95, method=4)
    else:
        picture.save(buffer, "PNG", optimize=False)
    return buffer.getvalue()


def _open(data: bytes) -> tuple[Image.Image, str]:
    """The decoded picture (rotated upright, RGB or RGBA, no metadata) and its file format."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        previous = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = MAX_PIXELS
        try:
            picture = Image.open(io.BytesIO(data))
            if picture.format not in ("JPEG", "PNG", "WEBP"):
                raise ValueError(f"unsupported format {picture.format}")
            picture.load()
        finally:
            Image.MAX_IMAGE_PIXELS = previous
    source_format = picture.format
    picture = ImageOps.exif_transpose(picture)  # honour the camera's rotation, then drop EXIF
    if picture.mode not in ("RGB", "RGBA"):
        picture = picture.convert("RGBA" if "A" in picture.getbands() else "RGB")
    return without_metadata(picture), source_format
