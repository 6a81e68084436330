"""The schema comes only from migrations, and they match the models on every backend."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.database import include_in_migrations, render_migration_item
from app.extensions import db


def test_migrations_produce_the_models_schema(app):
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "render_item": render_migration_item,
                "include_object": include_in_migrations,
            },
        )
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_downgrade_then_upgrade_round_trips(tmp_path):
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import inspect

    from tests.conftest import make_app

    app = make_app(f"sqlite:///{tmp_path / 'roundtrip.db'}")
    with app.app_context():
        upgrade()
        assert "stores" in inspect(db.engine).get_table_names()
        downgrade(revision="base")
        assert "stores" not in inspect(db.engine).get_table_names()
        upgrade()
        assert {"stores", "users", "memberships", "audit_logs", "email_messages"} <= set(
            inspect(db.engine).get_table_names()
        )
        db.engine.dispose()
