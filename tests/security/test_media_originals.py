"""Issue 13, hole 4: an uploaded original (with the camera's GPS position) is never served, by
any spelling of its URL, and nothing served carries EXIF or other metadata."""

import http.client
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from app.catalog.models import ProductImage
from app.extensions import db
from app.storage import get_storage
from tests.conftest import free_port
from tests.factories import make_product
from tests.web.catalog_admin_helpers import signed_in

ROOT = Path(__file__).resolve().parents[2]
GPS_IFD = 0x8825
WHERE = {1: "S", 2: (6.0, 12.0, 30.5), 3: "E", 4: (106.0, 49.0, 12.25)}


def photo_with_gps(fmt: str = "JPEG", size=(900, 600)) -> bytes:
    """A camera-like photo: GPS position, maker, a rotation tag and a comment."""
    exif = Image.Exif()
    exif[0x010F] = "Spy Camera Co"  # Make
    exif[0x0112] = 6  # Orientation: rotate 90° to show upright
    exif.get_ifd(GPS_IFD).update(WHERE)
    buffer = io.BytesIO()
    options = {"comment": b"taken at home"} if fmt == "JPEG" else {}
    Image.new("RGB", size, (180, 40, 90)).save(buffer, fmt, exif=exif, **options)
    data = buffer.getvalue()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(GPS_IFD)  # the fixture is what we say
    return data


def assert_no_metadata(data: bytes) -> None:
    picture = Image.open(io.BytesIO(data))
    exif = picture.getexif()
    assert not exif.get_ifd(GPS_IFD), "GPS position served"
    assert len(exif) == 0, f"EXIF served: {dict(exif)}"
    assert not {"exif", "xmp", "XML:com.adobe.xmp", "comment", "photoshop"} & set(picture.info)
    assert b"Spy Camera" not in data and b"taken at home" not in data


def spellings(key: str) -> list[str]:
    """Ways to ask for `<key>/original` that a rule on the raw text could miss."""
    upper = key.split("/")[0] + "/" + key.split("/")[1].upper()
    return [
        f"/media/{key}/original",
        f"/media/{key}/original/",
        f"/media/{key}/original//",
        f"/media/{key}//original",
        f"/media/{key}/./original",
        f"/media/{key}/original/.",
        f"/media/{key}/thumb.webp/../original",
        f"/media/{key}/%6Friginal",
        f"/media/{key}/original%2F",
        f"/media/{key}%2Foriginal",
        f"/media/{key}/ORIGINAL",
        f"/media/{key}/Original",
        f"/media/{upper}/original",
        f"/media/{key}/original.jpg",
        f"/media/{key}/original.webp",
        f"/media/{key}\\original",
        f"/media/{key}%5Coriginal",
        f"/media/{key}/original%00",
        f"/media/{key}/original%20",
        f"/media/{key}/original;",
        f"/media/{key}/original?download=1",
        f"/media//{key}/original",
        f"/media/./{key}/original",
    ]


def upload(client, product_id: int, data: bytes, name: str):
    return client.post(
        f"/admin/products/{product_id}/images",
        data={"images": [(io.BytesIO(data), name)]},
        content_type="multipart/form-data",
    )


@pytest.fixture
def uploaded(app, client_for, store_a):
    """A GPS-tagged JPEG uploaded through the dashboard and processed (jobs run inline)."""
    owner = signed_in(app, client_for, store_a)
    product = make_product(store_a, "Camera bag")
    assert upload(owner, product.id, photo_with_gps(), "IMG_0001.jpg").status_code == 303
    with app.app_context():
        image = db.session.scalar(select(ProductImage).where(ProductImage.product_id == product.id))
        assert image.status == "ready"
        return image.key


def test_no_spelling_of_an_original_url_is_served(app, client_for, store_a, uploaded):
    shopper = client_for(store_a)
    served = shopper.get(f"/media/{uploaded}/medium.webp")
    assert served.status_code == 200 and served.mimetype == "image/webp"
    for path in spellings(uploaded):
        response = shopper.get(path, follow_redirects=True)
        # A control character (the %00 spelling) is refused before routing, with a 400.
        expected = 400 if "%00" in path else 404
        assert response.status_code == expected, path
        assert not response.data.startswith(b"\xff\xd8"), path
    platform = client_for(None)
    assert platform.get(f"/media/{uploaded}/original/").status_code == 404


