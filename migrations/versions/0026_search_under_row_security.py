"""full-text search keeps its index under row-level security

Revision ID: 0026
Revises: 0021
Create Date: 2026-12-06 12:20:00

Under row-level security PostgreSQL evaluates a query's own conditions after the policy's
unless their functions are LEAKPROOF, and only a leakproof condition may drive an index scan.
`tsvector @@ tsquery` (ts_match_vq) is not marked leakproof, so once migration 0021 forced the
policies every product search became a scan of all the visible rows: the platform search over
50,000 products went from 3 ms to 29 ms, a store's search over 100,000 from an index lookup to
reading the whole store. ts_match_vq reports nothing about its arguments (no notices, no
value-bearing errors), so declaring it leakproof leaks nothing and gives the planner the GIN
index back. Only a superuser may change that flag: elsewhere (a managed PostgreSQL) this
migration changes nothing and says so; README's production section names the one statement a
provider's administrator can run instead. SQLite: a no-op.
"""

from alembic import op
from sqlalchemy import text

revision = "0026"
down_revision = "0021"
branch_labels = None
depends_on = None

LEAKPROOF_FUNCTIONS = ("pg_catalog.ts_match_vq(tsvector, tsquery)",)


def _superuser(bind) -> bool:
    return bind.scalar(text("SELECT current_setting('is_superuser')")) == "on"


def _set(flag: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    if not _superuser(bind):
        print(
            "0026: not a superuser, full-text search stays unindexed under row-level security;"
            f" run as one: ALTER FUNCTION {LEAKPROOF_FUNCTIONS[0]} LEAKPROOF"
        )
        return
    for function in LEAKPROOF_FUNCTIONS:
        op.execute(f"ALTER FUNCTION {function} {flag}")


def upgrade():
    _set("LEAKPROOF")


def downgrade():
    _set("NOT LEAKPROOF")
