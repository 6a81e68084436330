"""The console's reads: what its pages list and count, as plain functions over queries.

Lists come back as one `Page` (app.pagination) of the rows, counted with a cheaper statement
where there is one. The console sees every store, so nothing here is store-scoped.
"""

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Select, func, or_, select

from app.accounts.models import Membership, User
from app.audit.models import AuditLog
from app.background import QUEUES
from app.extensions import db, redis_client
from app.notifications.models import EMAIL_STATUSES, EmailMessage
from app.orders.models import Order
from app.pagination import Page, paginate
from app.payments.models import Payment
from app.reports.sales import SOLD
from tenants.models import Store

STORE_FILTERS = ("all", "active", "suspended", "unpublished", "deleted")


def _like(q: str) -> str:
    """A LIKE pattern matching `q` anywhere, with the user's own wildcards dropped."""
    return f"%{q.lower().replace('%', '').replace('_', '')}%"


# The overview --------------------------------------------------------------------------------


def stores_by_status() -> dict[str, int]:
    """How many stores (not deleted) are in each status."""
    return dict(
        db.session.execute(
            select(Store.status, func.count())
            .where(Store.deleted_at.is_(None))
            .group_by(Store.status)
        ).all()
    )


def audit_entries(*conditions) -> Select:
    """(entry, actor email, store subdomain) of the audit entries matching, newest first."""
    return (
        select(AuditLog, User.email, Store.slug)
        .outerjoin(User, User.id == AuditLog.actor_id)
        .outerjoin(Store, Store.id == AuditLog.store_id)
        .where(*conditions)
        .order_by(AuditLog.id.desc())
    )


# Stores --------------------------------------------------------------------------------------


def _gmv_by_store():
    """Per store: paid orders' totals less refunds (gross merchandise value) and order count;
    test orders left out."""
    charged = (
        select(
            Order.store_id.label("store_id"),
            func.sum(Order.total).label("gmv"),
            func.count().label("orders"),
        )
        .where(Order.status.in_(SOLD), Order.is_test.is_(False))
        .group_by(Order.store_id)
        .subquery()
    )
    refunds = (
        select(Payment.store_id.label("store_id"), func.sum(Payment.amount).label("refunded"))
        .join(Order, Order.id == Payment.order_id)
        .where(Payment.kind == "refund", Order.is_test.is_(False))
        .group_by(Payment.store_id)
        .subquery()
    )
    return charged, refunds


def _with_sales(*columns) -> Select:
    """`columns`, then each store's GMV (net of refunds) and sold-order count, from Store."""
    charged, refunds = _gmv_by_store()
    return (
        select(
            *columns,
            func.coalesce(charged.c.gmv, 0) + func.coalesce(refunds.c.refunded, 0),
            func.coalesce(charged.c.orders, 0),
        )
        .select_from(Store)
        .outerjoin(charged, charged.c.store_id == Store.id)
        .outerjoin(refunds, refunds.c.store_id == Store.id)
    )


def stores(q: str, status: str, page, per_page: int) -> Page:
    """Rows of (store, GMV, orders) for the stores matching `q` (name, subdomain or owner
    email) in `status` (one of STORE_FILTERS), newest first: the requested page."""
    conditions = []
    if q:
        like = _like(q)
        owners = (
            select(Membership.store_id)
            .join(User, User.id == Membership.user_id)
            .where(Membership.role == "owner", func.lower(User.email).like(like))
        )
        conditions.append(
            or_(func.lower(Store.name).like(like), Store.slug.like(like), Store.id.in_(owners))
        )
    if status == "unpublished":
        conditions.append(Store.published_at.is_(None))
        conditions.append(Store.deleted_at.is_(None))
    elif status == "deleted":
        conditions.append(Store.deleted_at.is_not(None))
    elif status != "all":
        conditions.append(Store.status == status)
        conditions.append(Store.deleted_at.is_(None))
    return paginate(
        _with_sales(Store).where(*conditions).order_by(Store.created_at.desc(), Store.id.desc()),
        page,
        per_page,
        count=select(func.count()).select_from(Store).where(*conditions),
    )


def store_sales(store: Store) -> tuple[int, int]:
    """One store's GMV (net of refunds, test orders left out) and sold-order count."""
    return tuple(db.session.execute(_with_sales().where(Store.id == store.id)).one())


def count_test_orders(store: Store) -> int:
    """How many of the store's orders are test orders."""
    return db.session.scalar(
        select(func.count()).where(Order.store_id == store.id, Order.is_test.is_(True))
    )


def store_members(store: Store) -> list:
    """(membership, user) of the store's members, in the order they joined."""
    return db.session.execute(
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.store_id == store.id)
        .order_by(Membership.created_at, Membership.id)
    ).all()


# Users ---------------------------------------------------------------------------------------


def users(q: str, page, per_page: int) -> Page:
    """Rows of (user, how many stores they belong to) for the accounts whose email or name has
    `q`, newest first: the requested page."""
    conditions = []
    if q:
        like = _like(q)
        conditions.append(or_(func.lower(User.email).like(like), func.lower(User.name).like(like)))
    memberships = (
        select(Membership.user_id, func.count().label("stores"))
        .group_by(Membership.user_id)
        .subquery()
    )
    return paginate(
        select(User, func.coalesce(memberships.c.stores, 0))
        .outerjoin(memberships, memberships.c.user_id == User.id)
        .where(*conditions)
        .order_by(User.created_at.desc(), User.id.desc()),
        page,
        per_page,
        count=select(func.count()).select_from(User).where(*conditions),
    )