def test_every_served_size_and_the_stored_original_have_no_metadata(app, client_for, uploaded):
    shopper = client_for(None)
    for size in ("thumb", "medium", "large"):
        response = shopper.get(f"/media/{uploaded}/{size}.webp")
        assert response.status_code == 200
        assert_no_metadata(response.data)
    with app.app_context():
        image = db.session.scalar(select(ProductImage).where(ProductImage.key == uploaded))
        # The rotation tag was applied to the pixels before it went: 900x600 stands upright.
        assert (image.width, image.height) == (600, 900)
        original = get_storage().read(f"{uploaded}/original")
    # Not even the file kept on disk remembers where the photo was taken.
    assert_no_metadata(original)
    assert Image.open(io.BytesIO(original)).size == (600, 900)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_png_and_webp_uploads_lose_their_metadata_too(app, client_for, store_a, fmt):
    owner = signed_in(app, client_for, store_a)
    product = make_product(store_a, "Tote")
    upload(owner, product.id, photo_with_gps(fmt, (400, 300)), f"photo.{fmt.lower()}")
    with app.app_context():
        image = db.session.scalar(select(ProductImage).where(ProductImage.product_id == product.id))
        key = image.key
        assert_no_metadata(get_storage().read(f"{key}/original"))
    assert_no_metadata(client_for(None).get(f"/media/{key}/large.webp").data)


def test_the_store_logo_is_served_without_metadata(app, client_for, store_a):
    owner = signed_in(app, client_for, store_a)
    response = owner.post(
        "/admin/settings/logo",
        data={"logo": (io.BytesIO(photo_with_gps(size=(300, 120))), "logo.jpg")},
        content_type="multipart/form-data",
    )
    assert response.status_code in (200, 303)
    page = client_for(store_a).get("/").get_data(as_text=True)
    src = page.split('class="brand__logo" src="', 1)[1].split('"', 1)[0]
    logo = client_for(store_a).get(src)
    assert logo.status_code == 200
    assert_no_metadata(logo.data)


def test_the_scrub_command_cleans_originals_stored_before_the_fix(app, store_a, uploaded):
    with app.app_context():
        # An original kept the way Pasar used to keep them: the upload's bytes as they came.
        get_storage().save(f"{uploaded}/original", photo_with_gps())
    result = app.test_cli_runner().invoke(args=["scrub-originals"])
    assert "Originals cleaned: 1" in result.output
    with app.app_context():
        assert_no_metadata(get_storage().read(f"{uploaded}/original"))


@pytest.fixture
def gunicorn_media(tmp_path):
    """A real gunicorn (embedded mode) whose media folder holds an original with GPS in it."""
    media = tmp_path / "media"
    key = "7/" + "ab" * 16
    (media / key).mkdir(parents=True)
    (media / key / "original").write_bytes(photo_with_gps())
    (media / key / "thumb.webp").write_bytes(b"RIFF\x00\x00\x00\x00WEBPVP8 ")
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'media.db'}",
        "MEDIA_ROOT": str(media),
        "PLATFORM_DOMAIN": "pasar.test",
    }
    env.pop("REDIS_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            if raw_get(port, f"/media/{key}/thumb.webp")[0] == 200:
                break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("gunicorn did not start")
            time.sleep(0.2)
    yield port, key
    proc.terminate()
    proc.wait(timeout=15)


def raw_get(port: int, path: str) -> tuple[int, bytes]:
    """GET `path` byte for byte as written (no client-side normalising)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", "pasar.test")
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_a_real_server_serves_no_spelling_of_an_original(gunicorn_media):
    port, key = gunicorn_media
    for path in spellings(key):
        status, body = raw_get(port, path)
        assert status in (404, 400, 308), (path, status)
        assert not body.startswith(b"\xff\xd8"), path
        if status == 308:
            # werkzeug merges double slashes with a redirect: the merged URL is refused too.
            assert raw_get(port, path.replace("//", "/"))[0] == 404, path
