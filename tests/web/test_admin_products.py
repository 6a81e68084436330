"""The dashboard's product pages: list, search, bulk actions, create, edit, duplicate, delete."""

import pytest
from sqlalchemy import event, func, select

from app.catalog.models import (
    Category,
    Product,
    ProductFAQ,
    ProductSlugRedirect,
    ProductTag,
    Variant,
)
from app.catalog.service import VariantData
from app.extensions import db
from tests.conftest import BACKENDS
from tests.factories import make_product, make_store
from tests.web.catalog_admin_helpers import HX, signed_in, text_of

pytestmark = pytest.mark.backends("sqlite")  # forms, messages, markup, htmx: HTTP, not SQL

NEW = {
    "title": "Linen Shirt",
    "slug": "",
    "description_md": "Cool **linen**.",
    "tags": "Linen, Summer ,linen",
    "status": "draft",
    "sku": "LIN-1",
    "price": "19.99",
    "stock": "7",
}


def edit_data(product, **changes):
    data = {
        "title": product.title,
        "slug": product.slug,
        "description_md": product.description_md,
        "tags": "",
        "status": product.status,
        "seo_title": "",
        "seo_description": "",
    }
    data.update(changes)
    return data


@pytest.fixture
def owner(app, client_for, store_a):
    return signed_in(app, client_for, store_a)


def make_many(store, count, start=0, **fields):
    return [
        make_product(
            store, f"Item {i:02d}", variants=[VariantData(f"IT-{i}", 100 * (i + 1))], **fields
        )
        for i in range(start, start + count)
    ]


@pytest.mark.backends(*BACKENDS)  # search and sorting in SQL; another store's rows
def test_list_searches_filters_and_sorts(app, owner, store_a, store_b):
    make_product(store_a, "Teapot Deluxe", variants=[VariantData("TP", 5000)])
    make_product(store_a, "Cheap Mug", variants=[VariantData("MUG", 500)], status="draft")
    make_product(store_a, "Archived Cup", variants=[VariantData("CUP", 900)], status="archived")
    make_product(store_b, "Teapot of Bravo", variants=[VariantData("TP", 5000)])

    page = text_of(owner.get("/admin/products/"))
    assert "Teapot Deluxe" in page and "Cheap Mug" in page and "Archived Cup" in page
    assert "Teapot of Bravo" not in page
    found = text_of(owner.get("/admin/products/?q=teap"))
    assert "Teapot Deluxe" in found and "Cheap Mug" not in found and "Teapot of Bravo" not in found
    drafts = text_of(owner.get("/admin/products/?status=draft"))
    assert "Cheap Mug" in drafts and "Teapot Deluxe" not in drafts
    low = text_of(owner.get("/admin/products/?sort=price_low"))
    assert low.index("Cheap Mug") < low.index("Archived Cup") < low.index("Teapot Deluxe")
    high = text_of(owner.get("/admin/products/?sort=price_high"))
    assert high.index("Teapot Deluxe") < high.index("Archived Cup") < high.index("Cheap Mug")
    by_title = text_of(owner.get("/admin/products/?sort=title"))
    assert by_title.index("Archived Cup") < by_title.index("Cheap Mug") < by_title.index("Teapot")
    nothing = owner.get("/admin/products/?q=nosuchthing&status=bogus&sort=bogus")
    assert nothing.status_code == 200 and "No products match" in text_of(nothing)
    odd = owner.get("/admin/products/?q=%22%27%25%5C%3Cscript%3E")
    assert odd.status_code == 200 and "<script>" not in text_of(odd)


def test_htmx_gets_only_the_results_and_the_page_varies(owner, store_a):
    make_product(store_a, "Teapot")
    full = owner.get("/admin/products/?q=tea")
    fragment = owner.get("/admin/products/?q=tea", headers=HX)
    assert "<html" in text_of(full) and 'hx-push-url="true"' in text_of(full)
    body = text_of(fragment)
    assert body.lstrip().startswith('<div id="product-results"') and "<html" not in body
    assert "Teapot" in body and "HX-Request" in fragment.headers["Vary"]


