"""The role matrix: every dashboard and console route, for every kind of user."""

import io
import string

import pytest
from sqlalchemy import select

from app.accounts.models import Membership
from app.audit.models import AuditLog
from app.extensions import db
from tenants.models import Store
from tests.accounts_helpers import mark_recently_confirmed, sign_in_with_factor
from tests.conftest import BACKENDS, sign_in_as
from tests.factories import add_member, make_product, make_store, make_user

# One backend: the role matrix is answered by the views' access checks, not by SQL (see "Which tests run on both databases" in the README).
pytestmark = pytest.mark.backends("sqlite")

USERS = [
    "anonymous",
    "shopper",
    "unverified_staff",
    "staff",
    "manager",
    "owner",
    "other_owner",
    "superuser",
]

SETTINGS = {
    "name": "Alpha Goods",
    "accent_color": "#123456",
    "currency": "USD",
    "locale": "en_US",
    "timezone": "UTC",
}

PRODUCT = {"title": "Renamed", "slug": "renamed", "status": "active", "tags": "a, b"}
NEW_PRODUCT = {"title": "New", "sku": "NEW-1", "price": "9.99", "stock": "1", "status": "draft"}
VARIANT = {"sku": "ROLE-1", "price": "5.00", "stock": "2", "track_inventory": "y"}
COUPON = {"code": "ROLE-10", "kind": "percent", "value": "10", "active": "y"}
CHECKOUT = {"shipping_flat": "4.00", "tax_rate": "10", "payment_provider": "test"}


