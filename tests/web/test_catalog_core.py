"""Catalog rules called directly: product creation, images and their job, search ranking."""

import io

import pytest
from PIL import Image
from sqlalchemy import select

from app.catalog.images import add_image, image_url
from app.catalog.models import Product, ProductImage
from app.catalog.search import apply_search
from app.catalog.service import CatalogError, VariantData, create_product
from app.extensions import db
from app.storage import get_storage
from jobs.images import process_product_image
from tenants.models import Store
from tests.factories import make_product


def png_bytes(size=(1200, 900), colour=(200, 80, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def store_row(store):
    return db.session.get(Store, store.id)


@pytest.mark.backends("sqlite")  # validation in Python
@pytest.mark.parametrize(
    ("variants", "options", "field", "message"),
    [
        ([], [], "variants", "at least one"),
        ([VariantData("A", -1)], [], "price", "whole number"),
        ([VariantData("A", "12")], [], "price", "whole number"),
        ([VariantData("A", 10**12)], [], "price", "whole number"),
        ([VariantData("A", 100, stock=-5)], [], "stock", "whole number"),
        ([VariantData("A", 100, compare_at_price=100)], [], "compare_at_price", "higher"),
        ([VariantData("", 100)], [], "sku", "SKU"),
        ([VariantData("A", 100, ["S"]), VariantData("A", 100, ["M"])], ["Size"], "sku", "own SKU"),
        ([VariantData("A", 100, ["S"]), VariantData("B", 100, ["S"])], ["Size"], "options", "same"),
        ([VariantData("A", 100)], ["Size"], "options", "each option"),
        ([VariantData("A", 100, ["1", "2", "3", "4"])], ["a", "b", "c", "d"], "options", "up to 3"),
    ],
)
def test_create_product_refuses_bad_variants(app, ctx, store_a, variants, options, field, message):
    with pytest.raises(CatalogError) as info:
        create_product(store_row(store_a), title="Shirt", variants=variants, option_names=options)
    assert info.value.field == field and message in info.value.message
    assert db.session.scalar(select(Product.id)) is None


def test_skus_are_unique_per_store_not_platform(app, store_a, store_b):
    make_product(store_a, "Shirt", variants=[VariantData("SHIRT-1", 100)])
    make_product(store_b, "Shirt", variants=[VariantData("SHIRT-1", 100)])  # another store: fine
    with app.app_context(), pytest.raises(CatalogError, match="already used"):
        create_product(store_row(store_a), title="Other", variants=[VariantData("SHIRT-1", 5)])


def test_slugs_are_unique_per_store_and_summary_follows_variants(app, store_a):
    first = make_product(store_a, "Batik Shirt")
    second = make_product(
        store_a,
        "Batik Shirt!",
        variants=[
            VariantData("B-S", 15000, ["S"], stock=0),
            VariantData("B-M", 17500, ["M"], stock=0),
        ],
        option_names=["Size"],
    )
    assert (first.slug, second.slug) == ("batik-shirt", "batik-shirt-2")
    assert (second.min_price, second.max_price, second.in_stock) == (15000, 17500, False)


@pytest.mark.backends("sqlite")  # image files
def test_uploaded_image_is_processed_into_sizes(app, store_a):
    product = make_product(store_a)
    with app.app_context():
        image = add_image(db.session.get(Product, product.id), png_bytes(), alt="Front")
        db.session.refresh(image)
        assert image.status == "ready" and (image.width, image.height) == (1200, 900)
        storage = get_storage()
        for size in ("thumb", "medium", "large"):
            data = storage.read(f"{image.key}/{size}.webp")
            assert Image.open(io.BytesIO(data)).format == "WEBP"
        assert Image.open(io.BytesIO(storage.read(f"{image.key}/thumb.webp"))).size == (320, 240)
        assert process_product_image(image.id) == "ready"  # running it again changes nothing
        url = image_url(image, "thumb")
    client = app.test_client()
    served = client.get(url)
    assert served.status_code == 200 and served.mimetype == "image/webp"
    assert client.get(url.replace("thumb.webp", "original")).status_code == 404
    assert client.get("/media/../instance/pasar.db").status_code == 404


@pytest.mark.backends("sqlite")  # validation in Python
@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"just some text, renamed photo.jpg", "JPEG, PNG or WebP"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "JPEG"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * (10 * 1024 * 1024), "at most 10 MB"),
    ],
)
def test_bad_uploads_are_refused_before_storing(app, store_a, data, message):
    product = make_product(store_a)
    with app.app_context():
        with pytest.raises(CatalogError, match=message):
            add_image(db.session.get(Product, product.id), data)
        assert db.session.scalar(select(ProductImage.id)) is None


@pytest.mark.backends("sqlite")  # image files
def test_a_decompression_bomb_or_broken_image_fails_cleanly(app, store_a):
    product = make_product(store_a)
    bomb = io.BytesIO()
    Image.new("1", (12000, 12000)).save(bomb, "PNG")  # tiny file, 144 megapixels
    broken = b"\x89PNG\r\n\x1a\n" + b"not really a png"
    with app.app_context():
        for data in (bomb.getvalue(), broken):
            image = add_image(db.session.get(Product, product.id), data)
            db.session.refresh(image)
            assert image.status == "failed" and image.error
            assert image_url(image) is None


def test_search_ranks_title_over_tags_over_description_within_one_store(app, store_a, store_b):
    make_product(store_a, "Plain Mug", description_md="Looks great next to a teapot.")
    make_product(store_a, "Ceramic Cup", tags="teapot, kitchen")
    make_product(store_a, "Teapot Deluxe")
    make_product(store_a, "Draft Teapot", status="draft")
    make_product(store_b, "Teapot From Another Store")
    with app.app_context():
        stmt = select(Product.title).where(
            Product.store_id == store_a.id, Product.status == "active"
        )
        stmt, rank = apply_search(stmt, "teap")
        titles = db.session.scalars(stmt.order_by(rank)).all()
    assert titles == ["Teapot Deluxe", "Ceramic Cup", "Plain Mug"]


def test_search_follows_edits_and_deletes(app, store_a):
    product = make_product(store_a, "Old Name")
    with app.app_context():
        row = db.session.get(Product, product.id)
        row.title = "Kopi Luwak"
        db.session.commit()
        find = lambda q: db.session.scalars(apply_search(select(Product.id), q)[0]).all()  # noqa: E731
        assert find("kopi") == [product.id] and find("old") == []
        db.session.delete(row)
        db.session.commit()
        assert find("kopi") == []
