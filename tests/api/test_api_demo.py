"""The README's curl example works against the demo: the seed makes the known demo key."""

from sqlalchemy import func, select

from app.api.models import ApiKey
from app.demo import DEMO_API_KEY, seed_demo
from app.extensions import db
from tests.api.helpers import bearer


def test_the_demo_key_reads_the_demo_store(app, client_for):
    with app.app_context():
        seed_demo(products=2, images=False, orders=0)
        seed_demo(products=2, images=False, orders=0)  # again: still one key
        assert db.session.scalar(select(func.count()).select_from(ApiKey)) == 1
        from tenants.models import Store

        acme = db.session.scalar(select(Store).where(Store.slug == "acme"))
        db.session.expunge(acme)
    response = client_for(acme).get("/api/v1/products?limit=2", headers=bearer(DEMO_API_KEY))
    assert response.status_code == 200
    assert len(response.get_json()["data"]) == 2