def one_png() -> dict:
    """A fresh upload each time (a file object can be read once)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (1, 2, 3)).save(buffer, "PNG")
    buffer.seek(0)
    return {"images": [(buffer, "a.png")]}


# (method, path, data, host) -> expected status per user. "{staff}" is the staff membership id;
# {product}, {variant}, {image} and {category} are rows of store A (the `catalog` fixture).
ROUTES = [
    ("GET", "/admin/", None, "store"),
    ("GET", "/admin/settings", None, "store"),
    ("POST", "/admin/settings", SETTINGS, "store"),
    ("GET", "/admin/staff", None, "store"),
    ("POST", "/admin/staff/{staff}/role", {"role": "manager"}, "store"),
    ("GET", "/console/", None, "platform"),
    ("GET", "/admin/products/", None, "store"),
    ("POST", "/admin/products/bulk", {"action": "archive", "ids": "{product}"}, "store"),
    ("GET", "/admin/products/new", None, "store"),
    ("POST", "/admin/products/new", NEW_PRODUCT, "store"),
    ("GET", "/admin/products/{product}/edit", None, "store"),
    ("POST", "/admin/products/{product}/edit", PRODUCT, "store"),
    (
        "POST",
        "/admin/products/{product}/options",
        {"option1_name": "Size", "option1_values": "S, M"},
        "store",
    ),
    ("POST", "/admin/products/{product}/duplicate", None, "store"),
    ("POST", "/admin/products/{product}/archive", None, "store"),
    ("POST", "/admin/products/{product}/delete", None, "store"),
    ("GET", "/admin/products/{product}/variants/{variant}", None, "store"),
    ("GET", "/admin/products/{product}/variants/{variant}/edit", None, "store"),
    ("POST", "/admin/products/{product}/variants/{variant}", VARIANT, "store"),
    ("POST", "/admin/products/{product}/images", one_png, "store"),
    ("GET", "/admin/products/{product}/images/{image}", None, "store"),
    ("POST", "/admin/products/{product}/images/{image}", {"alt": "Front"}, "store"),
    ("POST", "/admin/products/{product}/images/{image}/move", {"direction": "down"}, "store"),
    ("POST", "/admin/products/{product}/images/{image}/delete", None, "store"),
    ("GET", "/admin/categories/", None, "store"),
    ("GET", "/admin/categories/new", None, "store"),
    ("POST", "/admin/categories/new", {"name": "Hats", "parent_id": ""}, "store"),
    ("GET", "/admin/categories/{category}/edit", None, "store"),
    ("POST", "/admin/categories/{category}/edit", {"name": "Caps", "parent_id": ""}, "store"),
    ("POST", "/admin/categories/{category}/delete", None, "store"),
    ("POST", "/admin/categories/{category}/move", {"direction": "up"}, "store"),
    ("GET", "/admin/orders/", None, "store"),
    ("GET", "/admin/orders/{paid}", None, "store"),
    ("GET", "/admin/orders/{paid}/packing-slip", None, "store"),
    ("GET", "/admin/orders/{paid}/invoice", None, "store"),
    ("POST", "/admin/orders/{paid}/ship", {"carrier": "DHL", "tracking_number": "1Z9"}, "store"),
    ("POST", "/admin/orders/{fulfilled}/deliver", None, "store"),
    ("POST", "/admin/orders/{pending}/mark-paid", None, "store"),
    ("POST", "/admin/orders/{unpaid}/cancel", {"reason": "Asked"}, "store"),
    ("POST", "/admin/orders/{paid}/refund", {"amount": "1.00"}, "store"),
    ("GET", "/admin/coupons/", None, "store"),
    ("GET", "/admin/coupons/new", None, "store"),
    ("POST", "/admin/coupons/new", COUPON, "store"),
    ("GET", "/admin/coupons/{coupon}/edit", None, "store"),
    ("POST", "/admin/coupons/{coupon}/edit", {**COUPON, "code": "ROLE-20"}, "store"),
    ("POST", "/admin/coupons/{coupon}/deactivate", None, "store"),
    ("GET", "/admin/settings/checkout", None, "store"),
    ("POST", "/admin/settings/checkout", CHECKOUT, "store"),
]

EXPECTED = {
    #                      /admin/ settings  POST     staff   role     console
    "anonymous": (302, 302, 302, 302, 302, 302),
    "shopper": (404, 404, 404, 404, 404, 404),
    "unverified_staff": (403, 403, 403, 403, 403, 404),
    "staff": (200, 403, 403, 403, 403, 404),
    "manager": (200, 200, 303, 403, 403, 404),
    "owner": (200, 200, 303, 200, 303, 404),
    "other_owner": (404, 404, 404, 404, 404, 404),
    "superuser": (200, 200, 303, 200, 303, 200),
}

# Status of each catalog route (ROUTES[6:], all "products.edit") when a member may use it.
CATALOG_ALLOWED = (
    *(200, 303, 200, 303),  # product list, bulk, new, create
    *(200, 303, 303, 303, 303, 303),  # edit, save, options, duplicate, archive, delete
    *(200, 200, 303),  # variant row, variant edit row, variant save
    *(303, 200, 303, 303, 303),  # image upload, card, alt, move, delete
    *(200, 200, 303, 200, 303, 303, 303),  # categories list, new, create, edit, save, delete, move
)
CATALOG_EXPECTED = {
    "anonymous": (302,) * len(CATALOG_ALLOWED),
    "shopper": (404,) * len(CATALOG_ALLOWED),
    "unverified_staff": (403,) * len(CATALOG_ALLOWED),
    "staff": CATALOG_ALLOWED,
    "manager": CATALOG_ALLOWED,
    "owner": CATALOG_ALLOWED,
    "other_owner": (404,) * len(CATALOG_ALLOWED),
    "superuser": CATALOG_ALLOWED,
}
for _kind, _codes in CATALOG_EXPECTED.items():
    EXPECTED[_kind] = EXPECTED[_kind] + _codes

# The order, coupon and checkout routes (ROUTES[37:]): orders.view and orders.fulfil for every
# member; orders.refund (mark paid, cancel, refund) and settings.change for managers and owners.
SALES_STAFF = (
    *(200, 200, 200, 200),  # orders list, order, packing slip, invoice (orders.view)
    *(303, 303),  # ship, deliver (orders.fulfil)
    *(403, 403, 403),  # mark paid, cancel, refund (orders.refund)
    *(403,) * 6,  # coupons list, new, create, edit, save, deactivate (settings.change)
    *(403, 403),  # checkout settings page and save (settings.change)
)
SALES_MANAGER = (
    *(200, 200, 200, 200),
    *(303, 303),
    *(303, 303, 303),
    *(200, 200, 303, 200, 303, 303),
    *(200, 303),
)
SALES_EXPECTED = {
    "anonymous": (302,) * len(SALES_MANAGER),
    "shopper": (404,) * len(SALES_MANAGER),
    "unverified_staff": (403,) * len(SALES_MANAGER),
    "staff": SALES_STAFF,
    "manager": SALES_MANAGER,
    "owner": SALES_MANAGER,
    "other_owner": (404,) * len(SALES_MANAGER),
    "superuser": SALES_MANAGER,
}
for _kind, _codes in SALES_EXPECTED.items():
    EXPECTED[_kind] = EXPECTED[_kind] + _codes

# Publishing a store (store.publish): its owner, and superusers. Store A is already published,
# so an allowed POST just says so and redirects.
ROUTES.append(("POST", "/admin/publish", None, "store"))
PUBLISH_EXPECTED = {
    "anonymous": 302,
    "shopper": 404,
    "unverified_staff": 403,
    "staff": 403,
    "manager": 403,
    "owner": 303,
    "other_owner": 404,
    "superuser": 303,
}
for _kind, _code in PUBLISH_EXPECTED.items():
    EXPECTED[_kind] = EXPECTED[_kind] + (_code,)

# The dashboard home's live list of latest orders: whoever may open the dashboard.
ROUTES.append(("GET", "/admin/latest-orders", None, "store"))
for _kind in USERS:
    EXPECTED[_kind] = EXPECTED[_kind] + (EXPECTED[_kind][0],)

# The shell's search (orders.view): every member, like the dashboard home.
ROUTES.append(("GET", "/admin/search", None, "store"))
for _kind in USERS:
    EXPECTED[_kind] = EXPECTED[_kind] + (EXPECTED[_kind][0],)

# The console's stores pages ({store} is store A): superusers only, 404 for everyone else.
CONSOLE_STORES = [
    ("GET", "/console/stores/", None, "platform"),
    ("GET", "/console/stores/{store}", None, "platform"),
    ("POST", "/console/stores/{store}/suspend", {"reason": "Unpaid fees"}, "platform"),
    ("POST", "/console/stores/{store}/reactivate", None, "platform"),
    ("POST", "/console/stores/{store}/verify-domain", None, "platform"),
]
ROUTES.extend(CONSOLE_STORES)
for _kind in USERS:
    if _kind == "anonymous":
        _codes = (302,) * len(CONSOLE_STORES)
    elif _kind == "superuser":
        _codes = (200, 200, 303, 303, 303)
    else:
        _codes = (404,) * len(CONSOLE_STORES)
    EXPECTED[_kind] = EXPECTED[_kind] + _codes

# Staff (app/dashboard/staff.py): invite, revoke, remove need staff.manage (owners, superusers);
# transferring ownership needs the owner in person. The join link is its own guard: the `invite`
# fixture's invitation is for invitee@example.com, so every signed-in user here is the wrong
# account (403). Then exports (app/dashboard/exports.py): stock.sync, managers and owners.
STAFF_ROUTES = [
    ("POST", "/admin/staff/invites", {"email": "friend@example.com", "role": "staff"}, "store"),
    ("POST", "/admin/staff/invites/{invite}/revoke", None, "store"),
    ("POST", "/admin/staff/{staff}/remove", None, "store"),
    ("POST", "/admin/staff/transfer", {"membership_id": "{staff}"}, "store"),
    ("GET", "/admin/join/{invite_token}", None, "store"),
    ("POST", "/admin/join/{invite_token}", None, "store"),
    ("GET", "/admin/exports/", None, "store"),
    ("GET", "/admin/exports/products.csv", None, "store"),
    ("GET", "/admin/exports/orders.csv", None, "store"),
]
STAFF_EXPECTED = {
    "anonymous": (302, 302, 302, 302, 200, 302, 302, 302, 302),
    "shopper": (404, 404, 404, 404, 403, 403, 404, 404, 404),
    "unverified_staff": (403, 403, 403, 403, 403, 403, 403, 403, 403),
    "staff": (403, 403, 403, 403, 403, 403, 403, 403, 403),
    "manager": (403, 403, 403, 403, 403, 403, 200, 200, 200),
    "owner": (303, 303, 303, 303, 403, 403, 200, 200, 200),
    "other_owner": (404, 404, 404, 404, 403, 403, 404, 404, 404),
    "superuser": (303, 303, 303, 403, 403, 403, 200, 200, 200),
}
ROUTES.extend(STAFF_ROUTES)
for _kind, _codes in STAFF_EXPECTED.items():
    EXPECTED[_kind] = EXPECTED[_kind] + _codes

# A variant's stock ledger (app/dashboard/inventory.py): every member sees it (dashboard.view)
# and adjusts stock or its low-stock threshold (inventory.adjust, staff included).
STOCK_ROUTES = [
    ("GET", "/admin/variants/{variant}/stock", None, "store"),
    (
        "POST",
        "/admin/variants/{variant}/stock",
        {"mode": "change", "quantity": "+2", "kind": "receive", "reason": "Delivery"},
        "store",
    ),
    ("POST", "/admin/variants/{variant}/threshold", {"threshold": "2"}, "store"),
]
STOCK_MEMBER = (200, 303, 303)
STOCK_EXPECTED = {
    "anonymous": (302, 302, 302),
    "shopper": (404, 404, 404),
    "unverified_staff": (403, 403, 403),
    "staff": STOCK_MEMBER,
    "manager": STOCK_MEMBER,
    "owner": STOCK_MEMBER,
    "other_owner": (404, 404, 404),
    "superuser": STOCK_MEMBER,
}
ROUTES.extend(STOCK_ROUTES)
for _kind, _codes in STOCK_EXPECTED.items():
    EXPECTED[_kind] = EXPECTED[_kind] + _codes

# CSV stock sync (app/dashboard/stock_sync.py): stock.sync, managers and owners. {sync_run} is a
# previewed run of store A; the POSTs that don't fit its state answer 303 with a message.
SYNC_ROUTES = [
    ("GET", "/admin/stock-sync/", None, "store"),
    (
        "POST",
        "/admin/stock-sync/",
        lambda: {"file": (io.BytesIO(b"sku,stock\nROLE-TEE,9\n"), "stock.csv")},
        "store",
    ),
    ("GET", "/admin/stock-sync/current.csv", None, "store"),
    ("GET", "/admin/stock-sync/{sync_run}", None, "store"),
    ("GET", "/admin/stock-sync/{sync_run}/progress", None, "store"),
    ("GET", "/admin/stock-sync/{sync_run}/errors.csv", None, "store"),
    ("POST", "/admin/stock-sync/{sync_run}/apply", None, "store"),
    ("POST", "/admin/stock-sync/{sync_run}/undo", None, "store"),
    ("POST", "/admin/stock-sync/{sync_run}/resume", None, "store"),
    ("POST", "/admin/stock-sync/{sync_run}/cancel", None, "store"),
]
SYNC_MEMBER = (200, 303, 200, 200, 200, 200, 303, 303, 303, 303)
SYNC_EXPECTED = {
    "anonymous": (302,) * len(SYNC_ROUTES),
    "shopper": (404,) * len(SYNC_ROUTES),
    "unverified_staff": (403,) * len(SYNC_ROUTES),
    "staff": (403,) * len(SYNC_ROUTES),
    "manager": SYNC_MEMBER,
    "owner": SYNC_MEMBER,
    "other_owner": (404,) * len(SYNC_ROUTES),
    "superuser": SYNC_MEMBER,
}
ROUTES.extend(SYNC_ROUTES)
for _kind, _codes in SYNC_EXPECTED.items():
    EXPECTED[_kind] = EXPECTED[_kind] + _codes

# The job centre (app/dashboard/job_centre.py): stock.sync to look and retry emails,
# products.edit to re-queue a stuck picture ({image} isn't stuck: a 303 with a message).
JOB_ROUTES = [
    ("GET", "/admin/jobs", None, "store"),
    ("POST", "/admin/jobs/emails/{email}/retry", None, "store"),
    ("POST", "/admin/jobs/images/{image}/retry", None, "store"),
]
JOB_EXPECTED = {
    "anonymous": (302, 302, 302),
    "shopper": (404, 404, 404),
    "unverified_staff": (403, 403, 403),
    "staff": (403, 403, 303),
    "manager": (200, 303, 303),
    "owner": (200, 303, 303),
    "other_owner": (404, 404, 404),
    "superuser": (200, 303, 303),
}
ROUTES.extend(JOB_ROUTES)
for _kind, _codes in JOB_EXPECTED.items():
    EXPECTED[_kind] = EXPECTED[_kind] + _codes

# Settings' logo and custom domain (settings.change), and the audit log (audit.view): managers
# and owners. The logo post has no file: allowed users get the 422 page.
MORE_ROUTES = [
    ("POST", "/admin/settings/logo", None, "store"),
    ("POST", "/admin/settings/domain", {"custom_domain": "shop.role.example"}, "store"),
    ("GET", "/admin/audit", None, "store"),
]
MORE_MEMBER = (422, 303, 200)
MORE_EXPECTED = {
    "anonymous": (302, 302, 302),
    "shopper": (404, 404, 404),
    "unverified_staff": (403, 403, 403),
    "staff": (403, 403, 403),
    "manager": MORE_MEMBER,
    "owner": MORE_MEMBER,
    "other_owner": (404, 404, 404),
    "superuser": MORE_MEMBER,
}
ROUTES.extend(MORE_ROUTES)
for _kind, _codes in MORE_EXPECTED.items():
    EXPECTED[_kind] = EXPECTED[_kind] + _codes

# API keys (app/dashboard/api_keys.py, settings.change): owners and managers make and revoke
# them; {api_key} is a key of store A.
API_KEY_ROUTES = [
    ("GET", "/admin/api-keys/", None, "store"),
    ("POST", "/admin/api-keys/", {"name": "ERP", "scopes": "orders:read"}, "store"),
    ("POST", "/admin/api-keys/{api_key}/revoke", None, "store"),
]
API_KEY_MEMBER = (200, 200, 303)
API_KEY_EXPECTED = {
    "anonymous": (302, 302, 302),
    "shopper": (404, 404, 404),
    "unverified_staff": (403, 403, 403),
    "staff": (403, 403, 403),
    "manager": API_KEY_MEMBER,
    "owner": API_KEY_MEMBER,
    "other_owner": (404, 404, 404),
    "superuser": API_KEY_MEMBER,
}
ROUTES.extend(API_KEY_ROUTES)
for _kind, _codes in API_KEY_EXPECTED.items():
    EXPECTED[_kind] = EXPECTED[_kind] + _codes

# Deleting a store from the console: superusers only; without the typed subdomain, a 422.
ROUTES.append(("POST", "/console/stores/{store}/delete", {"confirm": "wrong"}, "platform"))
for _kind in USERS:
    EXPECTED[_kind] = EXPECTED[_kind] + ({"anonymous": 302, "superuser": 422}.get(_kind, 404),)

# Payouts: the console's (superusers) and the store's report (payouts.view: managers, owners).
CONSOLE_PAYOUTS = [
    ("GET", "/console/payouts/", None, "platform"),
    ("GET", "/console/payouts/{store}", None, "platform"),
    ("GET", "/console/payouts/{store}.csv", None, "platform"),
    ("POST", "/console/payouts/{store}/mark-paid", {"period": ""}, "platform"),
    ("POST", "/console/stores/{store}/commission", {"rate": "6"}, "platform"),
]
ROUTES.extend(CONSOLE_PAYOUTS)
for _kind in USERS:
    if _kind == "anonymous":
        _codes = (302,) * len(CONSOLE_PAYOUTS)
    elif _kind == "superuser":
        _codes = (200, 200, 200, 303, 303)
    else:
        _codes = (404,) * len(CONSOLE_PAYOUTS)
    EXPECTED[_kind] = EXPECTED[_kind] + _codes
ROUTES.extend(
    [("GET", "/admin/payouts", None, "store"), ("GET", "/admin/payouts.csv", None, "store")]
)
for _kind, _codes in {
    "anonymous": (302, 302),
    "shopper": (404, 404),
    "unverified_staff": (403, 403),
    "staff": (403, 403),
    "manager": (200, 200),
    "owner": (200, 200),
    "other_owner": (404, 404),
    "superuser": (200, 200),
}.items():
    EXPECTED[_kind] = EXPECTED[_kind] + _codes

# The console's jobs (embedded here: a job id is always unknown, 404), emails and audit log.
CONSOLE_OPERATIONS = [
    ("GET", "/console/jobs", None, "platform"),
    ("POST", "/console/jobs/{job_path}", None, "platform"),
    ("GET", "/console/emails/", None, "platform"),
    ("GET", "/console/emails/{email}", None, "platform"),
    ("POST", "/console/emails/{email}/resend", None, "platform"),
    ("GET", "/console/audit", None, "platform"),
]
ROUTES.extend(CONSOLE_OPERATIONS)
for _kind in USERS:
    if _kind == "anonymous":
        _codes = (302,) * len(CONSOLE_OPERATIONS)
    elif _kind == "superuser":
        _codes = (200, 404, 200, 200, 303, 200)
    else:
        _codes = (404,) * len(CONSOLE_OPERATIONS)
    EXPECTED[_kind] = EXPECTED[_kind] + _codes

# The console's users pages ({shopper} is the shopper's account): superusers only.
CONSOLE_USERS = [
    ("GET", "/console/users/", None, "platform"),
    ("GET", "/console/users/{shopper}", None, "platform"),
    ("POST", "/console/users/{shopper}/disable", None, "platform"),
    ("POST", "/console/users/{shopper}/enable", None, "platform"),
    ("POST", "/console/users/{shopper}/resend-verification", None, "platform"),
    ("POST", "/console/users/{shopper}/reset-two-factor", {"reason": "Lost phone"}, "platform"),
]
ROUTES.extend(CONSOLE_USERS)
for _kind in USERS:
    if _kind == "anonymous":
        _codes = (302,) * len(CONSOLE_USERS)
    elif _kind == "superuser":
        _codes = (200, 200, 303, 303, 303, 303)
    else:
        _codes = (404,) * len(CONSOLE_USERS)
    EXPECTED[_kind] = EXPECTED[_kind] + _codes

# The console's search box (app/console/search.py): superusers only.
ROUTES.append(("GET", "/console/search", None, "platform"))
for _kind in USERS:
    EXPECTED[_kind] = EXPECTED[_kind] + ({"anonymous": 302, "superuser": 200}.get(_kind, 404),)

# Requiring two-factor sign-in of the store's members (app/dashboard/staff.py): staff.manage;
# the owner here has no second factor, so turning it on is refused with a message (303).
ROUTES.append(("POST", "/admin/staff/two-factor", {"required": "y"}, "store"))
TWO_FACTOR_EXPECTED = {
    "anonymous": 302,
    "shopper": 404,
    "unverified_staff": 403,
    "staff": 403,
    "manager": 403,
    "owner": 303,
    "other_owner": 404,
    "superuser": 303,
}
for _kind, _code in TWO_FACTOR_EXPECTED.items():
    EXPECTED[_kind] = EXPECTED[_kind] + (_code,)

# The bulk variant editor (app/dashboard/variant_grid.py): products.edit, like the product page.
# A POST naming no rows saves nothing and answers 303.
GRID_ROUTES = [
    ("GET", "/admin/products/{product}/variants", None, "store"),
    ("POST", "/admin/products/{product}/variants", None, "store"),
]
ROUTES.extend(GRID_ROUTES)
for _kind, _codes in CATALOG_EXPECTED.items():
    EXPECTED[_kind] = EXPECTED[_kind] + (
        (200, 303) if _codes is CATALOG_ALLOWED else _codes[: len(GRID_ROUTES)]
    )

# Outbound webhooks (app/dashboard/webhooks.py): settings.change, managers and owners.
# {endpoint} and {delivery} are store A's; the endpoint's address (TEST-NET) is refused at
# once by the delivery's SSRF guard, so a test event or replay makes no network call.
HOOK = {"url": "https://hooks.example.com/in", "events": "order.paid"}
WEBHOOK_ROUTES = [
    ("GET", "/admin/webhooks/", None, "store"),
    ("POST", "/admin/webhooks/", HOOK, "store"),
    ("GET", "/admin/webhooks/{endpoint}", None, "store"),
    ("POST", "/admin/webhooks/{endpoint}", HOOK, "store"),
    ("POST", "/admin/webhooks/{endpoint}/rotate", None, "store"),
    ("POST", "/admin/webhooks/{endpoint}/enabled", {"enabled": "0"}, "store"),
    ("POST", "/admin/webhooks/{endpoint}/test", None, "store"),
    ("POST", "/admin/webhooks/{endpoint}/delete", None, "store"),
    ("GET", "/admin/webhooks/deliveries", None, "store"),
    ("GET", "/admin/webhooks/deliveries/{delivery}", None, "store"),
    ("POST", "/admin/webhooks/deliveries/{delivery}/replay", None, "store"),
]
WEBHOOK_MEMBER = (200, 303, 200, 303, 303, 303, 303, 303, 200, 200, 303)
ROUTES.extend(WEBHOOK_ROUTES)
for _kind, _codes in {
    "anonymous": (302,) * len(WEBHOOK_ROUTES),
    "shopper": (404,) * len(WEBHOOK_ROUTES),
    "unverified_staff": (403,) * len(WEBHOOK_ROUTES),
    "staff": (403,) * len(WEBHOOK_ROUTES),
    "manager": WEBHOOK_MEMBER,
    "owner": WEBHOOK_MEMBER,
    "other_owner": (404,) * len(WEBHOOK_ROUTES),
    "superuser": WEBHOOK_MEMBER,
}.items():
    EXPECTED[_kind] = EXPECTED[_kind] + _codes

# The low-stock panel's fragment (dashboard.view), and the live update streams
# (app/live/views.py): the dashboard's is its members' (dashboard.view), an
# order's is open to the store's staff (orders.view; the shopper's key is tested in
# tests/web/test_live.py), the store's stock is public, the console's is superusers'.
LIVE_ROUTES = [
    ("GET", "/admin/low-stock", None, "store"),
    ("GET", "/live/admin", None, "store"),
    ("GET", "/live/orders/{paid}", None, "store"),
    ("GET", "/live/stock", None, "store"),
    ("GET", "/console/live/", None, "platform"),
]
ROUTES.extend(LIVE_ROUTES)
for _kind, _codes in {
    "anonymous": (302, 302, 404, 200, 302),
    "shopper": (404, 404, 404, 200, 404),
    "unverified_staff": (403, 403, 404, 200, 404),
    "staff": (200, 200, 200, 200, 404),
    "manager": (200, 200, 200, 200, 404),
    "owner": (200, 200, 200, 200, 404),
    "other_owner": (404, 404, 404, 200, 404),
    "superuser": (200, 200, 200, 200, 200),
}.items():
    EXPECTED[_kind] = EXPECTED[_kind] + _codes


@pytest.fixture(autouse=True)
def _streams_end_at_once(app, monkeypatch):
    """The matrix reads every answer to the end: live streams end after a moment here."""
    monkeypatch.setitem(app.config, "LIVE_MAX_SECONDS", 0.05)
    monkeypatch.setitem(app.config, "LIVE_MAX_STREAMS", 0)


@pytest.fixture
def cast(app, store_a):
    """One user of each kind around store A (and a store B whose owner is a stranger to A)."""
    people = {
        "shopper": make_user("shopper@example.com"),
        "unverified_staff": make_user("unverified@example.com", verified=False),
        "staff": make_user("staff@example.com"),
        "manager": make_user("manager@example.com"),
        "superuser": make_user("root@example.com", superuser=True),
    }
    with app.app_context():
        people["owner"] = db.session.scalar(
            select(Membership).where(Membership.store_id == store_a.id, Membership.role == "owner")
        ).user
        db.session.expunge(people["owner"])
    store_b = make_store("bravo", "Bravo Supply")
    with app.app_context():
        people["other_owner"] = db.session.scalar(
            select(Membership).where(Membership.store_id == store_b.id)
        ).user
        db.session.expunge(people["other_owner"])
    memberships = {
        "staff": add_member(store_a, people["staff"], "staff"),
        "manager": add_member(store_a, people["manager"], "manager"),
    }
    add_member(store_a, people["unverified_staff"], "staff")
    return people, memberships


@pytest.fixture
def catalog(app, store_a):
    """A product with one variant and one image, and a category, in store A."""
    from app.catalog.images import add_image
    from app.catalog.models import Category, Product
    from app.catalog.service import VariantData

    product = make_product(store_a, "Role Tee", variants=[VariantData("ROLE-TEE", 1500, stock=3)])
    with app.app_context():
        image = add_image(db.session.get(Product, product.id), one_png()["images"][0][0].read())
        category = Category(store_id=store_a.id, name="Tops", slug="tops")
        db.session.add(category)
        db.session.commit()
        ids = {"image": image.id, "category": category.id}
    with app.app_context():
        from app.stocksync import service as sync

        run = sync.create_run(
            db.session.get(Store, store_a.id), None, "role.csv", b"sku,stock\nROLE-TEE,7\n"
        )
        db.session.commit()
        sync.build_preview(run.id)
        ids["sync_run"] = run.id
        from app.notifications.models import EmailMessage

        email = EmailMessage(
            to_address="someone@example.com",
            subject="Role",
            template="role",
            text_body="x",
            store_id=store_a.id,
            status="failed",
        )
        db.session.add(email)
        db.session.commit()
        ids["email"] = email.id
        ids["job_path"] = "retry/default/some-job"
        from app.api.keys import create_key

        ids["api_key"] = create_key(
            db.session.get(Store, store_a.id), "Role key", ["stock:read"]
        ).key.id
        db.session.commit()
        from app.webhooks.events import emit
        from tests.webhook_helpers import add_endpoint

        ids["endpoint"] = add_endpoint(store_a, "https://192.0.2.10/hook")["id"]
        from app.webhooks.models import WebhookDelivery

        emit(store_a.id, "order.paid", {"number": 1})
        db.session.commit()
        ids["delivery"] = db.session.scalar(select(WebhookDelivery.id))
    return {"product": product.id, "variant": product.variants[0].id, **ids}


@pytest.fixture
def sales(app, store_a):
    """Store A's orders in the states each action needs, and a coupon (numbers and id)."""
    from tests.web.order_helpers import make_order, make_variant

    variant = make_variant(store_a, "ROLE-LAMP", 2500, stock=20)
    orders = {
        kind: make_order(app, store_a, variant, quantity=1, status=status)["number"]
        for kind, status in [
            ("pending", "pending_payment"),
            ("unpaid", "pending_payment"),
            ("paid", "paid"),
            ("fulfilled", "fulfilled"),
        ]
    }
    with app.app_context():
        from app.orders.models import Coupon

        coupon = Coupon(store_id=store_a.id, code="ROLE-OLD", kind="percent", value=5)
        db.session.add(coupon)
        db.session.commit()
        return {**orders, "coupon": coupon.id}


