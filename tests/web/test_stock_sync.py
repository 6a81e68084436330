"""CSV stock sync in the dashboard: upload, preview, apply in batches, undo, resume, and the bad
files and requests it must refuse (SQLite and PostgreSQL; jobs run inline here, and with a real
worker in tests/integration/test_stock_sync_worker.py)."""

import io

import pytest
from sqlalchemy import func, select

from app.catalog.models import Product, Variant
from app.extensions import db
from app.inventory.models import StockMovement
from app.inventory.service import apply_movement, ledger_total
from app.stocksync import service
from app.stocksync.models import ImportRow, ImportRun
from tests.conftest import BACKENDS, sign_in_as
from tests.factories import add_member, make_user
from tests.services.test_browse import count_queries
from tests.web.order_helpers import make_order, make_variant, owner_of

HTMX = {"HX-Request": "true"}


@pytest.fixture
def owner_client(app, client_for, store_a):
    client = client_for(store_a)
    sign_in_as(client, owner_of(app, store_a))
    return client


def upload(client, body: bytes | str, name: str = "stock.csv", **form):
    data = body.encode() if isinstance(body, str) else body
    return client.post(
        "/admin/stock-sync/",
        data={"file": (io.BytesIO(data), name), **form},
        content_type="multipart/form-data",
    )


def run_id_of(response) -> int:
    assert response.status_code == 303, response.text[:500]
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])


def run_row(app, run_id: int) -> ImportRun:
    with app.app_context():
        run = db.session.get(ImportRun, run_id)
        db.session.expunge(run)
        return run


def variant(app, variant_id: int) -> dict:
    with app.app_context():
        row = db.session.get(Variant, variant_id)
        assert row.stock == ledger_total(variant_id)  # the ledger always adds up
        product = db.session.get(Product, row.product_id)
        return {
            "stock": row.stock,
            "price": row.price,
            "compare": row.compare_at_price,
            "in_stock": product.in_stock,
            "min_price": product.min_price,
        }


def sync_movements(app, variant_id: int) -> list[tuple]:
    with app.app_context():
        return [
            tuple(row)
            for row in db.session.execute(
                select(StockMovement.quantity, StockMovement.reference)
                .where(StockMovement.variant_id == variant_id, StockMovement.kind == "sync")
                .order_by(StockMovement.id)
            )
        ]


# The whole round trip --------------------------------------------------------------------------


def test_upload_preview_apply_and_undo(app, store_a, owner_client):
    lamp = make_variant(store_a, "LAMP", 1000, stock=10)
    vase = make_variant(store_a, "VASE", 2500, stock=4)
    same = make_variant(store_a, "SAME", 500, stock=7)
    make_order(app, store_a, vase, quantity=1, status="paid")  # 1 held by an open order: 3 left

    run_id = run_id_of(
        upload(owner_client, "sku,stock,price\nLAMP,25,12.50\nVASE,6,\nSAME,7,5.00\nNOPE,1,\n")
    )
    page = owner_client.get(f"/admin/stock-sync/{run_id}")
    assert page.status_code == 200
    assert "Ready to apply" in page.text and "Apply 2 changes" in page.text
    assert "<strong>Nothing has changed yet.</strong>" in page.text
    # The diff: on hand 10 → 25 and the new price; the vase's 4 on hand (3 + 1 held) → 6.
    assert '<span class="sync-old">10</span> → <strong>25</strong>' in page.text
    assert (
        "$12.50" in page.text
        and '<span class="sync-old">4</span> → <strong>6</strong>' in page.text
    )
    assert variant(app, lamp)["stock"] == 10  # nothing applied yet
    errors = owner_client.get(f"/admin/stock-sync/{run_id}?show=error")
    assert "NOPE" in errors.text and "No product in this store has this SKU." in errors.text

    applied = owner_client.post(f"/admin/stock-sync/{run_id}/apply")
    assert applied.status_code == 303
    run = run_row(app, run_id)
    assert (run.status, run.updated, run.errors, run.unchanged) == ("applied", 2, 1, 1)
    assert variant(app, lamp) == {
        "stock": 25,
        "price": 1250,
        "compare": None,
        "in_stock": True,
        "min_price": 1250,
    }
    assert variant(app, vase)["stock"] == 5  # 6 on hand, 1 of them for the open order
    assert sync_movements(app, lamp) == [(15, f"import:{run_id}")]
    assert sync_movements(app, same) == []
    done = owner_client.get(f"/admin/stock-sync/{run_id}")
    assert "Applied" in done.text and "Undo this sync" in done.text

    assert owner_client.post(f"/admin/stock-sync/{run_id}/undo").status_code == 303
    assert run_row(app, run_id).status == "undone"
    assert variant(app, lamp)["stock"] == 10 and variant(app, lamp)["price"] == 1000
    assert variant(app, vase)["stock"] == 3
    assert sync_movements(app, lamp) == [(15, f"import:{run_id}"), (-15, f"import:{run_id}")]
    with app.app_context():
        actions = db.session.scalars(select(ImportRun.status).where(ImportRun.id == run_id)).all()
        assert actions == ["undone"]


