"""What a stock sync tells the vendor, in English where it is stored, translated where shown.

The preview and apply jobs store these on the run and its rows (app/stored_messages.py says how
the page translates them back). Every message a stock sync stores is listed here; the amount
messages are `parse_amount`'s own (app/money.py), which a row's bad price carries.
"""

from app.i18n import N_
from app.stored_messages import translate_stored

# The file as a whole (FileRefused).
FILE_EMPTY = N_("The file is empty.")
FILE_TOO_LARGE = N_("The file is larger than %(mb)s MB.")
FILE_BINARY = N_("This is not a CSV file: it contains binary data. Save it as CSV.")
FILE_ENCODING = N_("The file is not text in UTF-8 or Windows-1252: save it as CSV UTF-8.")
FILE_GIANT_LINE = N_(
    "Line %(line)s is %(length)s characters long: a stock file has one short line per SKU. "
    "Is this the right file?"
)
FILE_NO_LINES = N_("The file has no lines with content.")
FILE_HEADER = N_(
    "The first line must name the columns: sku, stock (and optionally price, "
    "compare_at_price). Missing: %(missing)s."
)
FILE_TOO_MANY_ROWS = N_("The file has more than %(max)s rows: split it.")
FILE_BAD_CSV = N_("Line %(line)s can't be read as CSV: %(error)s.")

# A row of the file.
ROW_TOO_LONG = N_("This line is far too long to be a stock row.")
ROW_CELLS = N_("The line has %(cells)s cells; the header names %(width)s.")
ROW_SKU_EMPTY = N_("The SKU is empty.")
ROW_SKU_TOO_LONG = N_("The SKU is longer than %(max)s characters.")
ROW_SKU_REPEATED = N_("This SKU is already on line %(line)s; each SKU may appear once.")
ROW_NOTHING = N_("The row gives no stock (and no price).")
STOCK_NEGATIVE = N_("Stock can't be negative.")
STOCK_NOT_WHOLE = N_("Stock must be a whole number, not “%(typed)s”.")
STOCK_TOO_HIGH = N_("Stock can be at most %(max)s.")

# A row against the store.
NO_SUCH_SKU = N_("No product in this store has this SKU.")
NOT_TRACKED = N_("This variant doesn't track stock: turn tracking on to sync its stock.")
COMPARE_NOT_HIGHER = N_("The compare-at price must be higher than the price.")
HELD_BY_ORDERS = N_(
    "Open orders hold %(hold)s not yet shipped: an on-hand count of %(on_hand)s can't cover "
    "them. Not applied."
)
DELETED_BEFORE_SYNC = N_("The product was deleted before the sync ran.")
NOT_UNDONE_DELETED = N_("Not undone: the product was deleted.")
NOT_UNDONE = N_("Not undone: %(notes)s.")
UNDONE_BUT = N_("Undone, but %(notes)s.")
NOTE_SOLD = N_("only %(left)s of %(taken)s could be taken back (sold since the sync)")
NOTE_PRICE_KEPT = N_("the price was changed after the sync, so it was kept")

# The run.
DISCARDED = N_("Discarded before it was applied.")

COMPARE_AT_LABEL = N_("The compare-at price")
# parse_amount's refusals (app/money.py) and the labels this area gives it.
AMOUNT_MESSAGES = (
    N_("%(label)s is required."),
    N_("%(label)s must be a number such as 19.99."),
    N_("%(label)s can't be negative."),
    N_("%(label)s can have at most %(digits)s decimal places in %(currency)s."),
    N_("%(label)s can have at most no decimals in %(currency)s."),
    N_("%(label)s can be at most %(largest)s %(currency)s."),
    N_("The price"),
    COMPARE_AT_LABEL,
)

REGISTRY = (
    FILE_EMPTY,
    FILE_TOO_LARGE,
    FILE_BINARY,
    FILE_ENCODING,
    FILE_GIANT_LINE,
    FILE_NO_LINES,
    FILE_HEADER,
    FILE_TOO_MANY_ROWS,
    FILE_BAD_CSV,
    ROW_TOO_LONG,
    ROW_CELLS,
    ROW_SKU_EMPTY,
    ROW_SKU_TOO_LONG,
    ROW_SKU_REPEATED,
    ROW_NOTHING,
    STOCK_NEGATIVE,
    STOCK_NOT_WHOLE,
    STOCK_TOO_HIGH,
    NO_SUCH_SKU,
    NOT_TRACKED,
    COMPARE_NOT_HIGHER,
    HELD_BY_ORDERS,
    DELETED_BEFORE_SYNC,
    NOT_UNDONE_DELETED,
    NOT_UNDONE,
    UNDONE_BUT,
    NOTE_SOLD,
    NOTE_PRICE_KEPT,
    DISCARDED,
    *AMOUNT_MESSAGES,
)


def shown(text: str | None, store=None) -> str:
    """A stored stock-sync message in the reader's language (a template filter)."""
    return translate_stored(text, REGISTRY, getattr(store, "locale", None))
