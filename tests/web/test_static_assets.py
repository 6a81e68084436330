"""Content-hashed static URLs and immutable caching of static files and processed images."""

import re
import time

import pytest

from app.static_assets import IMMUTABLE, asset_url
from tests.factories import make_image, make_product

# One backend: URLs and headers (see "Which tests run on both databases" in the README).
pytestmark = pytest.mark.backends("sqlite")


def test_pages_link_static_files_by_content_hash(client_for, store_a):
    html = client_for(store_a).get("/").get_data(as_text=True)
    css = re.search(r'href="(/static/css/pasar\.css\?v=[0-9a-f]{12})"', html)
    assert css, "the stylesheet has no hashed URL"
    assert re.search(r'src="/static/js/pasar\.js\?v=[0-9a-f]{12}"', html)


def test_a_hashed_url_is_immutable_and_any_other_is_revalidated(app, client):
    with app.test_request_context():
        url = asset_url("/static", "css/pasar.css")
    current = client.get(url)
    assert current.status_code == 200 and current.headers["Cache-Control"] == IMMUTABLE
    for stale in ("/static/css/pasar.css", "/static/css/pasar.css?v=000000000000"):
        answer = client.get(stale)
        assert answer.status_code == 200
        assert "immutable" not in answer.headers.get("Cache-Control", "")


def test_the_hash_changes_when_the_file_changes(app, tmp_path):
    (tmp_path / "site.css").write_text("body { color: red }")
    original = app.static_folder
    app.static_folder = str(tmp_path)
    try:
        with app.test_request_context():
            before = asset_url("/static", "site.css")
            assert asset_url("/static", "site.css") == before  # stable while unchanged
            time.sleep(0.01)
            (tmp_path / "site.css").write_text("body { color: blue }")
            after = asset_url("/static", "site.css")
            assert asset_url("/static", "missing.css") == "/static/missing.css"
            assert asset_url("/static", "../secret.txt") == "/static/../secret.txt"
    finally:
        app.static_folder = original
    assert before != after and before.startswith("/static/site.css?v=")


def test_processed_images_are_immutable(client_for, store_a):
    product = make_product(store_a, "Pictured Mug")
    make_image(product)
    client = client_for(store_a)
    html = client.get("/products/pictured-mug").get_data(as_text=True)
    src = re.search(r'src="(/media/[^"]+\.webp)"', html).group(1)
    answer = client.get(src)
    assert answer.status_code == 200
    directives = {d.strip() for d in answer.headers["Cache-Control"].split(",")}
    assert {"public", "immutable", "max-age=31536000"} <= directives
