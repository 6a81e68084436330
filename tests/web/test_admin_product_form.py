"""The product form's category picker, image descriptions saved with the product, and the
image drop zone's markup (its server side is tests/web/test_admin_images.py)."""

import io
import re

import pytest

from app.catalog.images import add_image
from app.catalog.models import Category, Product, ProductImage
from app.extensions import db
from tests.conftest import BACKENDS
from tests.factories import make_product
from tests.web.catalog_admin_helpers import png_bytes, signed_in, text_of

# One backend: markup, scripts and validation; other stores' rows and column limits on both.
pytestmark = pytest.mark.backends("sqlite")

FORM = {"title": "Camera", "slug": "camera", "status": "active", "tags": ""}


@pytest.fixture
def owner(app, client_for, store_a):
    return signed_in(app, client_for, store_a)


@pytest.fixture
def camera(store_a):
    return make_product(store_a, "Camera")


def categories(app, store, *names_and_parents):
    """Categories of `store` from (name, parent name or None); returns {name: id}."""
    ids: dict[str, int] = {}
    with app.app_context():
        for position, (name, parent) in enumerate(names_and_parents):
            row = Category(
                store_id=store.id,
                name=name,
                slug=name.lower().replace(" ", "-"),
                parent_id=ids.get(parent),
                position=position,
            )
            db.session.add(row)
            db.session.flush()
            ids[name] = row.id
        db.session.commit()
    return ids


def images(app, product, count=2) -> list[int]:
    with app.app_context():
        row = db.session.get(Product, product.id)
        ids = [add_image(row, png_bytes(colour=(i, 9, 9))).id for i in range(count)]
        db.session.commit()
        return ids


def category_ids_of(app, product_id) -> list[int]:
    with app.app_context():
        return sorted(c.id for c in db.session.get(Product, product_id).categories)


def alts_of(app, image_ids) -> list[str]:
    with app.app_context():
        return [db.session.get(ProductImage, i).alt for i in image_ids]


def test_the_picker_is_a_checkbox_list_with_paths_and_no_inline_script(app, owner, camera, store_a):
    ids = categories(app, store_a, ("Clothing", None), ("Shirts", "Clothing"), ("Gifts", None))
    owner.post(
        f"/admin/products/{camera.id}/edit", data={**FORM, "categories": [str(ids["Shirts"])]}
    )
    body = text_of(owner.get(f"/admin/products/{camera.id}/edit"))
    assert "<select" not in body.split('id="category-options"')[0].rsplit("<fieldset", 1)[-1]
    assert "Ctrl" not in body
    assert "data-category-picker" in body and 'id="category-filter"' in body
    assert 'data-path="Clothing › Shirts"' in body
    shirts = re.search(
        rf'<input type="checkbox" name="categories" value="{ids["Shirts"]}"[^>]*>', body
    )
    gifts = re.search(
        rf'<input type="checkbox" name="categories" value="{ids["Gifts"]}"[^>]*>', body
    )
    assert "checked" in shirts.group(0) and "checked" not in gifts.group(0)
    # The filter box is hidden until the script shows it; the list works on its own.
    assert re.search(r'class="category-picker__search" data-picker-search hidden', body)
    assert re.search(
        r'<script src="/static/js/category-picker\.js(\?v=\w+)?" defer></script>', body
    )
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", body)
    # The new-product page has the same picker.
    assert 'data-path="Clothing › Shirts"' in text_of(owner.get("/admin/products/new"))


@pytest.mark.backends(*BACKENDS)  # the category links written and deleted
def test_choosing_and_removing_categories_saves(app, owner, camera, store_a):
    ids = categories(app, store_a, ("Clothing", None), ("Shirts", "Clothing"), ("Gifts", None))
    chosen = [str(ids["Shirts"]), str(ids["Gifts"])]
    response = owner.post(f"/admin/products/{camera.id}/edit", data={**FORM, "categories": chosen})
    assert response.status_code == 303
    assert category_ids_of(app, camera.id) == sorted([ids["Shirts"], ids["Gifts"]])
    response = owner.post(
        f"/admin/products/{camera.id}/edit", data={**FORM, "categories": [str(ids["Gifts"])]}
    )
    assert response.status_code == 303
    assert category_ids_of(app, camera.id) == [ids["Gifts"]]
    assert owner.post(f"/admin/products/{camera.id}/edit", data=FORM).status_code == 303
    assert category_ids_of(app, camera.id) == []


