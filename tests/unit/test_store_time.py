"""Store time: one rule for a store's time zone, its days and the times it shows."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from tenants.models import Store, local_time


@pytest.mark.parametrize(
    ("setting", "zone"),
    [
        ("Asia/Jakarta", "Asia/Jakarta"),
        ("", "UTC"),
        (None, "UTC"),
        ("Mars/Olympus_Mons", "UTC"),  # not a zone this machine knows
        ("../../etc/passwd", "UTC"),  # ZoneInfo refuses paths with ValueError
    ],
)
def test_zone_falls_back_to_utc_when_the_setting_is_unusable(setting, zone):
    assert Store(timezone=setting).zone == ZoneInfo(zone)


def test_days_begin_at_local_midnight():
    store = Store(timezone="America/New_York")
    assert store.day_start(date(2026, 1, 15)) == datetime(2026, 1, 15, 5, tzinfo=UTC)
    assert store.day_start(date(2026, 7, 15)) == datetime(2026, 7, 15, 4, tzinfo=UTC)  # summer
    assert store.today(datetime(2026, 1, 15, 4, 59, tzinfo=UTC)) == date(2026, 1, 14)
    assert store.today(datetime(2026, 1, 15, 5, 0, tzinfo=UTC)) == date(2026, 1, 15)


def test_local_time_formats_in_the_stores_zone():
    moment = datetime(2026, 12, 31, 20, 30, tzinfo=UTC)
    assert local_time(moment, Store(timezone="Asia/Jakarta")) == "01 Jan 2027, 03:30"
    assert local_time(moment, Store(timezone="Asia/Jakarta"), "%d %b %Y") == "01 Jan 2027"
    assert local_time(moment, None) == "31 Dec 2026, 20:30"
    assert local_time(None, Store(timezone="Asia/Jakarta")) == ""
