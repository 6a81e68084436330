"""Product images in the dashboard: upload, refusal of bad files, processing, order, alt, delete."""

import io

import pytest
from PIL import Image
from sqlalchemy import func, select

from app.catalog.models import ProductImage
from app.extensions import db
from app.storage import get_storage
from tests.conftest import BACKENDS
from tests.factories import make_product
from tests.web.catalog_admin_helpers import HX, png_bytes, signed_in, text_of

pytestmark = pytest.mark.backends("sqlite")  # uploads, refusals, htmx, markup: HTTP, not SQL


@pytest.fixture
def owner(app, client_for, store_a):
    return signed_in(app, client_for, store_a)


@pytest.fixture
def product(store_a):
    return make_product(store_a, "Camera")


def upload(client, product_id, *files, headers=None):
    return client.post(
        f"/admin/products/{product_id}/images",
        data={"images": [(io.BytesIO(data), name) for data, name in files]},
        content_type="multipart/form-data",
        headers=headers,
    )


def images_of(app, product_id):
    with app.app_context():
        rows = db.session.scalars(
            select(ProductImage)
            .where(ProductImage.product_id == product_id)
            .order_by(ProductImage.position)
        ).all()
        for row in rows:
            db.session.expunge(row)
        return rows


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_upload_several_images_then_show_them(app, owner, product):
    response = upload(
        owner, product.id, (png_bytes(), "front.png"), (png_bytes(colour=(1, 2, 3)), "back.png")
    )
    assert response.status_code == 303 and response.headers["Location"].endswith("#images")
    rows = images_of(app, product.id)
    assert [r.status for r in rows] == ["ready", "ready"] and [r.position for r in rows] == [0, 1]
    page = text_of(owner.get(f"/admin/products/{product.id}/edit"))
    assert f"/media/{rows[0].key}/thumb.webp" in page and "Main" in page
    listing = text_of(owner.get("/admin/products/"))
    assert f"/media/{rows[0].key}/thumb.webp" in listing


def test_each_size_is_encoded_once_and_a_small_picture_is_its_own_medium_and_large(
    app, owner, product, monkeypatch
):
    """A 640 px upload is smaller than the medium (800) and large (1600) edges: both are the
    picture itself, so one WebP is written for the two (a third of the encoding work saved)."""
    encodes = []
    save = Image.Image.save
    monkeypatch.setattr(
        Image.Image,
        "save",
        lambda self, fp, format=None, **kw: (
            encodes.append((format, self.size)),
            save(self, fp, format, **kw),
        )[1],
    )
    assert upload(owner, product.id, (png_bytes(size=(640, 480)), "small.png")).status_code == 303
    (row,) = images_of(app, product.id)
    assert row.status == "ready" and (row.width, row.height) == (640, 480)
    webp = [size for fmt, size in encodes if fmt == "WEBP"]
    assert sorted(webp) == [(320, 240), (640, 480)], encodes
    with app.app_context():
        storage = get_storage()
        sizes = {
            n: Image.open(io.BytesIO(storage.read(f"{row.key}/{n}.webp"))).size
            for n in ("thumb", "medium", "large")
        }
        assert sizes == {"thumb": (320, 240), "medium": (640, 480), "large": (640, 480)}


def test_htmx_upload_returns_the_images_section(app, owner, product):
    response = upload(owner, product.id, (png_bytes(), "a.png"), headers=HX)
    body = text_of(response)
    assert response.status_code == 200 and body.lstrip().startswith(
        '<section class="panel" id="product-images"'
    )
    assert "<html" not in body


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"just some text pretending", "photo.jpg", "Upload a JPEG, PNG or WebP image"),
        (
            b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
            "x.svg",
            "JPEG, PNG or WebP",
        ),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * (10 * 1024 * 1024 + 10), "huge.png", "at most 10 MB"),
    ],
)
def test_bad_files_are_refused_with_422_and_nothing_stored(
    app, owner, product, data, name, message
):
    # A good file in the same batch is not stored either: all or nothing.
    response = upload(owner, product.id, (png_bytes(), "good.png"), (data, name))
    assert response.status_code == 422
    assert f"{name}: " in text_of(response) and message in text_of(response)
    assert images_of(app, product.id) == []
    htmx = upload(owner, product.id, (data, name), headers=HX)
    assert htmx.status_code == 422 and message in text_of(htmx)


def test_no_file_chosen_is_422(owner, product):
    response = owner.post(
        f"/admin/products/{product.id}/images", data={}, content_type="multipart/form-data"
    )
    assert response.status_code == 422 and "Choose at least one image" in text_of(response)


def test_a_50_mb_upload_is_413(app, owner, product):
    response = upload(
        owner, product.id, (b"\xff\xd8\xff" + b"\x00" * (50 * 1024 * 1024), "big.jpg")
    )
    assert response.status_code == 413 and "larger than we accept" in text_of(response)
    assert images_of(app, product.id) == []


