"""Reading a stock file: bytes in, a header check and clean rows (or a reason per row) out.

Pure functions, no database: the upload view calls `check_file` for an answer at once, the
preview job calls `read_rows` for every row. Stock here is the count *on hand* (on the shelf,
units for orders not yet shipped included), which is what a warehouse count or another system
exports.
"""

import csv
import io
import re
from dataclasses import dataclass

from app.catalog.service import MAX_STOCK
from app.money import parse_amount
from app.stocksync import messages as said
from app.stored_messages import english

MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 100_000
MAX_LINE = 4_000  # characters; a stock line is a few dozen
MAX_SKU = 64
REQUIRED = ("sku", "stock")
OPTIONAL = ("price", "compare_at_price")
ALIASES = {
    "sku": "sku",
    "stock": "stock",
    "on_hand": "stock",
    "quantity": "stock",
    "qty": "stock",
    "price": "price",
    "compare_at_price": "compare_at_price",
    "compare_at": "compare_at_price",
}


class FileRefused(Exception):
    """The file as a whole can't be used; the message says why, for the vendor."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Layout:
    """What the header line says: the delimiter and which column holds what."""

    delimiter: str
    columns: dict  # canonical name -> index
    ignored: tuple  # header cells that name nothing we read


@dataclass
class ParsedRow:
    line: int
    sku: str
    on_hand: int | None = None
    price: int | None = None
    compare_at: int | None = None  # 0 asks to remove the compare-at price
    error: str = ""


def decode(data: bytes) -> str:
    """The file's text: UTF-8 (with or without a BOM), else Windows-1252 as Excel writes it."""
    if not data.strip():
        raise FileRefused(said.FILE_EMPTY)
    if len(data) > MAX_BYTES:
        raise FileRefused(english(said.FILE_TOO_LARGE, mb=MAX_BYTES // (1024 * 1024)))
    head = data[:65536]
    if b"\x00" in head or head[:4] in (b"PK\x03\x04", b"%PDF") or head[:3] == b"\xff\xd8\xff":
        raise FileRefused(said.FILE_BINARY)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        raise FileRefused(said.FILE_ENCODING) from None
    if sum(1 for ch in text[:65536] if ord(ch) < 32 and ch not in "\r\n\t") > 10:
        raise FileRefused(said.FILE_BINARY)
    return text


def _first_line(text: str) -> tuple[int, str]:
    """The first non-blank line and its number, refusing a giant one."""
    number = 0
    for number, line in enumerate(io.StringIO(text), start=1):
        if len(line) > MAX_LINE:
            raise FileRefused(english(said.FILE_GIANT_LINE, line=number, length=f"{len(line):,}"))
        if line.strip().strip(",;\t"):
            return number, line
    raise FileRefused(said.FILE_NO_LINES)


def layout(text: str) -> Layout:
    """Check the header line: it must name at least the sku and stock columns."""
    _, header = _first_line(text)
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    delimiter = max(counts, key=counts.get) if any(counts.values()) else ","
    cells = next(csv.reader([header], delimiter=delimiter))
    columns, ignored = {}, []
    for index, cell in enumerate(cells):
        key = re.sub(r"[\s-]+", "_", cell.strip().strip('"').lower())
        name = ALIASES.get(key)
        if name is None:
            if cell.strip():
                ignored.append(cell.strip()[:40])
        elif name not in columns:
            columns[name] = index
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        raise FileRefused(english(said.FILE_HEADER, missing=", ".join(missing)))
    return Layout(delimiter, columns, tuple(ignored))


def check_file(data: bytes) -> Layout:
    """Everything that can be said about the file without reading each row."""
    return layout(decode(data))


def parse_stock(raw: str) -> int:
    text = raw.strip().replace("_", "")
    if re.fullmatch(r"\d{1,3}(,\d{3})+", text):
        text = text.replace(",", "")
    if re.fullmatch(r"-\s*\d+", text):
        raise ValueError(said.STOCK_NEGATIVE)
    if not re.fullmatch(r"\d+", text):
        raise ValueError(english(said.STOCK_NOT_WHOLE, typed=raw.strip()[:20]))
    value = int(text)
    if value > MAX_STOCK:
        raise ValueError(english(said.STOCK_TOO_HIGH, max=f"{MAX_STOCK:,}"))
    return value


def read_rows(text: str, currency: str):
    """Yield a ParsedRow per non-blank line after the header (errors on the row, not raised).

    Raises FileRefused for a file that can't be read at all (bad header, too many rows, a giant
    line).
    """
    shape = layout(text)
    header_line, _ = _first_line(text)
    seen: dict[str, int] = {}
    reader = csv.reader(io.StringIO(text), delimiter=shape.delimiter, strict=False)
    count = 0
    width = max(shape.columns.values()) + 1
    try:
        for cells in reader:
            line = reader.line_num
            if line <= header_line:
                continue
            if not any(cell.strip() for cell in cells):
                continue  # blank lines, or only delimiters
            count += 1
            if count > MAX_ROWS:
                raise FileRefused(english(said.FILE_TOO_MANY_ROWS, max=f"{MAX_ROWS:,}"))
            yield _row(line, cells, shape, width, currency, seen)
    except csv.Error as error:
        raise FileRefused(english(said.FILE_BAD_CSV, line=reader.line_num, error=error)) from None


def _row(line, cells, shape: Layout, width: int, currency: str, seen: dict) -> ParsedRow:
    if any(len(cell) > MAX_LINE for cell in cells):
        return ParsedRow(line, "", error=said.ROW_TOO_LONG)
    sku = cells[shape.columns["sku"]].strip() if len(cells) > shape.columns["sku"] else ""
    row = ParsedRow(line, sku[:MAX_SKU])
    if len(cells) < width and len(cells) <= shape.columns["stock"]:
        row.error = english(said.ROW_CELLS, cells=len(cells), width=width)
        return row
    if not sku:
        row.error = said.ROW_SKU_EMPTY
        return row
    if len(sku) > MAX_SKU:
        row.error = english(said.ROW_SKU_TOO_LONG, max=MAX_SKU)
        return row
    if sku in seen:
        row.error = english(said.ROW_SKU_REPEATED, line=seen[sku])
        return row
    seen[sku] = line

    def cell(name):
        index = shape.columns.get(name)
        return cells[index] if index is not None and index < len(cells) else ""

    try:
        raw_stock = cell("stock")
        row.on_hand = parse_stock(raw_stock) if raw_stock.strip() else None
        # A bad price raises AmountError, a ValueError like parse_stock's.
        row.price = parse_amount(cell("price"), currency, blank=None)
        compare = cell("compare_at_price")
        if compare.strip() in ("0", "0.0", "0.00"):
            row.compare_at = 0
        else:
            row.compare_at = parse_amount(
                compare,
                currency,
                field="compare_at_price",
                label=said.COMPARE_AT_LABEL,  # stored: English, translated where shown
                blank=None,
            )
    except ValueError as error:
        row.error = str(error)
        return row
    if row.on_hand is None and row.price is None and row.compare_at is None:
        row.error = said.ROW_NOTHING
    return row
