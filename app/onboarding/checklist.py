"""The first-run checklist a new store's dashboard shows until its owner has done each step."""

from dataclasses import dataclass

from sqlalchemy import exists, select

from app.catalog.models import Product
from app.checkout.models import CheckoutSettings
from app.extensions import db
from app.payments.test_mode import payment_problem
from tenants.models import Store


@dataclass(frozen=True)
class Step:
    key: str
    label: str
    done: bool
    endpoint: str  # the dashboard page where the step is done
    note: str | None = None  # why the step can't be done yet, when there is a reason


def checklist(store: Store) -> list[Step]:
    """The store's launch steps, in order, each marked done or not (two queries)."""
    has_product = db.session.scalar(select(exists().where(Product.store_id == store.id)))
    settings = db.session.get(CheckoutSettings, store.id)
    # In production the test gateway doesn't count, unless the platform allows it here.
    problem = payment_problem(store, settings)
    provider_ready = settings is not None and problem is None
    return [
        Step("product", "Add a product", bool(has_product), "dashboard.product_new"),
        Step(
            "shipping",
            "Set your shipping rates",
            settings is not None,
            "dashboard.checkout_settings",
        ),
        Step(
            "payments",
            "Choose how shoppers pay",
            provider_ready,
            "dashboard.checkout_settings",
            note=problem,
        ),
        Step(
            "publish",
            "Publish your store",
            store.is_published,
            "dashboard.home",
            note="Shoppers must be able to pay first: see the step above." if problem else None,
        ),
    ]