def test_a_decompression_bomb_is_marked_failed(app, owner, product):
    bomb = io.BytesIO()
    Image.new("1", (12000, 12000)).save(bomb, "PNG")
    response = upload(owner, product.id, (bomb.getvalue(), "bomb.png"))
    assert response.status_code == 303
    [row] = images_of(app, product.id)
    assert row.status == "failed" and "Decompression" in row.error
    page = text_of(owner.get(f"/admin/products/{product.id}/edit"))
    assert "Couldn't process this file" in page and "50 megapixels" in page


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_processing_images_poll_until_ready(app, owner, product):
    upload(owner, product.id, (png_bytes(), "a.png"))
    [row] = images_of(app, product.id)
    with app.app_context():
        db.session.get(ProductImage, row.id).status = "processing"
        db.session.commit()
    url = f"/admin/products/{product.id}/images/{row.id}"
    polling = text_of(owner.get(url, headers=HX))
    assert (
        polling.startswith(f'<li id="image-{row.id}"') and 'hx-trigger="load delay:1s"' in polling
    )
    assert "Processing" in polling
    with app.app_context():
        db.session.get(ProductImage, row.id).status = "ready"
        db.session.commit()
    done = text_of(owner.get(url, headers=HX))
    assert "hx-trigger" not in done and "thumb.webp" in done
    assert "<html" in text_of(owner.get(url))


@pytest.mark.backends(*BACKENDS)  # positions and their order
def test_reorder_alt_text_and_delete(app, owner, product):
    upload(owner, product.id, *((png_bytes(colour=(i, i, i)), f"{i}.png") for i in range(3)))
    first, second, third = images_of(app, product.id)
    move = owner.post(
        f"/admin/products/{product.id}/images/{third.id}/move", data={"direction": "up"}
    )
    assert move.status_code == 303
    assert [r.id for r in images_of(app, product.id)] == [first.id, third.id, second.id]
    owner.post(
        f"/admin/products/{product.id}/images/{first.id}/move", data={"direction": "up"}, headers=HX
    )
    assert [r.id for r in images_of(app, product.id)] == [first.id, third.id, second.id]
    bad = owner.post(
        f"/admin/products/{product.id}/images/{first.id}/move", data={"direction": "left"}
    )
    assert bad.status_code == 422

    alt = owner.post(
        f"/admin/products/{product.id}/images/{first.id}",
        data={"alt": "Front <b>view</b>"},
        headers=HX,
    )
    assert alt.status_code == 200 and 'value="Front &lt;b&gt;view&lt;/b&gt;"' in text_of(alt)
    too_long = owner.post(
        f"/admin/products/{product.id}/images/{first.id}", data={"alt": "x" * 201}
    )
    assert too_long.status_code == 422
    assert images_of(app, product.id)[0].alt == "Front <b>view</b>"

    with app.app_context():
        storage = get_storage()
        assert storage.exists(f"{third.key}/thumb.webp")
    deleted = owner.post(f"/admin/products/{product.id}/images/{third.id}/delete", headers=HX)
    assert deleted.status_code == 200 and f'id="image-{third.id}"' not in text_of(deleted)
    rows = images_of(app, product.id)
    assert [(r.id, r.position) for r in rows] == [(first.id, 0), (second.id, 1)]
    with app.app_context():
        assert not storage.exists(f"{third.key}/thumb.webp")
        assert not storage.exists(f"{third.key}/original")


@pytest.mark.backends(*BACKENDS)  # rows deleted with their product
def test_deleting_a_product_removes_its_image_files(app, owner, product):
    upload(owner, product.id, (png_bytes(), "a.png"))
    [row] = images_of(app, product.id)
    assert owner.post(f"/admin/products/{product.id}/delete").status_code == 303
    with app.app_context():
        assert not get_storage().exists(f"{row.key}/original")
        assert db.session.scalar(select(func.count()).select_from(ProductImage)) == 0


@pytest.mark.backends(*BACKENDS)  # another store's rows
def test_another_stores_images_are_404(app, owner, product, store_b, client_for):
    theirs = make_product(store_b, "Their Camera")
    their_client = signed_in(app, client_for, store_b)
    upload(their_client, theirs.id, (png_bytes(), "a.png"))
    upload(owner, product.id, (png_bytes(), "a.png"))
    [their_image] = images_of(app, theirs.id)
    [my_image] = images_of(app, product.id)
    for method, path, data in [
        ("POST", f"/admin/products/{theirs.id}/images", None),
        ("GET", f"/admin/products/{theirs.id}/images/{their_image.id}", None),
        ("GET", f"/admin/products/{product.id}/images/{their_image.id}", None),
        ("POST", f"/admin/products/{product.id}/images/{their_image.id}", {"alt": "hacked"}),
        (
            "POST",
            f"/admin/products/{product.id}/images/{their_image.id}/move",
            {"direction": "down"},
        ),
        ("POST", f"/admin/products/{product.id}/images/{their_image.id}/delete", None),
        ("POST", f"/admin/products/{theirs.id}/images/{my_image.id}/delete", None),
    ]:
        assert owner.open(path, method=method, data=data).status_code == 404, (method, path)
    [still] = images_of(app, theirs.id)
    assert still.alt == "" and still.status == "ready"
    assert len(images_of(app, product.id)) == 1
