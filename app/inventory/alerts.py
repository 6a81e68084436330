"""Low-stock alerts: one email to the store's owners and managers each time a variant's stock
falls from above its threshold to at or below it.

"Once per crossing" holds under concurrency because the decision is taken by the movement that
changed the stock, while its UPDATE holds the variant's row lock: a conditional UPDATE sets
`low_stock_alerted` only if it was clear, and only the movement whose UPDATE matched writes the
emails. The emails are outbox rows in the movement's own transaction, so they exist exactly when
the movement does; after the commit their send jobs are enqueued (and the outbox sweep picks up
any that a crash or a Redis outage left queued). A movement that leaves stock above the threshold
clears the flag again, re-arming the alert.
"""

import logging

from flask import current_app, render_template
from flask_babel import lazy_gettext
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from app.catalog.models import Product, Variant
from app.extensions import db
from app.i18n import DEFAULT, use_language
from app.notifications.models import EmailMessage

log = logging.getLogger(__name__)

# Used for variants without a threshold of their own (also by the dashboard's low-stock list).
DEFAULT_THRESHOLD = 5
RECIPIENT_ROLES = ("owner", "manager")
_PENDING = "pasar.low_stock_emails"  # Session.info key: outbox ids to enqueue after the commit


def crossing(before: int, after: int, threshold: int, alerted: bool) -> str | None:
    """What a movement from `before` to `after` means for the alert: "alert", "rearm" or None.

    "alert" when stock fell from above the threshold to at or below it and no alert has gone
    out for this dip yet; "rearm" when stock is above the threshold and the last dip's alert
    had gone out; otherwise nothing changes.
    """
    if after > threshold:
        return "rearm" if alerted else None
    if before > threshold and not alerted:
        return "alert"
    return None


def store_default(store_id: int) -> int:
    """The store's low-stock level for variants without their own, or Pasar's default."""
    from tenants.models import Store

    store = db.session.get(Store, store_id)
    if store is None or store.low_stock_default is None:
        return DEFAULT_THRESHOLD
    return store.low_stock_default


def threshold_of(row, default: int = DEFAULT_THRESHOLD) -> int:
    """A variant's own threshold, or the store's default."""
    return default if row.low_stock_threshold is None else row.low_stock_threshold


def after_movement(store_id: int, variant_id: int, quantity: int, row) -> None:
    """Act on a movement's outcome; `row` is what its UPDATE returned (stock, threshold, ...).

    Called by apply_movement, inside its transaction, while the variant's row is locked.
    """
    if not row.track_inventory:
        return
    threshold = threshold_of(row, store_default(store_id))
    action = crossing(row.stock - quantity, row.stock, threshold, row.low_stock_alerted)
    if action == "rearm":
        db.session.execute(
            update(Variant)
            .where(Variant.id == variant_id, Variant.low_stock_alerted.is_(True))
            .values(low_stock_alerted=False)
        )
    elif action == "alert":
        won = db.session.execute(
            update(Variant)
            .where(Variant.id == variant_id, Variant.low_stock_alerted.is_(False))
            .values(low_stock_alerted=True)
        ).rowcount
        if won:
            _write_alert_emails(store_id, variant_id, row.stock, threshold)
            _emit_low_stock(store_id, [(variant_id, row.stock, threshold)])


def after_bulk(store_id: int, moves: list, source: str) -> int:
    """The same rules for many movements at once (a stock sync's batch); returns alerts sent.

    `moves` holds (variant row, quantity, stock after) with the variant's rows locked by the
    caller. The flags change in two UPDATEs, and the variants that crossed get one summary
    email (per recipient) instead of one each, so a file that lowers 10,000 SKUs sends one
    email, not 10,000.
    """
    rearm, alert = [], []
    default = store_default(store_id)
    for row, quantity, stock in moves:
        if not row.track_inventory:
            continue
        threshold = threshold_of(row, default)
        action = crossing(stock - quantity, stock, threshold, row.low_stock_alerted)
        if action == "rearm":
            rearm.append(row.id)
        elif action == "alert":
            alert.append((row.id, stock, threshold))
    if rearm:
        db.session.execute(
            update(Variant).where(Variant.id.in_(rearm)).values(low_stock_alerted=False)
        )
    if alert:
        db.session.execute(
            update(Variant)
            .where(Variant.id.in_([variant_id for variant_id, _, _ in alert]))
            .values(low_stock_alerted=True)
        )
        _write_summary_emails(store_id, alert, source)
        _emit_low_stock(store_id, alert)
    return len(alert)


SUMMARY_LIMIT = 50


def _emit_low_stock(store_id: int, alert: list) -> None:
    """One `stock.low` webhook event per variant that crossed (app/webhooks), in this
    transaction; the subscribers are read once for the whole batch."""
    from app.webhooks.events import add_deliveries, subscribers, write_event

    endpoint_ids = subscribers(store_id, "stock.low")
    if not endpoint_ids:
        return
    skus = dict(
        db.session.execute(
            select(Variant.id, Variant.sku).where(
                Variant.store_id == store_id, Variant.id.in_([v for v, _, _ in alert])
            )
        ).all()
    )
    for variant_id, stock, threshold in alert:
        data = {
            "variant_id": variant_id,
            "sku": skus.get(variant_id),
            "stock": stock,
            "threshold": threshold,
        }
        add_deliveries(write_event(store_id, "stock.low", data), endpoint_ids)


