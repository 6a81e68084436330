"""The first-run checklist a new store's dashboard shows until its owner has done each step."""

from dataclasses import dataclass

from flask_babel import gettext
from sqlalchemy import exists, select

from app.catalog.models import Product, Variant
from app.checkout.models import CheckoutSettings
from app.extensions import db
from app.i18n import N_
from app.payments.test_mode import payment_problem
from tenants.models import Store


@dataclass(frozen=True)
class Step:
    key: str
    label: str  # in English, marked with N_; the template translates it
    done: bool
    endpoint: str  # the dashboard page where the step is done
    note: str | None = None  # why the step can't be done yet (translated), when there is a reason


NEEDS_PRODUCT = N_("Add a product that is active and has stock.")
NEEDS_PAYMENTS = N_("Choose how shoppers pay in your checkout settings.")
NEEDS_PAYMENTS_FIRST = N_("Shoppers must be able to pay first: see the step above.")


def _has_sellable_product(store: Store) -> bool:
    """True if the store has an active product with at least one variant in stock."""
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    Product.store_id == store.id,
                    Product.status == "active",
                    Variant.product_id == Product.id,
                    Variant.stock > 0,
                )
            )
        )
    )


def _payments_problem(store: Store, settings: CheckoutSettings | None) -> str | None:
    """Why shoppers couldn't pay yet (no checkout settings chosen, or the provider's), or None."""
    if settings is None:
        return NEEDS_PAYMENTS
    return payment_problem(store, settings)


def publish_problems(store: Store) -> list[str]:
    """What is missing before `store` may open to shoppers: something to sell, a way to pay."""
    problems = []
    if not _has_sellable_product(store):
        problems.append(NEEDS_PRODUCT)
    problem = _payments_problem(store, db.session.get(CheckoutSettings, store.id))
    if problem:
        problems.append(problem)
    return problems


def checklist(store: Store) -> list[Step]:
    """The store's launch steps, in order, each marked done or not (a few queries)."""
    has_product = db.session.scalar(select(exists().where(Product.store_id == store.id)))
    sellable = _has_sellable_product(store) if has_product else False
    settings = db.session.get(CheckoutSettings, store.id)
    # In production the test gateway doesn't count, unless the platform allows it here.
    problem = payment_problem(store, settings)
    provider_ready = settings is not None and problem is None
    missing = [NEEDS_PRODUCT] if not sellable else []
    if not provider_ready:
        missing.append(NEEDS_PAYMENTS_FIRST)
    return [
        Step(
            "product",
            N_("Add a product"),
            sellable,
            "dashboard.product_new",
            note=gettext("Make at least one product active, with stock.") if has_product else None,
        ),
        Step(
            "shipping",
            N_("Set your shipping rates"),
            settings is not None,
            "dashboard.checkout_settings",
        ),
        Step(
            "payments",
            N_("Choose how shoppers pay"),
            provider_ready,
            "dashboard.checkout_settings",
            note=gettext(problem) if problem else None,
        ),
        Step(
            "publish",
            N_("Publish your store"),
            store.is_published,
            "dashboard.home",
            note=" ".join(gettext(message) for message in missing) or None,
        ),
    ]