@pytest.mark.backends(*BACKENDS)  # pagination order; a page past int8
def test_pagination_is_clamped_never_an_error(owner, store_a):
    make_many(store_a, 27)
    first = text_of(owner.get("/admin/products/?sort=title"))
    assert "Item 00" in first and "Item 24" in first and "Item 25" not in first
    assert "1–25 of 27 products" in first and "Page 1 of 2" in first
    second = text_of(owner.get("/admin/products/?sort=title&page=2"))
    assert "Item 25" in second and "Item 26" in second and "Item 00" not in second
    past = owner.get("/admin/products/?sort=title&page=99")
    assert past.status_code == 200
    assert "There is no page 99" in text_of(past) and "Item 26" in text_of(past)
    for junk in ("-3", "0", "abc", "1e9", "99999999999999999999", ""):
        response = owner.get(f"/admin/products/?sort=title&page={junk}")
        assert response.status_code == 200, junk
        assert "Item 00" in text_of(response) or "Item 26" in text_of(response)


@pytest.mark.backends(*BACKENDS)  # a query count
def test_list_issues_a_fixed_number_of_queries(app, owner, store_a):
    def count(path):
        statements = []

        def on_execute(conn, cursor, statement, *args):
            statements.append(statement)

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", on_execute)
        try:
            assert owner.get(path).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", on_execute)
        return len(statements)

    make_many(store_a, 2)
    few = count("/admin/products/")
    few_search = count("/admin/products/?q=item&status=active&sort=title")
    make_many(store_a, 30, start=2)
    assert count("/admin/products/") == few <= 8
    assert count("/admin/products/?q=item&status=active&sort=title") == few_search


@pytest.mark.backends(*BACKENDS)  # bulk UPDATE and DELETE by ids
def test_bulk_activate_archive_and_delete_with_confirmation(app, owner, store_a):
    a, b, c = (make_product(store_a, t, status="draft") for t in ("Alpha", "Bravo", "Charlie"))
    response = owner.post(
        "/admin/products/bulk",
        data={"action": "activate", "ids": [a.id, b.id], "back": "/admin/products/?status=draft"},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/products/?status=draft"
    with app.app_context():
        rows = {p.title: p for p in db.session.scalars(select(Product))}
        assert rows["Alpha"].status == rows["Bravo"].status == "active"
        assert rows["Alpha"].published_at is not None and rows["Charlie"].status == "draft"
    assert (
        owner.post("/admin/products/bulk", data={"action": "archive", "ids": [a.id]}).status_code
        == 303
    )
    ask = owner.post("/admin/products/bulk", data={"action": "delete", "ids": [b.id, c.id]})
    assert ask.status_code == 200 and "Delete 2 products?" in text_of(ask)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Product)) == 3
    done = owner.post(
        "/admin/products/bulk", data={"action": "delete", "ids": [b.id, c.id], "confirm": "yes"}
    )
    assert done.status_code == 303
    with app.app_context():
        assert [p.title for p in db.session.scalars(select(Product))] == ["Alpha"]
        assert db.session.get(Product, a.id).status == "archived"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"action": "activate"}, "Select at least one product"),
        ({"action": "explode", "ids": ["1"]}, "Choose what to do"),
    ],
)
def test_bulk_refuses_nothing_selected_or_unknown_action(owner, store_a, data, message):
    make_product(store_a, "Alpha", status="draft")
    response = owner.post("/admin/products/bulk", data=data)
    assert response.status_code == 422 and message in text_of(response)


@pytest.mark.backends(*BACKENDS)  # another store's rows
def test_bulk_with_another_stores_id_is_404_and_changes_nothing(app, owner, store_a, store_b):
    mine = make_product(store_a, "Mine", status="draft")
    theirs = make_product(store_b, "Theirs", status="draft")
    for action in ("activate", "delete"):
        response = owner.post(
            "/admin/products/bulk",
            data={"action": action, "ids": [mine.id, theirs.id], "confirm": "yes"},
        )
        assert response.status_code == 404
    with app.app_context():
        assert {p.status for p in db.session.scalars(select(Product))} == {"draft"}
        assert db.session.scalar(select(func.count()).select_from(Product)) == 2


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_create_product_converts_the_price_and_normalises_tags(app, owner, store_a):
    assert owner.get("/admin/products/new").status_code == 200
    response = owner.post("/admin/products/new", data=NEW)
    assert response.status_code == 303
    with app.app_context():
        product = db.session.scalar(select(Product))
        assert response.headers["Location"] == f"/admin/products/{product.id}/edit"
        assert (product.slug, product.tags_text, product.status) == (
            "linen-shirt",
            "linen summer",
            "draft",
        )
        assert "<strong>linen</strong>" in product.description_html
        assert sorted(t.tag for t in product.tags) == ["linen", "summer"]
        variant = product.variants[0]
        assert (variant.sku, variant.price, variant.stock) == ("LIN-1", 1999, 7)
        assert product.min_price == 1999 and product.in_stock