@pytest.fixture
def invite(app, store_a):
    """A pending invitation of store A for someone outside the cast: its id and link token."""
    from datetime import timedelta

    from app.accounts.invites import make_invite_token
    from app.accounts.models import StoreInvite
    from app.database import utcnow

    with app.app_context():
        row = StoreInvite(
            store_id=store_a.id,
            email="invitee@example.com",
            role="staff",
            expires_at=utcnow() + timedelta(days=7),
        )
        db.session.add(row)
        db.session.commit()
        return {"invite": row.id, "invite_token": make_invite_token(row)}


# The ids each row fixture provides: a change test builds only the rows its route names.
ROW_FIXTURES = {
    "catalog": {
        "product",
        "variant",
        "image",
        "category",
        "sync_run",
        "email",
        "job_path",
        "api_key",
        "endpoint",
        "delivery",
    },
    "sales": {"pending", "unpaid", "paid", "fulfilled", "coupon"},
    "invite": {"invite", "invite_token"},
}


def _named(route_index: int) -> set[str]:
    """The ids (`{name}` placeholders) a route's path and form use."""
    _, path, data, _ = ROUTES[route_index]
    data = data() if callable(data) else data
    texts = [path, *[v for v in (data or {}).values() if isinstance(v, str)]]
    return {name for text in texts for _, name, _, _ in string.Formatter().parse(text) if name}