def test_the_same_file_again_is_refused_unless_insisted_and_then_changes_nothing(
    app, store_a, owner_client
):
    lamp = make_variant(store_a, "LAMP", 1000, stock=10)
    body = "sku,stock\nLAMP,30\n"
    first = run_id_of(upload(owner_client, body))
    owner_client.post(f"/admin/stock-sync/{first}/apply")
    again = upload(owner_client, body)
    assert again.status_code == 409
    assert f"already applied as stock sync #{first}" in again.text
    forced = run_id_of(upload(owner_client, body, force="1"))
    run = run_row(app, forced)
    assert (run.status, run.changes, run.unchanged, run.forced) == ("previewed", 0, 1, True)
    page = owner_client.get(f"/admin/stock-sync/{forced}")
    assert "Nothing to apply" in page.text and "sync-apply" not in page.text
    assert owner_client.post(f"/admin/stock-sync/{forced}/apply").status_code == 303
    assert "nothing to apply" in owner_client.get(f"/admin/stock-sync/{forced}").text
    assert variant(app, lamp)["stock"] == 30 and len(sync_movements(app, lamp)) == 1


def test_a_count_below_what_open_orders_hold_is_flagged_and_not_applied(app, store_a, owner_client):
    lamp = make_variant(store_a, "LAMP", 1000, stock=10)
    make_order(app, store_a, lamp, quantity=4, status="pending_payment")
    make_order(app, store_a, lamp, quantity=2, status="fulfilled")  # shipped: no longer held
    run_id = run_id_of(upload(owner_client, "sku,stock\nLAMP,3\n"))
    run = run_row(app, run_id)
    assert (run.flagged, run.changes) == (1, 0)
    page = owner_client.get(f"/admin/stock-sync/{run_id}?show=flagged")
    assert "Open orders hold 4 not yet shipped" in page.text
    report = owner_client.get(f"/admin/stock-sync/{run_id}/errors.csv")
    assert report.status_code == 200 and report.mimetype == "text/csv"
    lines = report.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0] == "line,sku,stock,price,compare_at_price,status,problem"
    assert lines[1].startswith("2,LAMP,3,,,flagged,Open orders hold 4")
    assert variant(app, lamp)["stock"] == 4