def test_prices_follow_the_currency_precision(app, client_for):
    batik = make_store("batik", "Batik", currency="IDR", locale="id_ID")
    client = signed_in(app, client_for, batik)
    assert client.post("/admin/products/new", data={**NEW, "price": "150000"}).status_code == 303
    with app.app_context():
        assert db.session.scalar(select(Variant.price)) == 15_000_000


@pytest.mark.parametrize(
    ("price", "message"),
    [
        ("-5", "can&#39;t be negative"),
        ("abc", "must be a number"),
        ("12,50", "must be a number"),
        ("1.999", "at most 2 decimal places"),
        ("99999999999", "can be at most"),
        ("NaN", "must be a number"),
        ("1e5", "must be a number"),
    ],
)
def test_create_refuses_bad_prices_and_writes_nothing(app, owner, store_a, price, message):
    response = owner.post("/admin/products/new", data={**NEW, "price": price})
    assert response.status_code == 422 and message in text_of(response)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Product)) == 0


@pytest.mark.backends(*BACKENDS)  # uniqueness
def test_create_refuses_duplicate_sku_and_slug(app, owner, store_a):
    make_product(store_a, "Existing", variants=[VariantData("LIN-1", 100)])
    dup_sku = owner.post("/admin/products/new", data=NEW)
    assert dup_sku.status_code == 422 and "The SKU LIN-1 is already used" in text_of(dup_sku)
    dup_slug = owner.post("/admin/products/new", data={**NEW, "sku": "NEW-1", "slug": "existing"})
    assert dup_slug.status_code == 422 and "already uses the URL handle" in text_of(dup_slug)
    missing = owner.post("/admin/products/new", data={**NEW, "title": "", "sku": "NEW-2"})
    assert missing.status_code == 422 and "Give the product a title" in text_of(missing)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Product)) == 1


def test_edit_saves_details_faq_categories_and_publishes_once(app, owner, store_a):
    product = make_product(store_a, "Kopi", status="draft")
    with app.app_context():
        cats = [Category(store_id=store_a.id, name=n, slug=n.lower()) for n in ("Coffee", "Gifts")]
        db.session.add_all(cats)
        db.session.commit()
        cat_ids = [c.id for c in cats]
    data = edit_data(
        product,
        title="Kopi Luwak",
        tags="Coffee, gift, coffee",
        status="active",
        featured="y",
        categories=[str(i) for i in cat_ids],
        seo_title="Best kopi",
        **{
            "faq-0-question": "Is it strong?",
            "faq-0-answer": "Very.",
            "faq-1-question": "",
            "faq-1-answer": "",
            "faq-2-question": "Decaf?",
            "faq-2-answer": "No.",
        },
    )
    assert owner.post(f"/admin/products/{product.id}/edit", data=data).status_code == 303
    with app.app_context():
        row = db.session.get(Product, product.id)
        assert (row.title, row.status, row.featured, row.seo_title) == (
            "Kopi Luwak",
            "active",
            True,
            "Best kopi",
        )
        assert row.tags_text == "coffee gift"
        assert sorted(t.tag for t in row.tags) == ["coffee", "gift"]
        assert [(f.question, f.position) for f in row.faqs] == [("Is it strong?", 0), ("Decaf?", 1)]
        assert sorted(c.id for c in row.categories) == sorted(cat_ids)
        published = row.published_at
        assert published is not None
    data.update({"faq-0-remove": "1", "categories": [str(cat_ids[1])], "status": "draft"})
    assert owner.post(f"/admin/products/{product.id}/edit", data=data).status_code == 303
    data["status"] = "active"
    assert owner.post(f"/admin/products/{product.id}/edit", data=data).status_code == 303
    with app.app_context():
        row = db.session.get(Product, product.id)
        assert [f.question for f in row.faqs] == ["Decaf?"]
        assert [c.id for c in row.categories] == [cat_ids[1]]
        assert row.published_at == published  # only the first time
        assert db.session.scalar(select(func.count()).select_from(ProductFAQ)) == 1