def _rows_for(request, route_index: int) -> dict:
    """The row fixtures (catalog, sales, invite) whose ids the route uses, built for it alone:
    the rows cost most of a matrix test's time, and most routes need one kind or none."""
    named = _named(route_index)
    return {
        fixture: request.getfixturevalue(fixture) if named & keys else {}
        for fixture, keys in ROW_FIXTURES.items()
    }


def _request(client_for, store_a, cast, catalog, sales, invite, user_kind, route_index):
    """Make one matrix request as `user_kind`; returns (response, method, path)."""
    people, memberships = cast
    method, path, data, host = ROUTES[route_index]
    ids = {
        "staff": memberships["staff"].id,
        "store": store_a.id,
        "shopper": people["shopper"].id,
        **catalog,
        **sales,
        **invite,
    }
    path = path.format(**ids)
    data = data() if callable(data) else data
    if data:
        data = {k: v.format(**ids) if isinstance(v, str) else v for k, v in data.items()}
    client = client_for(store_a if host == "store" else None)
    if user_kind == "superuser":
        sign_in_with_factor(client, people[user_kind])  # admins have (and just used) one
    elif user_kind != "anonymous":
        sign_in_as(client, people[user_kind])
        # Confirmed just now, as after signing in: the matrix is about roles, and the step-up
        # guard on the staff and payment routes has its own tests (tests/security/test_step_up).
        mark_recently_confirmed(client, people[user_kind])
    # Buffered: a streamed download (the CSV exports) keeps its request context pushed until its
    # body is read to the end, and would leak into the next request of the matrix.
    return client.open(path, method=method, data=data, buffered=True), method, path