def _write_summary_emails(store_id: int, alert: list, source: str) -> None:
    from tenants.models import Store
    from tenants.urls import store_url

    store = db.session.get(Store, store_id)
    shown = alert[:SUMMARY_LIMIT]
    names = {
        variant.id: (
            title if variant.title == "Default" else f"{title} ({variant.title})",
            variant.sku,
        )
        for variant, title in db.session.execute(
            select(Variant, Product.title)
            .join(Product, Product.id == Variant.product_id)
            .where(Variant.id.in_([variant_id for variant_id, _, _ in shown]))
        )
    }
    items = [
        {
            "name": names[variant_id][0],
            "sku": names[variant_id][1],
            "stock": stock,
            "threshold": threshold,
            "link": store_url(store, f"/admin/variants/{variant_id}/stock"),
        }
        for variant_id, stock, threshold in shown
        if variant_id in names
    ]
    subject = lazy_gettext(
        "Low stock: %(count)s items at %(store)s after %(source)s",
        count=len(alert),
        store=store.name,
        source=source,
    )
    context = {
        "store": store,
        "subject": subject,
        "items": items,
        "more": len(alert) - len(items),
        "source": source,
    }
    _write_emails(store_id, "low_stock_summary", subject, context)


def recipients(store_id: int) -> list[str]:
    """The email addresses of the store's owners and managers."""
    return [address for address, _language in recipient_languages(store_id)]


def recipient_languages(store_id: int) -> list[tuple[str, str]]:
    """(email, language) of the store's owners and managers: each is written to in their own."""
    from app.accounts.models import Membership, User

    return [
        (address, language or DEFAULT)
        for address, language in db.session.execute(
            select(User.email, User.language)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.store_id == store_id, Membership.role.in_(RECIPIENT_ROLES))
            .order_by(User.id)
        )
    ]


def _write_alert_emails(store_id: int, variant_id: int, stock: int, threshold: int) -> None:
    """Add the alert's outbox rows to the session; they are sent after the commit."""
    from tenants.models import Store
    from tenants.urls import store_url

    store = db.session.get(Store, store_id)
    variant, title = db.session.execute(
        select(Variant, Product.title)
        .join(Product, Product.id == Variant.product_id)
        .where(Variant.id == variant_id)
    ).one()
    name = title if variant.title == "Default" else f"{title} ({variant.title})"
    subject = lazy_gettext(
        "Low stock: %(name)s has %(stock)s left at %(store)s",
        name=name,
        stock=stock,
        store=store.name,
    )
    context = {
        "store": store,
        "subject": subject,
        "name": name,
        "sku": variant.sku,
        "stock": stock,
        "threshold": threshold,
        "ledger_link": store_url(store, f"/admin/variants/{variant_id}/stock"),
    }
    _write_emails(store_id, "low_stock", subject, context)


def _write_emails(store_id: int, template: str, subject, context: dict) -> None:
    """Outbox rows for the store's owners and managers in this transaction, sent after it,
    each in the member's own language (`subject` is lazy: translated per language)."""
    rendered = {}
    messages = []
    for address, language in recipient_languages(store_id):
        if language not in rendered:
            with use_language(language):
                shown = str(subject)
                page = {**context, "subject": shown}
                rendered[language] = (
                    shown,
                    render_template(f"emails/{template}.txt", **page),
                    render_template(f"emails/{template}.html", lang=language, **page),
                )
        shown, text_body, html_body = rendered[language]
        messages.append(
            EmailMessage(
                to_address=address,
                subject=shown[:255],
                template=template,
                text_body=text_body,
                html_body=html_body,
                store_id=store_id,
                status="queued",
            )
        )
    if not messages:
        return
    db.session.add_all(messages)
    db.session.flush()
    db.session.info.setdefault(_PENDING, []).extend(m.id for m in messages)


@event.listens_for(Session, "after_commit")
def _send_after_commit(session: Session) -> None:
    """Enqueue the committed alerts' send jobs.

    No SQL may run on a session inside after_commit, and an inline (embedded mode) job would
    use this very session; so the jobs get a fresh app context, hence a session of their own.
    """
    if session.in_nested_transaction():
        # SQLAlchemy also calls after_commit when a SAVEPOINT is released (placing a store's
        # first order makes its counter in one): the emails aren't committed until the end.
        return
    ids = session.info.pop(_PENDING, None)
    if not ids:
        return
    from app.notifications.service import send_now

    with current_app.app_context():
        for message_id in ids:
            send_now(message_id)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    """A rolled-back movement's alert emails were never written: nothing to send."""
    if session.in_nested_transaction():
        return  # only a SAVEPOINT: the emails written before it are still to be committed
    session.info.pop(_PENDING, None)
