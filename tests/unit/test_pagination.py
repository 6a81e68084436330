"""Page numbers from the query string and the maths of a page (no database needed)."""

import pytest

from app.pagination import MAX_PAGE, Page, locate, parse_page


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, 1),
        ("", 1),
        ("  ", 1),
        ("abc", 1),
        ("1e9", 1),
        ("2.5", 1),
        ("0", 1),
        (0, 1),
        ("-3", 1),
        (-3, 1),
        ("1", 1),
        (" 7 ", 7),
        (7, 7),
        ("999999999999", MAX_PAGE),
        ("1" * 40, MAX_PAGE),
        ("9" * 5000, MAX_PAGE),
        (["2"], 1),
        ("\x00", 1),
    ],
)
def test_a_typed_page_number_is_never_an_error(raw, expected):
    assert parse_page(raw) == expected


def test_a_page_knows_its_place_in_the_list():
    page = Page(items=list(range(25)), page=2, per_page=25, total=60)
    assert (page.pages, page.offset, page.first_index, page.last_index) == (3, 25, 26, 50)
    assert (page.has_prev, page.has_next, page.prev_num, page.next_num) == (True, True, 1, 3)
    assert page.requested == 2 and not page.past_the_end
    last = Page(items=list(range(10)), page=3, per_page=25, total=60)
    assert (last.first_index, last.last_index, last.has_next, last.next_num) == (
        51,
        60,
        False,
        None,
    )
    first = Page(items=[], page=1, per_page=25, total=60)
    assert (first.has_prev, first.prev_num) == (False, None)


def test_an_empty_list_is_one_empty_page():
    page = locate("5", 0, 25)
    assert (page.page, page.pages, page.total, page.offset) == (1, 1, 0, 0)
    assert (page.first_index, page.last_index) == (0, 0)
    assert not page.has_prev and not page.has_next
    assert page.past_the_end and page.requested == 5


@pytest.mark.parametrize(
    ("raw", "page", "past_the_end"),
    [("abc", 1, False), ("-1", 1, False), ("3", 3, False), ("4", 3, True), ("99999999", 3, True)],
)
def test_a_page_past_the_end_is_the_last_page(raw, page, past_the_end):
    found = locate(raw, 51, 25)
    assert (found.page, found.pages, found.past_the_end) == (page, 3, past_the_end)
    assert found.offset == (page - 1) * 25