def test_a_new_product_takes_its_categories_from_the_picker(app, owner, store_a):
    ids = categories(app, store_a, ("Gifts", None))
    data = {**FORM, "sku": "CAM-1", "price": "10", "stock": "1", "categories": [str(ids["Gifts"])]}
    response = owner.post("/admin/products/new", data=data)
    assert response.status_code == 303
    product_id = int(response.headers["Location"].split("/")[-2])
    assert category_ids_of(app, product_id) == [ids["Gifts"]]


@pytest.mark.parametrize("junk", ["{other}", "abc", "99999999999"])
@pytest.mark.backends(*BACKENDS)  # another store's rows, ids past range
def test_another_stores_category_is_404_and_nothing_saved(
    app, owner, camera, store_a, store_b, junk
):
    mine = categories(app, store_a, ("Mine", None))["Mine"]
    other = categories(app, store_b, ("Theirs", None))["Theirs"]
    data = {**FORM, "title": "Renamed", "categories": [str(mine), junk.format(other=other)]}
    response = owner.post(f"/admin/products/{camera.id}/edit", data=data)
    assert response.status_code == 404
    assert category_ids_of(app, camera.id) == []
    with app.app_context():
        assert db.session.get(Product, camera.id).title == "Camera"


def test_image_descriptions_are_labelled_fields_saved_with_the_product(app, owner, camera):
    first, second = images(app, camera)
    body = text_of(owner.get(f"/admin/products/{camera.id}/edit"))
    field = re.search(rf'<input[^>]*id="alt-{first}"[^>]*>', body, re.S).group(0)
    assert f'name="image-{first}-alt"' in field and 'form="product-details"' in field
    assert 'maxlength="200"' in field and f'aria-describedby="alt-{first}-help"' in field
    label = re.search(rf'<label for="alt-{first}">([^<]*)<', body).group(1)
    assert label.strip() == "Description of image 1"
    assert "visually-hidden" not in re.search(rf'<label[^>]*for="alt-{first}"', body).group(0)
    # Each field sits in the card with its thumbnail.
    card = body.split(f'id="image-{first}"')[1].split("</li>")[0]
    assert "thumb.webp" in card and f'id="alt-{first}"' in card
    data = {
        **FORM,
        f"image-{first}-alt": "  Front   of the camera ",
        f"image-{second}-alt": "Back <b>side</b>",
    }
    response = owner.post(f"/admin/products/{camera.id}/edit", data=data)
    assert response.status_code == 303
    assert alts_of(app, [first, second]) == ["Front of the camera", "Back <b>side</b>"]
    page = text_of(owner.get(f"/admin/products/{camera.id}/edit"))
    assert 'value="Back &lt;b&gt;side&lt;/b&gt;"' in page and "<b>side</b>" not in page


@pytest.mark.backends(*BACKENDS)  # a column limit
def test_a_too_long_description_keeps_what_was_typed_and_saves_nothing(app, owner, camera):
    first, second = images(app, camera)
    data = {
        **FORM,
        "title": "Renamed camera",
        f"image-{first}-alt": "x" * 201,
        f"image-{second}-alt": "Fine",
    }
    response = owner.post(f"/admin/products/{camera.id}/edit", data=data)
    body = text_of(response)
    assert response.status_code == 422
    bad = re.search(rf'<input[^>]*id="alt-{first}"[^>]*>', body, re.S).group(0)
    assert 'aria-invalid="true"' in bad and 'value="' + "x" * 201 + '"' in bad
    assert "Keep the description to 200 characters (201 now)." in body
    ok = re.search(rf'<input[^>]*id="alt-{second}"[^>]*>', body, re.S).group(0)
    assert 'value="Fine"' in ok and "aria-invalid" not in ok
    assert 'value="Renamed camera"' in body
    assert alts_of(app, [first, second]) == ["", ""]
    with app.app_context():
        assert db.session.get(Product, camera.id).title == "Camera"