def test_stock_is_worked_out_again_when_applied(app, store_a, owner_client):
    """Between preview and apply a sale and a delivery happen: the sync sets the count it was
    given, as movements from the stock at that moment (nothing is overwritten blindly)."""
    lamp = make_variant(store_a, "LAMP", 1000, stock=10)
    run_id = run_id_of(upload(owner_client, "sku,stock\nLAMP,20\n"))
    make_order(app, store_a, lamp, quantity=3, status="paid")  # 7 left, 3 held
    with app.app_context():
        apply_movement(store_a.id, lamp, 5, "receive", reason="delivery")  # 12
        db.session.commit()
    owner_client.post(f"/admin/stock-sync/{run_id}/apply")
    # 20 on hand, 3 of them held by the paid order: 17 to sell, from 12 → a movement of +5.
    assert variant(app, lamp)["stock"] == 17
    assert sync_movements(app, lamp) == [(5, f"import:{run_id}")]


def test_prices_and_compare_at_prices_are_applied_checked_and_undone(app, store_a, owner_client):
    tee = make_variant(store_a, "TEE", 2000, stock=5)
    cap = make_variant(store_a, "CAP", 1500, stock=5)
    body = "sku,stock,price,compare_at_price\nTEE,,18.00,24.00\nCAP,,16.00,15.00\n"
    run_id = run_id_of(upload(owner_client, body))
    run = run_row(app, run_id)
    assert (run.changes, run.errors) == (1, 1)
    page = owner_client.get(f"/admin/stock-sync/{run_id}?show=error")
    assert "The compare-at price must be higher than the price." in page.text
    owner_client.post(f"/admin/stock-sync/{run_id}/apply")
    assert variant(app, tee)["price"] == 1800 and variant(app, tee)["compare"] == 2400
    assert variant(app, tee)["stock"] == 5 and sync_movements(app, tee) == []
    assert variant(app, cap)["price"] == 1500
    # Someone edits the cap... and the tee's price after the sync: undo keeps that edit.
    remove = run_id_of(upload(owner_client, "sku,stock,compare_at_price\nTEE,,0\n"))
    owner_client.post(f"/admin/stock-sync/{remove}/apply")
    assert variant(app, tee)["compare"] is None
    owner_client.post(f"/admin/stock-sync/{run_id}/undo")
    with app.app_context():
        # The TEE row (the CAP row is the refused one): rows have no order without ORDER BY,
        # and after the sync's ANALYZE PostgreSQL may read them in another.
        row = db.session.scalar(
            select(ImportRow).where(ImportRow.run_id == run_id, ImportRow.sku == "TEE")
        )
        assert "the price was changed after the sync, so it was kept" in row.message
    assert variant(app, tee)["price"] == 1800  # kept: it no longer was what the sync set
    owner_client.post(f"/admin/stock-sync/{remove}/undo")
    assert variant(app, tee)["compare"] == 2400


def test_undo_takes_back_only_what_is_left_when_units_were_sold_since(app, store_a, owner_client):
    lamp = make_variant(store_a, "LAMP", 1000, stock=2)
    run_id = run_id_of(upload(owner_client, "sku,stock\nLAMP,10\n"))
    owner_client.post(f"/admin/stock-sync/{run_id}/apply")
    make_order(app, store_a, lamp, quantity=9, status="fulfilled")  # 1 left
    owner_client.post(f"/admin/stock-sync/{run_id}/undo")
    assert variant(app, lamp)["stock"] == 0
    with app.app_context():
        row = db.session.scalar(select(ImportRow).where(ImportRow.run_id == run_id))
        assert "only 1 of 8 could be taken back" in row.message


def test_the_ledger_adds_up_after_sales_refunds_syncs_undos_and_adjustments(
    app, store_a, owner_client
):
    lamp = make_variant(store_a, "LAMP", 1000, stock=10)
    make_order(app, store_a, lamp, quantity=2, status="paid")
    make_order(app, store_a, lamp, quantity=1, status="cancelled")
    first = run_id_of(upload(owner_client, "sku,stock\nLAMP,40\n"))
    owner_client.post(f"/admin/stock-sync/{first}/apply")
    with app.app_context():
        apply_movement(store_a.id, lamp, -3, "adjust", reason="damaged")
        apply_movement(store_a.id, lamp, 1, "return", reason="returned")
        db.session.commit()
    second = run_id_of(upload(owner_client, "sku,stock\nLAMP,12\n"))
    owner_client.post(f"/admin/stock-sync/{second}/apply")
    owner_client.post(f"/admin/stock-sync/{first}/undo")
    state = variant(app, lamp)  # asserts stock == the sum of its movements
    assert state["stock"] >= 0


