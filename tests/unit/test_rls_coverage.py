"""Every store-owned table gets a row-level security policy from the migrations (no database:
the models' tables with a store_id against the tables the migrations call the policy for).

tests/services/test_rls.py checks the same on a migrated PostgreSQL database, from its catalog."""

import importlib.util
import re
from pathlib import Path

import app.models  # noqa: F401  (registers every model's table)
from app.extensions import db

VERSIONS = Path(__file__).resolve().parents[2] / "migrations" / "versions"
ENABLED = re.compile(r"""enable_store_policy\(\s*["']([a-z_0-9]+)["']""")


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tables_with_policies() -> set[str]:
    """Tables that migration 0021 lists, plus those later migrations enable one by one."""
    first = _load(VERSIONS / "0021_row_level_security.py")
    tables = set(first.STORE_OWNED) | set(first.PLATFORM_OR_STORE)
    for path in VERSIONS.glob("*.py"):
        tables |= set(ENABLED.findall(path.read_text()))
    return tables


def store_owned_tables(metadata) -> set[str]:
    return {name for name, table in metadata.tables.items() if "store_id" in table.c}


def test_every_model_table_with_a_store_id_gets_a_policy():
    missing = store_owned_tables(db.metadata) - tables_with_policies()
    assert missing == set(), f"store-owned tables without a row-level security policy: {missing}"


def test_a_new_store_owned_table_without_a_policy_is_caught():
    from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table

    metadata = MetaData()
    for name in db.metadata.tables:
        db.metadata.tables[name].to_metadata(metadata)
    Table(
        "gift_cards",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("store_id", ForeignKey("stores.id")),
    )
    assert store_owned_tables(metadata) - tables_with_policies() == {"gift_cards"}


def test_the_nullable_store_tables_are_the_platform_or_store_list():
    first = _load(VERSIONS / "0021_row_level_security.py")
    nullable = {
        name
        for name, table in db.metadata.tables.items()
        if "store_id" in table.c and table.c.store_id.nullable
    }
    assert nullable == set(first.PLATFORM_OR_STORE)
