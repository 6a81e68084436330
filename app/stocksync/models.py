"""An upload of a stock file (`ImportRun`) and its rows, as the preview worked them out."""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.database import UTCDateTime, utcnow
from app.extensions import db
from tenants.models import StoreScoped

# queued → previewing → previewed → applying → applied → undoing → undone;
# cancelled (a preview discarded), failed (a job gave up: resumable where it says so).
RUN_STATUSES = (
    "queued",
    "previewing",
    "previewed",
    "applying",
    "applied",
    "undoing",
    "undone",
    "cancelled",
    "failed",
)
WORKING = ("queued", "previewing", "applying", "undoing")
# change: the row changes stock or prices; unchanged: it matches already; error: bad row, never
# applied; flagged: would leave less on hand than open orders hold, so it is not applied.
ROW_STATUSES = ("change", "unchanged", "error", "flagged")


class ImportRun(StoreScoped, db.Model):
    """One stock file: its content, where its jobs are, and what they did."""

    __tablename__ = "import_runs"
    __table_args__ = (
        CheckConstraint(f"status IN {RUN_STATUSES!r}", name="status"),
        Index("ix_import_runs_store_id_id", "store_id", "id"),
        Index("ix_import_runs_store_id_content_hash", "store_id", "content_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    content_hash: Mapped[str] = mapped_column(String(64))  # sha256 hex of the bytes
    status: Mapped[str] = mapped_column(String(16), default="queued")
    # What the job is doing now ("preview", "apply", "undo"): a failed run resumes that.
    phase: Mapped[str] = mapped_column(String(16), default="preview")
    forced: Mapped[bool] = mapped_column(default=False)  # applied again on purpose
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    processed_rows: Mapped[int] = mapped_column(Integer, default=0)
    # Apply and undo work in row-id order; every row up to this one is done (batch by batch).
    done_through_row_id: Mapped[int] = mapped_column(Integer, default=0)
    changes: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    flagged: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)  # rows the apply changed
    reverted: Mapped[int] = mapped_column(Integer, default=0)  # rows the undo changed back
    message: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def working(self) -> bool:
        return self.status in WORKING

    @property
    def percent(self) -> int:
        if not self.total_rows:
            return 0 if self.working else 100
        return min(100, self.processed_rows * 100 // self.total_rows)


class ImportRow(StoreScoped, db.Model):
    """One line of a stock file: what it asks for, what the preview found, what was applied."""

    __tablename__ = "import_rows"
    __table_args__ = (
        CheckConstraint(f"status IN {ROW_STATUSES!r}", name="status"),
        Index("ix_import_rows_run_id_id", "run_id", "id"),
        Index("ix_import_rows_run_id_status_id", "run_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("import_runs.id", ondelete="CASCADE"))
    line: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(String(64))
    variant_id: Mapped[int | None] = mapped_column(ForeignKey("variants.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(String(300), default="")
    # As the file asks (None: not given) and as the preview saw the store.
    new_on_hand: Mapped[int | None] = mapped_column(Integer)
    new_price: Mapped[int | None] = mapped_column(Integer)
    new_compare_at: Mapped[int | None] = mapped_column(Integer)
    old_on_hand: Mapped[int | None] = mapped_column(Integer)
    committed: Mapped[int | None] = mapped_column(Integer)
    old_price: Mapped[int | None] = mapped_column(Integer)
    old_compare_at: Mapped[int | None] = mapped_column(Integer)
    # What the apply did, so undo can reverse exactly that.
    applied_delta: Mapped[int | None] = mapped_column(Integer)
    applied_old_price: Mapped[int | None] = mapped_column(Integer)
    applied_old_compare_at: Mapped[int | None] = mapped_column(Integer)
    price_applied: Mapped[bool] = mapped_column(default=False)