# Batches, failures and resuming ----------------------------------------------------------------


def test_a_failure_mid_run_leaves_whole_batches_and_the_run_resumes(
    app, store_a, owner_client, monkeypatch
):
    ids = [make_variant(store_a, f"SKU-{n}", 1000, stock=1) for n in range(7)]
    body = "sku,stock\n" + "".join(f"SKU-{n},{n + 10}\n" for n in range(7))
    run_id = run_id_of(upload(owner_client, body))
    monkeypatch.setattr(service, "BATCH", 3)
    real = service.refresh_products
    calls = []

    def crash_on_second_batch(store_id, product_ids):
        calls.append(product_ids)
        real(store_id, product_ids)
        if len(calls) == 2:
            raise RuntimeError("worker killed")

    monkeypatch.setattr(service, "refresh_products", crash_on_second_batch)
    owner_client.post(f"/admin/stock-sync/{run_id}/apply")
    run = run_row(app, run_id)
    assert (run.status, run.phase, run.processed_rows, run.updated) == ("failed", "apply", 3, 3)
    assert [variant(app, i)["stock"] for i in ids] == [10, 11, 12, 1, 1, 1, 1]
    page = owner_client.get(f"/admin/stock-sync/{run_id}")
    assert "Every batch up to row 3 of 7 was applied completely" in page.text
    assert owner_client.post(f"/admin/stock-sync/{run_id}/resume").status_code == 303
    run = run_row(app, run_id)
    assert (run.status, run.processed_rows, run.updated) == ("applied", 7, 7)
    assert [variant(app, i)["stock"] for i in ids] == [n + 10 for n in range(7)]
    assert all(len(sync_movements(app, i)) == 1 for i in ids)


def test_a_second_copy_of_the_apply_job_does_nothing(app, store_a, owner_client):
    lamp = make_variant(store_a, "LAMP", 1000, stock=1)
    run_id = run_id_of(upload(owner_client, "sku,stock\nLAMP,5\n"))
    owner_client.post(f"/admin/stock-sync/{run_id}/apply")
    with app.app_context():
        assert service.apply_run(run_id) is None
        assert service.build_preview(run_id) is None
    assert sync_movements(app, lamp) == [(4, f"import:{run_id}")]


def test_stalled_runs_are_marked_failed_by_the_sweep(app, store_a, owner_client):
    from datetime import timedelta

    from jobs.stock_sync import sweep_stalled_syncs

    make_variant(store_a, "LAMP", 1000, stock=1)
    run_id = run_id_of(upload(owner_client, "sku,stock\nLAMP,5\n"))
    with app.app_context():
        run = db.session.get(ImportRun, run_id)
        run.status, run.phase = "applying", "apply"
        db.session.flush()
        db.session.execute(
            ImportRun.__table__.update()
            .where(ImportRun.id == run_id)
            .values(updated_at=run.updated_at - timedelta(hours=1))
        )
        db.session.commit()
    page = owner_client.get(f"/admin/stock-sync/{run_id}")
    assert "the worker may have stopped" in page.text
    with app.app_context():
        assert sweep_stalled_syncs() == 1
    assert run_row(app, run_id).status == "failed"
    owner_client.post(f"/admin/stock-sync/{run_id}/resume")
    assert run_row(app, run_id).status == "applied"