def user_memberships(user: User) -> list:
    """(membership, store) of the user's stores, by store name."""
    return db.session.execute(
        select(Membership, Store)
        .join(Store, Store.id == Membership.store_id)
        .where(Membership.user_id == user.id)
        .order_by(Store.name)
    ).all()


def user_activity(user: User, limit: int = 20) -> list[AuditLog]:
    """What the user did lately, newest first."""
    return db.session.scalars(
        select(AuditLog)
        .where(AuditLog.actor_id == user.id)
        .order_by(AuditLog.id.desc())
        .limit(limit)
    ).all()


# The audit log -------------------------------------------------------------------------------


def audit_filters(
    store_slug: str, email: str, action: str, start: date | None, end: date | None
) -> tuple[list, list[str]]:
    """The conditions for the audit log's filters, and notes on the ones that match nobody."""
    conditions, notes = [], []
    if store_slug:
        store_id = db.session.scalar(select(Store.id).where(Store.slug == store_slug))
        conditions.append(AuditLog.store_id == (store_id or -1))
        if store_id is None:
            notes.append(f"No store has the subdomain {store_slug}.")
    if email:
        user_id = db.session.scalar(select(User.id).where(func.lower(User.email) == email))
        conditions.append(AuditLog.actor_id == (user_id or -1))
        if user_id is None:
            notes.append(f"No account has the address {email}.")
    if action:
        conditions.append(AuditLog.action.startswith(action, autoescape=True))
    if start:
        conditions.append(AuditLog.created_at >= datetime.combine(start, datetime.min.time(), UTC))
    if end:
        until = datetime.combine(end, datetime.min.time(), UTC) + timedelta(days=1)
        conditions.append(AuditLog.created_at < until)
    return conditions, notes


def audit_page(conditions: list, page, per_page: int) -> Page:
    """The audit entries matching `conditions` (see audit_filters), newest first: one page."""
    return paginate(
        audit_entries(*conditions),
        page,
        per_page,
        count=select(func.count()).select_from(AuditLog).where(*conditions),
    )


def audit_kinds() -> list[str]:
    """The first part of every action recorded ("store.", "user." ...), sorted."""
    return sorted(
        {a.split(".")[0] + "." for a in db.session.scalars(select(AuditLog.action).distinct())}
    )


# Emails --------------------------------------------------------------------------------------


def emails(q: str, status: str, page, per_page: int) -> Page:
    """The emails whose address or subject has `q`, in `status` if it is one, newest first:
    the requested page."""
    conditions = []
    if q:
        like = _like(q)
        conditions.append(
            or_(
                func.lower(EmailMessage.to_address).like(like),
                func.lower(EmailMessage.subject).like(like),
            )
        )
    if status in EMAIL_STATUSES:
        conditions.append(EmailMessage.status == status)
    return paginate(
        select(EmailMessage).where(*conditions).order_by(EmailMessage.id.desc()),
        page,
        per_page,
        count=select(func.count()).select_from(EmailMessage).where(*conditions),
        scalars=True,
    )


# Jobs ----------------------------------------------------------------------------------------


def rq_state(failed_shown: int = 50) -> dict:
    """Queues, workers and failed jobs from Redis, or an error message if it can't be read."""
    from redis.exceptions import RedisError
    from rq import Queue, Worker
    from rq.job import Job

    try:
        conn = redis_client.get()
        queues, failed = [], []
        for name in QUEUES:
            queue = Queue(name, connection=conn)
            registry = queue.failed_job_registry
            queues.append(
                {
                    "name": name,
                    "queued": queue.count,
                    "started": queue.started_job_registry.count,
                    "scheduled": queue.scheduled_job_registry.count,
                    "failed": registry.count,
                }
            )
            for job_id in registry.get_job_ids(0, failed_shown - 1):
                job = Job.fetch(job_id, connection=conn) if Job.exists(job_id, conn) else None
                if job is None:
                    continue
                result = job.latest_result()
                error = (getattr(result, "exc_string", None) or "").strip()
                failed.append(
                    {
                        "id": job.id,
                        "queue": name,
                        "func": job.func_name,
                        "args": repr(job.args)[:120],
                        "ended_at": job.ended_at,
                        "error": "\n".join(error.splitlines()[-6:]),
                    }
                )
        workers = [
            {
                "name": w.name,
                "state": w.get_state(),
                "queues": ", ".join(w.queue_names()),
                "job": (w.get_current_job_id() or ""),
                "heartbeat": w.last_heartbeat,
            }
            for w in Worker.all(connection=conn)
        ]
        return {"queues": queues, "failed": failed, "workers": workers, "error": None}
    except RedisError as error:
        return {
            "queues": [],
            "failed": [],
            "workers": [],
            "error": f"Redis is unreachable: {error}",
        }


def store_status_change(store: Store) -> tuple[AuditLog, str | None] | None:
    """Why a deleted or suspended store is so: its latest such audit entry and who did it."""
    if not store.is_deleted and store.is_active:
        return None
    action = "store.deleted" if store.is_deleted else "store.suspended"
    found = db.session.execute(
        select(AuditLog, User.email)
        .outerjoin(User, User.id == AuditLog.actor_id)
        .where(AuditLog.store_id == store.id, AuditLog.action == action)
        .order_by(AuditLog.id.desc())
        .limit(1)
    ).first()
    return (found[0], found[1]) if found else None
