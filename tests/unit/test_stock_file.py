"""Reading stock files: encodings, delimiters, blank lines and every kind of bad row."""

import pytest

from app.stocksync import parsing


def rows(data: bytes, currency: str = "USD"):
    return list(parsing.read_rows(parsing.decode(data), currency))


def test_a_bom_semicolons_blank_lines_and_extra_columns_are_fine():
    data = "\ufeffSKU; Stock ;Price;Notes\r\n\r\nA-1;5;1.50;x\r\n;;;\r\nB-2;0;;\r\n".encode()
    parsed = rows(data)
    assert [(r.line, r.sku, r.on_hand, r.price, r.error) for r in parsed] == [
        (3, "A-1", 5, 150, ""),
        (5, "B-2", 0, None, ""),
    ]
    assert parsing.check_file(data).ignored == ("Notes",)


def test_excel_windows_encoding_and_tab_separated_files_are_read():
    assert rows("sku,stock\nCAFÉ-1,3\n".encode("cp1252"))[0].sku == "CAFÉ-1"
    assert rows(b"sku\tstock\nT-1\t7\n")[0].on_hand == 7


@pytest.mark.parametrize(
    "cell, message",
    [
        ("-3", "Stock can't be negative."),
        ("abc", "Stock must be a whole number, not “abc”."),
        ("2.5", "Stock must be a whole number, not “2.5”."),
        ("99999999999", "Stock can be at most 1,000,000,000."),
    ],
)
def test_bad_stock_is_an_error_on_its_row(cell, message):
    (row,) = rows(f"sku,stock\nA,{cell}\n".encode())
    assert row.error == message and row.on_hand is None


def test_bad_rows_say_why_and_the_rest_still_count():
    data = (
        b"sku,stock,price,compare_at_price\n"
        b"A,1,abc,\n"
        b",4,,\n"
        b"A,2,,\n"
        b"B,3,1.999,\n"
        b"C,,,\n" + b"D" * 70 + b",1,,\n"
        b"E,5,10.00,0\n"
    )
    errors = [r.error for r in rows(data)]
    assert errors == [
        "The price must be a number such as 19.99.",
        "The SKU is empty.",
        "This SKU is already on line 2; each SKU may appear once.",
        "The price can have at most 2 decimal places in USD.",
        "The row gives no stock (and no price).",
        "The SKU is longer than 64 characters.",
        "",
    ]
    assert rows(data)[-1].compare_at == 0  # 0 removes the compare-at price


def test_prices_follow_the_store_currency():
    (row,) = rows(b"sku,stock,price\nA,1,1500\n", "JPY")
    assert row.price == 1500
    (row,) = rows(b"sku,stock,price\nA,1,1500.50\n", "JPY")
    assert "no decimals" in row.error


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "The file is empty."),
        (b"\n\n  \n", "The file is empty."),
        (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
            "This is not a CSV file: it contains binary data.",
        ),
        (b"PK\x03\x04sku,stock", "This is not a CSV file"),
        (b"product,quantity_on_order\nA,1\n", "Missing: sku, stock."),
        (b"sku;price\nA;1\n", "Missing: stock."),
        (b"a" * (5 * 1024 * 1024), "Line 1 is 5,242,880 characters long"),
        (b"x" * (parsing.MAX_BYTES + 1), "larger than 10 MB"),
        (b";;;\n,,,\n", "no lines with content"),
    ],
)
def test_files_that_cant_be_used_are_refused_with_a_reason(data, message):
    with pytest.raises(parsing.FileRefused) as refused:
        parsing.check_file(data)
    assert message in refused.value.message


def test_too_many_rows_is_refused_while_reading(monkeypatch):
    monkeypatch.setattr(parsing, "MAX_ROWS", 3)
    with pytest.raises(parsing.FileRefused, match="more than 3 rows"):
        rows(b"sku,stock\nA,1\nB,1\nC,1\nD,1\n")


def test_a_giant_line_after_the_header_is_an_error_row_not_a_crash():
    (row,) = rows(b"sku,stock\n" + b"A," + b"9" * 10_000 + b"\n")
    assert row.error == "This line is far too long to be a stock row."