# The progress fragment -------------------------------------------------------------------------


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_the_progress_fragment_polls_while_working_and_refreshes_when_done(
    app, store_a, owner_client
):
    make_variant(store_a, "LAMP", 1000, stock=1)
    run_id = run_id_of(upload(owner_client, "sku,stock\nLAMP,5\n"))
    with app.app_context():
        run = db.session.get(ImportRun, run_id)
        run.status, run.phase, run.total_rows, run.processed_rows = "applying", "apply", 8, 2
        db.session.commit()
    page = owner_client.get(f"/admin/stock-sync/{run_id}")
    assert 'hx-trigger="sse:stock-sync, every 1s"' in page.text and 'value="25"' in page.text
    poll = owner_client.get(f"/admin/stock-sync/{run_id}/progress?status=applying", headers=HTMX)
    assert poll.status_code == 200 and "HX-Refresh" not in poll.headers
    assert "2 of 8 rows" in poll.text and "<html" not in poll.text
    with app.app_context():
        db.session.get(ImportRun, run_id).status = "applied"
        db.session.commit()
    done = owner_client.get(f"/admin/stock-sync/{run_id}/progress?status=applying", headers=HTMX)
    assert done.headers["HX-Refresh"] == "true" and "every 1s" not in done.text


# Bad files and requests ------------------------------------------------------------------------


@pytest.mark.backends("sqlite")  # validation messages
@pytest.mark.parametrize(
    "body, message",
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "it contains binary data"),
        (b"a" * (10 * 1024 * 1024 + 10), "larger than 10 MB"),
        (b"x" * 100_000, "Line 1 is 100,000 characters long"),
        (b"name,amount\nA,1\n", "Missing: sku, stock."),
        (b"", "The file is empty."),
    ],
)
def test_bad_files_are_refused_at_once_and_nothing_is_recorded(
    app, store_a, owner_client, body, message
):
    response = upload(owner_client, body)
    assert response.status_code == 422
    assert message in response.text
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ImportRun)) == 0


def test_no_file_and_junk_ids_get_clear_answers(app, store_a, owner_client):
    response = owner_client.post("/admin/stock-sync/", data={}, content_type="multipart/form-data")
    assert response.status_code == 422 and "Choose a CSV file to upload." in response.text
    for path in ("/admin/stock-sync/999", "/admin/stock-sync/99999999999999999999"):
        assert owner_client.get(path).status_code == 404
    assert owner_client.post("/admin/stock-sync/999/apply").status_code == 404


@pytest.mark.backends("sqlite")  # CSV parsing messages
def test_bad_rows_become_errors_in_the_preview_not_failures(app, store_a, owner_client):
    make_variant(store_a, "LAMP", 1000, stock=1)
    body = "\ufeffsku;stock\n\nLAMP;-4\nLAMP2;abc\nGHOST;3\n;;\n"
    run_id = run_id_of(upload(owner_client, body))
    run = run_row(app, run_id)
    assert (run.status, run.errors, run.changes) == ("previewed", 3, 0)
    report = owner_client.get(f"/admin/stock-sync/{run_id}/errors.csv").get_data(as_text=True)
    assert "Stock can't be negative." in report and "Stock must be a whole number" in report
    assert "No product in this store has this SKU." in report


def test_another_stores_runs_are_404_and_its_skus_are_unknown(
    app, store_a, store_b, owner_client, client_for
):
    make_variant(store_b, "BRAVO-1", 1000, stock=5)
    run_id = run_id_of(upload(owner_client, "sku,stock\nBRAVO-1,50\n"))
    assert run_row(app, run_id).errors == 1  # store B's SKU is not store A's
    bravo = client_for(store_b)
    sign_in_as(bravo, owner_of(app, store_b))
    for method, path in [
        ("GET", f"/admin/stock-sync/{run_id}"),
        ("GET", f"/admin/stock-sync/{run_id}/progress"),
        ("GET", f"/admin/stock-sync/{run_id}/errors.csv"),
        ("POST", f"/admin/stock-sync/{run_id}/apply"),
        ("POST", f"/admin/stock-sync/{run_id}/undo"),
        ("POST", f"/admin/stock-sync/{run_id}/cancel"),
        ("POST", f"/admin/stock-sync/{run_id}/resume"),
    ]:
        assert bravo.open(path, method=method).status_code == 404, path
    # Store A's owner on store B's host is not a member there.
    stranger = client_for(store_b)
    sign_in_as(stranger, owner_of(app, store_a))
    assert stranger.get("/admin/stock-sync/").status_code == 404


