"""The Pasar application factory."""

import os

from flask import Flask, abort, request
from sqlalchemy import event
from sqlalchemy.engine import Engine

from app import observability
from app.config import PROJECT_ROOT, load_config
from app.extensions import csrf, db, limiter, login_manager, migrate, redis_client


def create_app(test_config: dict | None = None) -> Flask:
    """Create and configure a Pasar app; `test_config` overrides the environment."""
    app = Flask(
        __name__,
        instance_path=str(PROJECT_ROOT / "instance"),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(load_config(app.instance_path, test_config))
    if app.config["TRUSTED_PROXIES"]:
        # Client IPs (rate limits, audit) and the scheme come from the trusted proxies only.
        # The Host is never taken from X-Forwarded-Host (nor the port or prefix): it decides
        # the store, the session cookie and the CSRF key, so it must be what the client sent.
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0, x_prefix=0
        )
    configure_logging(app)
    register_extensions(app)
    register_request_hooks(app)
    observability.init_app(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_template_helpers(app)
    register_commands(app)
    return app


def configure_logging(app: Flask) -> None:
    """Send INFO and up to stderr (JSON or text, `LOG_FORMAT`) unless something else
    configured logging first."""
    from app.observability import logs

    logs.configure(app)


def register_extensions(app: Flask) -> None:
    """Bind the extension instances to this app."""
    from app import (
        csrf_tokens,
        i18n,
        live,
        models,  # noqa: F401  (every table in the metadata)
    )
    from app.accounts import auth  # noqa: F401  (registers the user loader)
    from app.audit import tracking  # noqa: F401  (catalog edits in the audit log)
    from app.background import embedded_sweep
    from app.catalog import cache  # noqa: F401  (catalog-change listeners that expire caches)
    from app.database import include_in_migrations, render_migration_item
    from app.payouts import ledger  # noqa: F401  (commission entries for new payments)
    from tenants import rls  # noqa: F401  (each transaction's store for row-level security)
    from tenants.sessions import TenantSessionInterface

    db.init_app(app)
    migrate.init_app(
        app,
        db,
        directory=str(PROJECT_ROOT / "migrations"),
        render_as_batch=True,
        compare_type=True,
        render_item=render_migration_item,
        include_object=include_in_migrations,
    )
    login_manager.init_app(app)
    csrf.init_app(app)
    csrf_tokens.init_app(app)
    limiter.init_app(app)
    redis_client.init_app(app)
    live.init_app(app)
    embedded_sweep.init_app(app)
    i18n.init_app(app)
    app.session_interface = TenantSessionInterface()


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """Make SQLite enforce foreign keys and let readers and a writer work side by side."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (SAVEPOINT needs it).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn):
    # IMMEDIATE takes the write lock up front: two transactions that read, then write, would
    # otherwise deadlock and fail with "database is locked" instead of waiting their turn.
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def register_request_hooks(app: Flask) -> None:
    """Reject overlong URLs, cross-origin posts, control characters and bad CSRF tokens,
    resolve the tenant and the signed-in session, ask before a destructive post sent without
    JavaScript, then add the security headers to every answer."""
    from app import static_assets
    from app.accounts.sessions import touch as touch_user_session
    from app.confirmation import ask_before_destructive_post
    from app.csrf_tokens import protect as check_csrf_token
    from app.observability.logs import note_store
    from app.request_guards import check_origin, reject_control_characters
    from app.security import add_security_headers
    from tenants.context import resolve_store_for_request

    @app.before_request
    def _limit_url_length():
        if len(request.full_path) > app.config["MAX_URL_LENGTH"]:
            abort(414)

    app.before_request(check_origin)
    app.before_request(reject_control_characters)
    app.before_request(check_csrf_token)
    app.before_request(resolve_store_for_request)
    app.before_request(note_store)
    app.before_request(touch_user_session)
    app.before_request(ask_before_destructive_post)
    app.after_request(add_security_headers)
    static_assets.init_app(app)


def register_blueprints(app: Flask) -> None:
    """Attach every area's blueprint."""
    from app import api as vendor_api
    from app.accounts.views import bp as accounts_bp
    from app.addresses.views import bp as addresses_bp
    from app.cart.views import bp as cart_bp
    from app.checkout.views import bp as checkout_bp
    from app.console import bp as console_bp
    from app.dashboard import bp as dashboard_bp
    from app.health.views import bp as health_bp
    from app.language_views import bp as language_bp
    from app.live.views import bp as live_bp
    from app.live.views import console_bp as console_live_bp
    from app.marketplace.views import bp as marketplace_bp
    from app.onboarding.views import bp as onboarding_bp
    from app.orders.shopper_views import bp as shopper_orders_bp
    from app.orders.shopper_views import history_bp as account_orders_bp
    from app.payments.test_gateway import bp as test_gateway_bp
    from app.payments.views import bp as payments_bp
    from app.storage import bp as media_bp
    from app.storefront.views import bp as storefront_bp

    app.register_blueprint(health_bp)
    app.register_blueprint(language_bp)
    app.register_blueprint(media_bp)
    app.register_blueprint(marketplace_bp)
    app.register_blueprint(storefront_bp)
    app.register_blueprint(cart_bp)
    app.register_blueprint(checkout_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(addresses_bp)
    app.register_blueprint(dashboard_bp)
    app.register_blueprint(console_bp)
    app.register_blueprint(live_bp)
    app.register_blueprint(console_live_bp)
    app.register_blueprint(onboarding_bp)
    app.register_blueprint(payments_bp)
    app.register_blueprint(test_gateway_bp)
    app.register_blueprint(shopper_orders_bp)
    app.register_blueprint(account_orders_bp)
    vendor_api.init_app(app)
    app.add_url_rule("/", endpoint="home", view_func=_home)
    app.add_url_rule("/search", endpoint="search", view_func=_search)


def _home():
    """The platform's home on the platform host; the store's home on a store host."""
    from flask import g

    from app.marketplace.views import home as platform_home
    from app.storefront.views import home as store_home

    return store_home() if g.get("store") is not None else platform_home()


def _search():
    """Search: the store's products on a store host, every open store's on the platform host."""
    from flask import g

    from app.marketplace.views import search as platform_search
    from app.storefront.views import search as store_search

    return store_search() if g.get("store") is not None else platform_search()


def register_errorhandlers(app: Flask) -> None:
    """Error pages for every HTTP error, as pages or as htmx fragments."""
    from app.errors import register

    register(app)


def register_template_helpers(app: Flask) -> None:
    """Globals and filters the templates use."""
    from app.templating import register

    register(app)


def register_commands(app: Flask) -> None:
    """The `flask` CLI commands."""
    from app.background.worker import cron_command, worker_command
    from app.cli import (
        create_store_command,
        create_superuser_command,
        scrub_originals_command,
        seed_demo_command,
        send_test_email_command,
    )

    for command in (
        seed_demo_command,
        create_superuser_command,
        create_store_command,
        send_test_email_command,
        scrub_originals_command,
        worker_command,
        cron_command,
    ):
        app.cli.add_command(command)
