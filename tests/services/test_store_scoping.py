"""The store-scoped query helpers: rows of another store are invisible."""

import pytest
from sqlalchemy import select
from werkzeug.exceptions import NotFound

from app.accounts.models import Membership
from app.extensions import db
from tenants.context import current_store, store_context
from tenants.query import get_for_store, get_for_store_or_404, scoped_select


def _membership_id(store):
    return db.session.scalar(select(Membership.id).where(Membership.store_id == store.id))


def test_scoped_select_only_sees_the_current_store(app, store_a, store_b):
    with app.app_context():
        with store_context(store_a.id) as store:
            rows = db.session.scalars(scoped_select(Membership)).all()
            assert {m.store_id for m in rows} == {store.id}
        with store_context(store_b.id):
            rows = db.session.scalars(scoped_select(Membership)).all()
            assert {m.store_id for m in rows} == {store_b.id}


def test_get_for_store_or_404_hides_other_stores_rows(app, store_a, store_b):
    with app.app_context():
        other_id = _membership_id(store_b)
        own_id = _membership_id(store_a)
        with store_context(store_a.id):
            assert get_for_store_or_404(Membership, own_id).id == own_id
            with pytest.raises(NotFound):
                get_for_store_or_404(Membership, other_id)
            for bad in ("abc", None, "1; DROP TABLE stores", -1, 10**12):
                assert get_for_store(Membership, bad) is None


def test_no_current_store_is_a_programming_error(app):
    with app.app_context():
        with pytest.raises(RuntimeError, match="no current store"):
            current_store()
        with pytest.raises(LookupError), store_context(999999):
            pass