@pytest.mark.backends(*BACKENDS)  # uniqueness of slugs and redirects
def test_a_slug_change_leaves_a_redirect_and_duplicates_are_refused(app, owner, store_a):
    make_product(store_a, "Taken")
    product = make_product(store_a, "Old Name")
    clash = owner.post(f"/admin/products/{product.id}/edit", data=edit_data(product, slug="taken"))
    assert clash.status_code == 422 and "already uses the URL handle" in text_of(clash)
    renamed = owner.post(
        f"/admin/products/{product.id}/edit", data=edit_data(product, slug="New Name!")
    )
    assert renamed.status_code == 303
    with app.app_context():
        assert db.session.get(Product, product.id).slug == "new-name"
        redirect = db.session.scalar(select(ProductSlugRedirect))
        assert (redirect.old_slug, redirect.product_id) == ("old-name", product.id)
    # Going back to the old slug takes it back from the redirect table.
    back = owner.post(
        f"/admin/products/{product.id}/edit", data=edit_data(product, slug="old-name")
    )
    assert back.status_code == 303
    with app.app_context():
        assert db.session.scalars(select(ProductSlugRedirect.old_slug)).all() == ["new-name"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"title": ""}, "Give the product a title"),
        ({"status": "deleted"}, "Not a valid choice"),
        ({"seo_title": "x" * 71}, "70 characters"),
        (
            {"faq-0-question": "Only a question?", "faq-0-answer": ""},
            "both a question and an answer",
        ),
        ({"slug": "!!!"}, "at least one letter"),
    ],
)
def test_edit_refuses_bad_input_and_writes_nothing(app, owner, store_a, changes, message):
    product = make_product(store_a, "Kopi", status="draft", tags="coffee")
    data = edit_data(
        product, title="Changed", tags="other", **{"faq-0-question": "", "faq-0-answer": ""}
    )
    data.update(changes)
    response = owner.post(f"/admin/products/{product.id}/edit", data=data)
    assert response.status_code == 422 and message in text_of(response)
    with app.app_context():
        row = db.session.get(Product, product.id)
        assert (row.title, row.tags_text, row.status) == ("Kopi", "coffee", "draft")
        assert db.session.scalar(select(func.count()).select_from(ProductSlugRedirect)) == 0


