"""The store's category tree in the dashboard: create, edit, move, reorder, delete."""

import pytest
from sqlalchemy import select

from app.catalog.editing import category_tree, flatten
from app.catalog.models import Category
from app.extensions import db
from tenants.models import Store
from tests.conftest import BACKENDS
from tests.web.catalog_admin_helpers import signed_in, text_of


@pytest.fixture
def owner(app, client_for, store_a):
    return signed_in(app, client_for, store_a)


def add(app, store, name, parent=None, slug=None):
    from app.catalog.editing import create_category

    with app.app_context():
        parent_row = db.session.get(Category, parent) if parent else None
        category = create_category(
            db.session.get(Store, store.id), name=name, slug=slug or "", parent=parent_row
        )
        db.session.commit()
        return category.id


def tree_of(app, store):
    with app.app_context():
        return [
            ("  " * n.depth) + n.category.name
            for n in flatten(category_tree(db.session.get(Store, store.id)))
        ]


def test_create_nested_categories_through_the_form(app, owner, store_a):
    assert owner.get("/admin/categories/").status_code == 200
    assert owner.get("/admin/categories/new").status_code == 200
    response = owner.post("/admin/categories/new", data={"name": "Clothing", "parent_id": ""})
    assert response.status_code == 303 and response.headers["Location"] == "/admin/categories/"
    with app.app_context():
        clothing = db.session.scalar(select(Category))
        assert (clothing.slug, clothing.parent_id, clothing.position) == ("clothing", None, 0)
    form = owner.get(f"/admin/categories/new?parent={clothing.id}")
    assert f'<option selected value="{clothing.id}">' in text_of(form)
    owner.post("/admin/categories/new", data={"name": "Shirts", "parent_id": str(clothing.id)})
    owner.post("/admin/categories/new", data={"name": "Hats", "parent_id": str(clothing.id)})
    owner.post("/admin/categories/new", data={"name": "Home", "slug": "Home & Living"})
    assert tree_of(app, store_a) == ["Clothing", "  Shirts", "  Hats", "Home"]
    page = text_of(owner.get("/admin/categories/"))
    page = page[page.index("<table") :]
    assert page.index("Clothing") < page.index("Shirts") < page.index("Hats") < page.index("Home")
    assert "home-living" in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": ""}, "Give the category a name"),
        ({"name": "Shirts"}, "already uses the URL handle"),
        ({"name": "Other", "slug": "shirts"}, "already uses the URL handle"),
        ({"name": "!!!"}, "at least one letter"),
        ({"name": "<script>alert(1)</script>", "slug": "x"}, None),
    ],
)
def test_bad_category_input_is_refused(app, owner, store_a, data, message):
    add(app, store_a, "Shirts")
    response = owner.post("/admin/categories/new", data={"parent_id": "", **data})
    if message is None:  # accepted, but shown inert
        assert response.status_code == 303
        page = text_of(owner.get("/admin/categories/"))
        assert "<script>alert" not in page and "&lt;script&gt;" in page
        return
    assert response.status_code == 422 and message in text_of(response)
    assert tree_of(app, store_a) == ["Shirts"]


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_a_category_cannot_be_its_own_ancestor(app, owner, store_a):
    top = add(app, store_a, "Top")
    middle = add(app, store_a, "Middle", parent=top)
    bottom = add(app, store_a, "Bottom", parent=middle)
    for parent in (top, bottom):
        response = owner.post(
            f"/admin/categories/{top}/edit",
            data={"name": "Top", "slug": "top", "parent_id": str(parent)},
        )
        assert response.status_code == 422 and "inside itself" in text_of(response)
    page = text_of(owner.get(f"/admin/categories/{top}/edit"))
    assert f'value="{middle}"' not in page and f'value="{bottom}"' not in page
    moved = owner.post(
        f"/admin/categories/{bottom}/edit",
        data={"name": "Bottom", "slug": "bottom", "parent_id": ""},
    )
    assert moved.status_code == 303
    assert tree_of(app, store_a) == ["Top", "  Middle", "Bottom"]


def test_delete_moves_children_up_to_the_parent(app, owner, store_a):
    top = add(app, store_a, "Top")
    middle = add(app, store_a, "Middle", parent=top)
    add(app, store_a, "Sibling", parent=top)
    add(app, store_a, "Child One", parent=middle)
    add(app, store_a, "Child Two", parent=middle)
    assert owner.get(f"/admin/categories/{middle}/delete").status_code == 405
    response = owner.post(f"/admin/categories/{middle}/delete")
    assert response.status_code == 303
    assert tree_of(app, store_a) == ["Top", "  Sibling", "  Child One", "  Child Two"]
    owner.post(f"/admin/categories/{top}/delete")
    assert tree_of(app, store_a) == ["Sibling", "Child One", "Child Two"]


def test_move_up_and_down_among_siblings(app, owner, store_a):
    a, b, c = (add(app, store_a, name) for name in ("A", "B", "C"))
    assert owner.post(f"/admin/categories/{c}/move", data={"direction": "up"}).status_code == 303
    assert tree_of(app, store_a) == ["A", "C", "B"]
    owner.post(f"/admin/categories/{a}/move", data={"direction": "down"})
    assert tree_of(app, store_a) == ["C", "A", "B"]
    owner.post(f"/admin/categories/{c}/move", data={"direction": "up"})  # already first
    assert tree_of(app, store_a) == ["C", "A", "B"]
    bad = owner.post(f"/admin/categories/{b}/move", data={"direction": "sideways"})
    assert bad.status_code == 422 and "Move up or down" in text_of(bad)


def test_another_stores_categories_are_404(app, owner, store_a, store_b):
    mine = add(app, store_a, "Mine")
    theirs = add(app, store_b, "Theirs")
    for method, path, data in [
        ("GET", f"/admin/categories/{theirs}/edit", None),
        ("POST", f"/admin/categories/{theirs}/edit", {"name": "Hacked"}),
        ("POST", f"/admin/categories/{theirs}/delete", None),
        ("POST", f"/admin/categories/{theirs}/move", {"direction": "up"}),
        ("GET", f"/admin/categories/new?parent={theirs}", None),
        ("POST", "/admin/categories/new", {"name": "Sneaky", "parent_id": str(theirs)}),
        ("POST", f"/admin/categories/{mine}/edit", {"name": "Mine", "parent_id": str(theirs)}),
    ]:
        assert owner.open(path, method=method, data=data).status_code == 404, (method, path)
    assert tree_of(app, store_a) == ["Mine"]
    assert tree_of(app, store_b) == ["Theirs"]
    with app.app_context():
        assert db.session.get(Category, mine).parent_id is None