def _changes_something(user_kind: str, route_index: int) -> bool:
    """A POST the user is allowed to make changes the data later cases would see."""
    return ROUTES[route_index][0] != "GET" and EXPECTED[user_kind][route_index] in (200, 303)


def _check(response, expected, where):
    problems = []
    if response.status_code != expected:
        problems.append(f"{where}: {response.status_code}, expected {expected}")
    elif expected == 302 and not response.headers["Location"].startswith("/account/signin?next="):
        problems.append(f"{where}: redirected to {response.headers['Location']}")
    return problems


@pytest.mark.parametrize("user_kind", USERS)
def test_role_matrix_reads_and_refusals(
    app, client_for, store_a, cast, catalog, sales, invite, user_kind
):
    """Every route whose answer changes nothing (pages, refusals) for one kind of user.

    They share one set of rows; each allowed POST gets fresh rows in the test below.
    """
    problems = []
    for index in range(len(ROUTES)):
        if _changes_something(user_kind, index):
            continue
        response, method, path = _request(
            client_for, store_a, cast, catalog, sales, invite, user_kind, index
        )
        problems += _check(response, EXPECTED[user_kind][index], f"{user_kind} {method} {path}")
    assert problems == []


@pytest.mark.parametrize(
    ("user_kind", "route_index"),
    [(u, i) for u in USERS for i in range(len(ROUTES)) if _changes_something(u, i)],
)
def test_role_matrix_allowed_changes(
    request, app, client_for, store_a, cast, user_kind, route_index
):
    """Every POST a user may make, each on its own fresh rows (only those its route names)."""
    rows = _rows_for(request, route_index)
    response, method, path = _request(
        client_for,
        store_a,
        cast,
        rows["catalog"],
        rows["sales"],
        rows["invite"],
        user_kind,
        route_index,
    )
    where = f"{user_kind} {method} {path}"
    assert _check(response, EXPECTED[user_kind][route_index], where) == []