def test_script_in_title_description_and_tags_is_inert(app, owner, store_a):
    product = make_product(store_a, "Plain", status="draft")
    data = edit_data(
        product,
        title="<script>alert('t')</script>",
        slug="plain",
        description_md="<script>alert('d')</script> **ok**",
        tags="<script>alert('g')</script>, <img src=x onerror=alert(1)>",
    )
    assert owner.post(f"/admin/products/{product.id}/edit", data=data).status_code == 303
    for path in (f"/admin/products/{product.id}/edit", "/admin/products/"):
        page = text_of(owner.get(path))
        assert "<script>alert" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(" in page
    with app.app_context():
        row = db.session.get(Product, product.id)
        assert (
            "<script" not in row.description_html and "<strong>ok</strong>" in row.description_html
        )
        assert db.session.scalar(select(func.count()).select_from(ProductTag)) == 2


@pytest.mark.backends(*BACKENDS)  # unique SKUs and slugs (LIKE)
def test_duplicate_copies_as_a_draft_with_new_skus(app, owner, store_a):
    product = make_product(
        store_a,
        "Tee",
        variants=[VariantData("TEE-S", 1000, ["S"], stock=4), VariantData("TEE-M", 1200, ["M"])],
        option_names=["Size"],
        tags="cotton",
        faqs=[("Q?", "A.")],
    )
    first = owner.post(f"/admin/products/{product.id}/duplicate")
    second = owner.post(f"/admin/products/{product.id}/duplicate")
    assert first.status_code == second.status_code == 303
    with app.app_context():
        copies = db.session.scalars(
            select(Product).where(Product.id != product.id).order_by(Product.id)
        ).all()
        assert [c.status for c in copies] == ["draft", "draft"]
        assert [v.sku for v in copies[0].variants] == ["TEE-S-COPY", "TEE-M-COPY"]
        assert [v.sku for v in copies[1].variants] == ["TEE-S-COPY2", "TEE-M-COPY2"]
        assert copies[0].variants[0].option1 == "S" and copies[0].option1_name == "Size"
        assert copies[0].slug != product.slug and copies[0].tags_text == "cotton"
        assert [f.question for f in copies[0].faqs] == ["Q?"]
        assert (copies[0].min_price, copies[0].max_price) == (1000, 1200)
        assert first.headers["Location"] == f"/admin/products/{copies[0].id}/edit"


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_archive_and_delete_are_post_only(app, owner, store_a):
    product = make_product(store_a, "Gone Soon")
    assert owner.get(f"/admin/products/{product.id}/delete").status_code == 405
    assert owner.get(f"/admin/products/{product.id}/archive").status_code == 405
    assert owner.post(f"/admin/products/{product.id}/archive").status_code == 303
    with app.app_context():
        assert db.session.get(Product, product.id).status == "archived"
    response = owner.post(f"/admin/products/{product.id}/delete")
    assert response.status_code == 303 and response.headers["Location"] == "/admin/products/"
    with app.app_context():
        assert db.session.get(Product, product.id) is None
        assert db.session.scalar(select(func.count()).select_from(Variant)) == 0


PRODUCT_ROUTES = [
    ("GET", "/admin/products/{p}/edit"),
    ("POST", "/admin/products/{p}/edit"),
    ("POST", "/admin/products/{p}/options"),
    ("POST", "/admin/products/{p}/duplicate"),
    ("POST", "/admin/products/{p}/archive"),
    ("POST", "/admin/products/{p}/delete"),
]


@pytest.mark.backends(*BACKENDS)  # another store's rows
@pytest.mark.parametrize(("method", "path"), PRODUCT_ROUTES)
def test_another_stores_product_is_404(app, owner, store_a, store_b, method, path):
    theirs = make_product(store_b, "Theirs", status="draft")
    response = owner.open(
        path.format(p=theirs.id),
        method=method,
        data=edit_data(theirs, title="Hacked", option1_name="Size", option1_values="S"),
    )
    assert response.status_code == 404
    with app.app_context():
        row = db.session.get(Product, theirs.id)
        assert (row.title, row.status, row.option1_name) == ("Theirs", "draft", None)
        assert db.session.scalar(select(func.count()).select_from(Product)) == 1


@pytest.mark.backends(*BACKENDS)  # another store's rows
def test_another_stores_category_in_the_form_is_404(app, owner, store_a, store_b):
    product = make_product(store_a, "Mine")
    with app.app_context():
        theirs = Category(store_id=store_b.id, name="Theirs", slug="theirs")
        db.session.add(theirs)
        db.session.commit()
        theirs_id = theirs.id
    response = owner.post(
        f"/admin/products/{product.id}/edit", data=edit_data(product, categories=[str(theirs_id)])
    )
    assert response.status_code == 404
    created = owner.post("/admin/products/new", data={**NEW, "categories": [str(theirs_id)]})
    assert created.status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Product)) == 1


def test_dashboard_actions_need_the_csrf_token(app, client_for, store_a):
    """The app-wide CSRF check guards every dashboard POST, including ones with no fields."""
    from app.accounts.models import User
    from tests.conftest import sign_in_as

    product = make_product(store_a, "Guarded")
    with app.app_context():
        owner = db.session.scalar(select(User).where(User.email == "owner@alpha.example.com"))
        db.session.expunge(owner)
    app.config["WTF_CSRF_ENABLED"] = True
    client = client_for(store_a)
    sign_in_as(client, owner)
    response = client.post(f"/admin/products/{product.id}/archive")
    assert response.status_code == 400
    with app.app_context():
        assert db.session.get(Product, product.id).status == "active"
