"""Stock reconciliation: drift between a variant's stock and its ledger is found, repaired to the
ledger, audited and reported to the store's managers, once (SQLite and PostgreSQL)."""

from sqlalchemy import select, update

from app.audit.models import AuditLog
from app.catalog.models import Product, Variant
from app.extensions import db
from app.inventory.reconcile import drifting
from app.inventory.service import ledger_total
from app.notifications.models import EmailMessage
from jobs.maintenance import reconcile_stock_job
from tests.factories import add_member, make_user
from tests.web.order_helpers import make_order, make_variant


def test_drift_is_repaired_to_the_ledger_audited_and_reported_once(app, store_a, store_b):
    manager = make_user("manager@example.com")
    add_member(store_a, manager, "manager")
    lamp = make_variant(store_a, "LAMP", 1000, stock=10)
    vase = make_variant(store_a, "VASE", 1000, stock=4)
    fine = make_variant(store_b, "FINE", 1000, stock=3)
    make_order(app, store_a, lamp, quantity=2, status="paid")  # the ledger: 10 - 2 = 8
    with app.app_context():
        # Someone "fixes" stock in the database, behind the ledger's back.
        db.session.execute(update(Variant).where(Variant.id == lamp).values(stock=50))
        db.session.execute(update(Variant).where(Variant.id == vase).values(stock=0))
        db.session.execute(
            update(Product)
            .where(
                Product.id == select(Variant.product_id).where(Variant.id == vase).scalar_subquery()
            )
            .values(in_stock=False)
        )
        db.session.commit()
        assert drifting() == [(store_a.id, lamp), (store_a.id, vase)]
        assert reconcile_stock_job() == 2
        assert drifting() == []
        assert db.session.get(Variant, lamp).stock == 8 == ledger_total(lamp)
        vase_row = db.session.get(Variant, vase)
        assert vase_row.stock == 4 and db.session.get(Product, vase_row.product_id).in_stock
        assert db.session.get(Variant, fine).stock == 3
        entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "stock.reconciled"))
        assert entry.store_id == store_a.id and entry.details["count"] == 2
        assert entry.details["variants"][0] == {"sku": "LAMP", "id": lamp, "before": 50, "after": 8}
        mails = db.session.execute(
            select(EmailMessage.to_address, EmailMessage.subject, EmailMessage.text_body)
            .where(EmailMessage.template == "stock_reconciled")
            .order_by(EmailMessage.to_address)
        ).all()
        assert [m.to_address for m in mails] == ["manager@example.com", "owner@alpha.example.com"]
        assert mails[0].subject == "Stock corrected for 2 items at Alpha Goods"
        assert "SKU LAMP: 50 → 8" in mails[0].text_body
        # Nothing left to repair: the next run changes and sends nothing.
        assert reconcile_stock_job() == 0
        assert db.session.query(EmailMessage).filter_by(template="stock_reconciled").count() == 2


def test_expired_unpaid_orders_give_their_stock_back_first(app, store_a):
    from datetime import timedelta

    from app.database import utcnow
    from app.orders.models import Order

    lamp = make_variant(store_a, "LAMP", 1000, stock=5)
    order = make_order(app, store_a, lamp, quantity=3)
    with app.app_context():
        db.session.execute(
            update(Order)
            .where(Order.id == order["id"])
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
        db.session.commit()
        assert reconcile_stock_job() == 0  # no drift: the cancellation is a movement
        assert db.session.get(Variant, lamp).stock == 5 == ledger_total(lamp)
        assert db.session.get(Order, order["id"]).status == "cancelled"