def test_every_dashboard_and_console_route_is_guarded_and_in_the_matrix(app):
    """A new dashboard or console route must declare its permission and join ROUTES."""
    covered = {(method, path.split("{")[0].rstrip("/")) for method, path, _, _ in ROUTES}
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith(("dashboard.", "console.", "live.", "console_live.")):
            continue
        view = app.view_functions[rule.endpoint]
        assert getattr(view, "permission", None), f"{rule.endpoint} has no permission guard"
        prefix = rule.rule.split("<")[0].rstrip("/")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (method, prefix) in covered, f"{method} {rule.rule} is not in the role matrix"


def test_a_membership_id_from_another_store_is_404(app, client_for, store_a, cast):
    people, _ = cast
    store_c = make_store("charlie", "Charlie Co")
    outsider = add_member(store_c, make_user("c-staff@example.com"), "staff")
    client = client_for(store_a)
    sign_in_as(client, people["owner"])
    mark_recently_confirmed(client, people["owner"])
    response = client.post(f"/admin/staff/{outsider.id}/role", data={"role": "manager"})
    assert response.status_code == 404
    with app.app_context():
        assert db.session.get(Membership, outsider.id).role == "staff"


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_role_change_is_audited_and_owner_is_protected(app, client_for, store_a, cast):
    people, memberships = cast
    client = client_for(store_a)
    sign_in_as(client, people["owner"])
    mark_recently_confirmed(client, people["owner"])
    response = client.post(f"/admin/staff/{memberships['staff'].id}/role", data={"role": "manager"})
    assert response.status_code == 303
    with app.app_context():
        entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "role.changed"))
        assert entry.details["old"] == "staff" and entry.details["new"] == "manager"
        assert entry.actor_id == people["owner"].id and entry.store_id == store_a.id
        owner_membership = db.session.scalar(
            select(Membership).where(Membership.store_id == store_a.id, Membership.role == "owner")
        )
    for role in ("staff", "owner", "emperor", ""):
        refused = client.post(f"/admin/staff/{owner_membership.id}/role", data={"role": role})
        assert refused.status_code == 422
    with app.app_context():
        assert db.session.get(Membership, owner_membership.id).role == "owner"


def test_settings_are_validated_and_saved(app, client_for, store_a, cast):
    people, _ = cast
    client = client_for(store_a)
    sign_in_as(client, people["manager"])
    bad = client.post("/admin/settings", data={**SETTINGS, "currency": "XXQ"})
    assert bad.status_code == 422 and "not a currency" in bad.get_data(as_text=True)
    bad_tz = client.post("/admin/settings", data={**SETTINGS, "timezone": "Mars/Base"})
    assert bad_tz.status_code == 422
    script = client.post("/admin/settings", data={**SETTINGS, "accent_color": "red;}</style>"})
    assert script.status_code == 422
    ok = client.post(
        "/admin/settings", data={**SETTINGS, "name": "Alpha Goods & Co", "currency": "EUR"}
    )
    assert ok.status_code == 303
    page = client_for(store_a).get("/")
    assert "Alpha Goods &amp; Co" in page.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(
            select(AuditLog.action).where(AuditLog.action == "store.settings_changed")
        )
