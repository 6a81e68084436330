"""The vendor's dashboard; views.py defines the blueprint, the modules below add pages to it."""

from app.dashboard import (  # noqa: F401
    audit,
    exports,
    job_centre,
    payouts,
    staff,
    stock_sync,
    store_pages,
)