@pytest.mark.backends("sqlite")  # a role refusal
def test_staff_may_not_sync(app, store_a, client_for):
    staff = make_user("stocker@example.com")
    add_member(store_a, staff, "staff")
    client = client_for(store_a)
    sign_in_as(client, staff)
    assert client.get("/admin/stock-sync/").status_code == 403
    assert upload(client, "sku,stock\nA,1\n").status_code == 403


def test_discarding_a_preview(app, store_a, owner_client):
    lamp = make_variant(store_a, "LAMP", 1000, stock=1)
    run_id = run_id_of(upload(owner_client, "sku,stock\nLAMP,5\n"))
    owner_client.post(f"/admin/stock-sync/{run_id}/cancel")
    assert run_row(app, run_id).status == "cancelled"
    owner_client.post(f"/admin/stock-sync/{run_id}/apply")
    assert variant(app, lamp)["stock"] == 1
    assert owner_client.post(f"/admin/stock-sync/{run_id}/cancel").status_code == 303
    assert "can&#39;t be discarded" in owner_client.get(f"/admin/stock-sync/{run_id}").text


def test_the_current_stock_download_round_trips(app, store_a, owner_client):
    lamp = make_variant(store_a, "LAMP", 1999, stock=6)
    make_order(app, store_a, lamp, quantity=2, status="paid")
    current = owner_client.get("/admin/stock-sync/current.csv").get_data(as_text=True)
    lines = current.lstrip("\ufeff").splitlines()
    assert lines[0] == "sku,stock,price,compare_at_price,product,variant"
    assert lines[1].startswith("LAMP,6,19.99,,Lamp LAMP")  # 4 to sell + 2 held = 6 on hand
    run_id = run_id_of(upload(owner_client, current, force="1"))
    run = run_row(app, run_id)
    assert (run.changes, run.unchanged, run.errors) == (0, 1, 0)


# Pages stay cheap ------------------------------------------------------------------------------


def test_the_sync_pages_run_a_fixed_number_of_queries(app, store_a, owner_client):
    counts = []
    for size in (3, 60):
        for n in range(size):
            make_variant(store_a, f"Q{size}-{n}", 1000, stock=1)
        body = "sku,stock\n" + "".join(f"Q{size}-{n},{n + 2}\n" for n in range(size))
        run_id = run_id_of(upload(owner_client, body))
        with app.app_context(), count_queries() as page_queries:
            assert owner_client.get(f"/admin/stock-sync/{run_id}").status_code == 200
        with app.app_context(), count_queries() as index_queries:
            assert owner_client.get("/admin/stock-sync/").status_code == 200
        counts.append((page_queries.count, index_queries.count))
    assert counts[0] == counts[1], counts
    assert counts[0][0] <= 12 and counts[0][1] <= 12, counts