@pytest.mark.backends(*BACKENDS)  # another store's rows
def test_an_image_of_another_product_or_store_in_the_form_is_never_touched(
    app, owner, camera, store_a, store_b
):
    (mine,) = images(app, camera, 1)
    (sibling,) = images(app, make_product(store_a, "Sibling"), 1)
    (theirs,) = images(app, make_product(store_b, "Theirs"), 1)
    data = {
        **FORM,
        f"image-{mine}-alt": "Mine",
        f"image-{sibling}-alt": "hacked",
        f"image-{theirs}-alt": "hacked",
    }
    assert owner.post(f"/admin/products/{camera.id}/edit", data=data).status_code == 303
    assert alts_of(app, [mine, sibling, theirs]) == ["Mine", "", ""]


def test_the_drop_zone_is_a_plain_file_input_underneath(app, owner, camera):
    body = text_of(owner.get(f"/admin/products/{camera.id}/edit"))
    form = body.split("data-dropzone", 1)[1].split("</form>")[0]
    file_input = re.search(r'<input type="file"[^>]*>', form).group(0)
    assert 'name="images"' in file_input and "multiple" in file_input
    assert 'accept="image/jpeg,image/png,image/webp"' in file_input
    assert 'data-max-bytes="10485760"' in file_input
    assert '<label for="images-input" class="dropzone__zone"' in form
    assert '<button type="submit" class="button button--small">Upload</button>' in form
    assert re.search(r'<script src="/static/js/image-dropzone\.js(\?v=\w+)?" defer></script>', body)


def test_an_svg_dropped_in_is_still_refused_by_the_server(app, owner, camera):
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    response = owner.post(
        f"/admin/products/{camera.id}/images",
        data={"images": [(io.BytesIO(svg), "x.svg")]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422 and "Upload a JPEG, PNG or WebP image." in text_of(response)
    with app.app_context():
        assert db.session.get(Product, camera.id).images == []


def test_only_the_picture_polls_while_processing_so_a_typed_description_survives(
    app, owner, camera
):
    (image_id,) = images(app, camera, 1)
    with app.app_context():
        db.session.get(ProductImage, image_id).status = "processing"
        db.session.commit()
    body = text_of(owner.get(f"/admin/products/{camera.id}/edit"))
    card = body.split(f'<li id="image-{image_id}"', 1)[1].split("</li>")[0]
    opening = card.split(">", 1)[0]
    assert "hx-get" not in opening  # the card itself isn't swapped...
    picture = re.search(r'<div class="image-card__picture"[^>]*>', card).group(0)
    assert 'hx-trigger="load delay:1s"' in picture  # ...only its picture, selected from the answer
    assert f'hx-select="#image-{image_id}-picture"' in picture and 'hx-swap="outerHTML"' in picture
    after_picture = card.split("</div>", 1)[1]
    assert f'id="alt-{image_id}"' in after_picture


def test_a_refused_form_keeps_the_chosen_categories_ticked(app, owner, camera, store_a):
    ids = categories(app, store_a, ("Gifts", None), ("Hats", None))
    data = {**FORM, "title": "", "categories": [str(ids["Hats"])]}
    response = owner.post(f"/admin/products/{camera.id}/edit", data=data)
    body = text_of(response)
    assert response.status_code == 422 and "Give the product a title." in body
    hats = re.search(rf'<input type="checkbox" name="categories" value="{ids["Hats"]}"[^>]*>', body)
    gifts = re.search(
        rf'<input type="checkbox" name="categories" value="{ids["Gifts"]}"[^>]*>', body
    )
    assert "checked" in hats.group(0) and "checked" not in gifts.group(0)
    assert category_ids_of(app, camera.id) == []
