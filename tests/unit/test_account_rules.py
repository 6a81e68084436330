import pytest

from app.accounts.passwords import password_problem
from app.accounts.permissions import PERMISSIONS


@pytest.mark.parametrize(
    ("password", "fragment"),
    [
        ("short", "at least 10"),
        ("1234567890", "too common"),
        ("qwertyuiop", "too common"),
        ("password123", "too common"),
        ("aaaaaaaaaaaa", "too easy"),
        ("x" * 300, "at most"),
        ("sam.shopper-2026!", "email address"),
    ],
)
def test_weak_passwords_are_refused(password, fragment):
    problem = password_problem(password, "sam.shopper@example.com")
    assert problem is not None and fragment in problem


@pytest.mark.parametrize(
    "password", ["correct-horse-battery", "Tr0ub4dor&3-xyz", "ünïcödé-pässwörd"]
)
def test_good_passwords_pass(password):
    assert password_problem(password, "sam@example.com") is None


def test_permission_table_is_what_the_docs_say():
    assert PERMISSIONS["staff.manage"] == {"owner"}
    assert PERMISSIONS["orders.refund"] == {"owner", "manager"}
    assert PERMISSIONS["settings.change"] == {"owner", "manager"}
    assert PERMISSIONS["products.edit"] == {"owner", "manager", "staff"}
    assert PERMISSIONS["orders.view"] == {"owner", "manager", "staff"}
