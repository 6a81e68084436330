"""The vendor's dashboard; views.py defines the blueprint, the modules below add pages to it."""

from app.dashboard import exports, job_centre, staff, stock_sync, store_pages  # noqa: F401