def test_the_preview_names_each_skus_product_and_variant_in_one_query(app, store_a, owner_client):
    from app.catalog.service import VariantData
    from tests.factories import make_product

    make_product(
        store_a,
        "Linen <b>Shirt</b>",
        option_names=["Size", "Colour"],
        variants=[
            VariantData("LS-M", 1000, options=["M", "Sand"], stock=1),
            VariantData("LS-L", 1000, options=["L", "Sand"], stock=1),
        ],
    )
    make_variant(store_a, "SOLO", 1000, stock=1)  # no options: the product's name alone
    run_id = run_id_of(upload(owner_client, "sku,stock\nLS-M,5\nLS-L,6\nSOLO,2\nNOPE,1\n"))
    page = owner_client.get(f"/admin/stock-sync/{run_id}").text
    assert "Linen &lt;b&gt;Shirt&lt;/b&gt;" in page and "<b>Shirt" not in page  # escaped
    assert '<span class="muted">· M / Sand</span>' in page
    assert '<span class="muted">· L / Sand</span>' in page
    assert '<span class="sync-sku__name">Lamp SOLO</span>' in page
    # One query for the names of a whole page of rows, however many rows it has.
    counts = []
    for size in (2, 40):
        for n in range(size):
            make_product(
                store_a,
                f"Named {size}-{n}",
                variants=[VariantData(f"N{size}-{n}", 1000, stock=1)],
            )
        body = "sku,stock\n" + "".join(f"N{size}-{n},{n + 5}\n" for n in range(size))
        run_id = run_id_of(upload(owner_client, body))
        with app.app_context(), count_queries() as queries:
            page = owner_client.get(f"/admin/stock-sync/{run_id}").text
        assert f"Named {size}-{size - 1}" in page
        counts.append(queries.count)
    assert counts[0] == counts[1], counts


def test_a_sync_that_lowers_many_items_sends_one_low_stock_summary(app, store_a, owner_client):
    from app.notifications.models import EmailMessage

    manager = make_user("manager@example.com")
    add_member(store_a, manager, "manager")
    ids = [make_variant(store_a, f"LOW-{n}", 1000, stock=20) for n in range(3)]
    run_id = run_id_of(upload(owner_client, "sku,stock\nLOW-0,2\nLOW-1,0\nLOW-2,9\n"))
    owner_client.post(f"/admin/stock-sync/{run_id}/apply")
    with app.app_context():
        mails = db.session.execute(
            select(EmailMessage.to_address, EmailMessage.subject, EmailMessage.text_body)
            .where(EmailMessage.template == "low_stock_summary")
            .order_by(EmailMessage.to_address)
        ).all()
    assert [m.to_address for m in mails] == ["manager@example.com", "owner@alpha.example.com"]
    assert mails[0].subject == f"Low stock: 2 items at Alpha Goods after stock sync #{run_id}"
    assert "Lamp LOW-0 (SKU LOW-0): 2 left, alert at 5" in mails[0].text_body
    assert "LOW-2" not in mails[0].text_body
    # Once per dip: lower again, no new email; back above and down again, a new one.
    again = run_id_of(upload(owner_client, "sku,stock\nLOW-0,1\n"))
    owner_client.post(f"/admin/stock-sync/{again}/apply")
    owner_client.post(f"/admin/stock-sync/{again}/undo")
    owner_client.post(f"/admin/stock-sync/{run_id}/undo")  # back to 20 each: re-armed
    third = run_id_of(upload(owner_client, "sku,stock\nLOW-1,3\n", force="1"))
    owner_client.post(f"/admin/stock-sync/{third}/apply")
    with app.app_context():
        count = db.session.scalar(
            select(func.count()).where(EmailMessage.template == "low_stock_summary")
        )
    assert count == 4
    assert [variant(app, i)["stock"] for i in ids] == [20, 3, 20]


@pytest.mark.backends("sqlite")  # a Redis outage, not SQL
def test_an_upload_while_the_queue_is_down_is_kept_for_the_sweep(
    app, store_a, owner_client, monkeypatch
):
    from app.stocksync import service

    def redis_down(*args, **kwargs):
        raise ConnectionError("Redis is down")

    make_variant(store_a, "LAMP", 1000, stock=1)
    monkeypatch.setattr(service, "enqueue", redis_down)
    run_id = run_id_of(upload(owner_client, "sku,stock\nLAMP,5\n"))
    assert run_row(app, run_id).status == "queued"  # nothing lost; the sweep flags it later
    assert "Waiting for a worker" in owner_client.get(f"/admin/stock-sync/{run_id}").text
