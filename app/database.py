"""The declarative base, naming convention and column helpers shared by every model."""

from datetime import UTC, datetime

from sqlalchemy import DateTime, MetaData, text
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

# Named constraints let Alembic alter them on SQLite (batch mode) and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the offset otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given where a UTC datetime is required")
            value = value.astimezone(UTC)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    """Base class of every Pasar model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def render_migration_item(type_, obj, autogen_context):
    """Alembic autogenerate: write UTCDateTime as the plain column type it stores."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


# Search structures made by hand in migrations (see app/catalog/search.py), not by the models.
SEARCH_OBJECTS = ("search_vector", "ix_products_search_vector")


def include_in_migrations(obj, name, type_, reflected, compare_to):
    """Alembic: leave the hand-made full-text search objects out of model comparisons."""
    if name in SEARCH_OBJECTS:
        return False
    return not (type_ == "table" and name and name.startswith("product_fts"))


# What bulk writers fill; ANALYZE'd afterwards so the planner knows their sizes.
CATALOG_TABLES = (
    "categories",
    "products",
    "variants",
    "product_categories",
    "product_tags",
    "product_images",
    "product_faqs",
)


def analyze(session, *tables: str) -> None:
    """Refresh PostgreSQL's planner statistics for tables just filled in bulk (a no-op on
    SQLite), then commit.

    Until autovacuum gets round to a new table's statistics, PostgreSQL plans as if it were
    small: right after a seed or an import that turned a product page's 15 ms into 240 ms.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    # Only the tables' owner may ANALYZE them: when the app acts as DATABASE_ROLE (row-level
    # security, tenants/rls.py), go back to the session's own user for this transaction. With
    # a login that owns nothing, PostgreSQL skips the tables and autovacuum catches up later.
    session.execute(text("SET LOCAL ROLE NONE"))
    for table in tables:
        session.execute(text(f'ANALYZE "{table}"'))
    session.commit()
