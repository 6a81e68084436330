"""Schemathesis against the served OpenAPI document, on PostgreSQL: every operation, with
valid and invalid data, on real rows and on ids that don't exist. No answer is a 500, and
every answer (successes and problem+json errors alike) matches the document."""

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.extensions import db
from app.orders import states
from app.orders.models import Coupon
from tests.api.helpers import bearer, make_key
from tests.conftest import host_for
from tests.factories import make_category, make_product
from tests.web.order_helpers import make_order

pytestmark = pytest.mark.backends("postgresql")
EXAMPLES = 12  # per operation and mode: about 20 s for the whole document


def _no_server_error(ctx, response, case):
    """No 5xx, whatever was sent."""
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text}"


CHECKS = [
    _no_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _seed(app, store):
    """Rows the fuzzer's requests can find: a product, a category, a paid order, a coupon."""
    make_category(store, "Lamps")
    product = make_product(store, "Desk Lamp")
    variant_id = product.variants[0].id
    order = make_order(app, store, variant_id, status=states.PAID)
    with app.app_context():
        coupon = Coupon(store_id=store.id, code="FUZZ-10", kind="percent", value=10)
        db.session.add(coupon)
        db.session.commit()
        coupon_id = coupon.id
    return {
        "product_id": product.id,
        "variant_id": variant_id,
        "order_id": order["id"],
        "coupon_id": coupon_id,
    }


def test_every_operation_answers_as_documented(app, client_for, store_a):
    app.config["API_RATE_LIMIT"] = "100000 per minute"
    secret = make_key(app, store_a)
    real_ids = _seed(app, store_a)
    spec = client_for(store_a).get("/api/v1/openapi.json").get_json()
    schema = schemathesis.openapi.from_dict(spec)
    schema.app = app
    base_url = f"http://{host_for(store_a)}"
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 19
    succeeded: set[str] = set()

    for operation in operations:
        wanted = {p.name for p in operation.path_parameters}
        fixed = {name: real_ids[name] for name in wanted if name in real_ids}
        for mode, path_parameters in (
            (GenerationMode.POSITIVE, fixed),
            (GenerationMode.POSITIVE, None),
            (GenerationMode.NEGATIVE, fixed),
        ):
            if mode is GenerationMode.POSITIVE and path_parameters is None and not wanted:
                continue  # nothing in the path to vary: the first run covered it

            strategy = operation.as_strategy(mode, path_parameters=path_parameters or None)
            _fuzz(strategy, operation.label, base_url, bearer(secret), succeeded)
    # Not only refusals: most operations were also carried out on the seeded rows.
    assert len(succeeded) >= 17, sorted(succeeded)


def _fuzz(strategy, label: str, base_url: str, headers: dict, succeeded: set) -> None:
    """Send EXAMPLES cases of one operation and mode; note the operation if one succeeded."""

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case):
        response = case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)
        if response.status_code < 300:
            succeeded.add(label)

    run()
