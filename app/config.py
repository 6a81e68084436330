"""Settings read from the environment (and `.env`), with the embedded defaults."""

import os
from pathlib import Path

from dotenv import load_dotenv

from app.redis_client import quick_retry

DEFAULT_SECRET_KEY = "dev-insecure-change-me"  # noqa: S105  (refused in production)
# The role migration 0021 makes for the app: it owns no table, so row-level security binds it.
DEFAULT_DATABASE_ROLE = "pasar_app"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    """Raised when the configuration is unsafe or incomplete for the chosen mode."""


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


# 10 s, 30 s, 1 min, 5 min, 15 min, 30 min, 1 h, 2 h, 4 h, 8 h, 8 h: about 24 hours in all.
DEFAULT_RETRY_SCHEDULE = [10, 30, 60, 300, 900, 1800, 3600, 7200, 14400, 28800, 28800]

# Standard Webhooks' recommended retry schedule after the first attempt (about 27 hours).
WEBHOOKS_RETRY_SCHEDULE = [5, 300, 1800, 7200, 18000, 36000, 36000]


def _seconds_list(value: str | None, default: list[int]) -> list[int]:
    """A comma-separated list of seconds ("10,30,60"), or the default."""
    if not value or not value.strip():
        return list(default)
    return [int(part) for part in value.split(",") if part.strip()]


def normalise_database_url(url: str) -> str:
    """Point every PostgreSQL URL at the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def load_config(instance_path: str, overrides: dict | None = None) -> dict:
    """Build the Flask config from the environment, then apply `overrides` (tests)."""
    load_dotenv(PROJECT_ROOT / ".env", override=False)
    env = os.environ
    overrides = overrides or {}

    database_url = normalise_database_url(
        env.get("DATABASE_URL") or f"sqlite:///{Path(instance_path) / 'pasar.db'}"
    )
    redis_url = env.get("REDIS_URL") or None
    platform_domain = (env.get("PLATFORM_DOMAIN") or "pasar.localhost:5000").strip().lower()
    scheme = env.get("PREFERRED_URL_SCHEME") or "http"
    # Behind HTTPS, cookies are Secure and HSTS is on unless explicitly turned off.
    secure = _bool(env.get("SESSION_COOKIE_SECURE"), default=scheme == "https")

    config = {
        "SECRET_KEY": env.get("SECRET_KEY") or DEFAULT_SECRET_KEY,
        "SQLALCHEMY_DATABASE_URI": database_url,
        # PostgreSQL: the role every connection acts as (`pasar_app`, made by the migrations,
        # owns no table, so row-level security applies to it); "none": DATABASE_URL's own user.
        "DATABASE_ROLE": env.get("DATABASE_ROLE") or DEFAULT_DATABASE_ROLE,
        "REDIS_URL": redis_url,
        "PLATFORM_DOMAIN": platform_domain,
        "PREFERRED_URL_SCHEME": scheme,
        "MAIL_SERVER": env.get("MAIL_SERVER") or None,
        "MAIL_PORT": int(env.get("MAIL_PORT") or 25),
        "MAIL_USERNAME": env.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD") or None,
        "MAIL_USE_TLS": _bool(env.get("MAIL_USE_TLS")),
        "MAIL_USE_SSL": _bool(env.get("MAIL_USE_SSL")),
        "MAIL_DEFAULT_SENDER": env.get("MAIL_DEFAULT_SENDER") or "Pasar <no-reply@pasar.localhost>",
        "MAIL_TIMEOUT": int(env.get("MAIL_TIMEOUT") or 10),
        "MAX_CONTENT_LENGTH": int(env.get("MAX_CONTENT_LENGTH") or 16 * 1024 * 1024),
        "MAX_URL_LENGTH": 2048,
        # How many reverse proxies (load balancer, ingress) sit in front; only their
        # X-Forwarded-For and X-Forwarded-Proto are believed, never X-Forwarded-Host.
        "TRUSTED_PROXIES": int(env.get("TRUSTED_PROXIES") or 0),
        "MEDIA_ROOT": env.get("MEDIA_ROOT") or str(Path(instance_path) / "media"),
        "SETTINGS_ENCRYPTION_KEY": env.get("SETTINGS_ENCRYPTION_KEY") or None,
        # Only to point the provider clients at a sandbox proxy or a test stand-in.
        "STRIPE_API_BASE": env.get("STRIPE_API_BASE") or None,
        # How the test gateway sends its webhooks: "http" (like a real provider; the default
        # with real workers) or "inprocess" (through the app itself; the default when jobs
        # run inline, where a request posting to its own single process would wait on itself).
        "TEST_GATEWAY_DELIVERY": (env.get("TEST_GATEWAY_DELIVERY") or "").strip().lower() or None,
        "MIDTRANS_API_BASE": env.get("MIDTRANS_API_BASE") or None,
        "MIDTRANS_SNAP_BASE": env.get("MIDTRANS_SNAP_BASE") or None,
        "JOB_TIMEOUT": int(env.get("JOB_TIMEOUT") or 300),
        # Live updates (app/live/): heartbeat comment interval, the browser's reconnect hint,
        # and how many streams one process holds and how long each lasts before the browser
        # reconnects (0 = no limit; unset: none in a gevent process, 4 and 300 s where streams
        # take request threads, see app/live/views.py).
        "LIVE_HEARTBEAT_SECONDS": float(env.get("LIVE_HEARTBEAT_SECONDS") or 15),
        "LIVE_RETRY_MS": int(env.get("LIVE_RETRY_MS") or 3000),
        "LIVE_MAX_STREAMS": int(env["LIVE_MAX_STREAMS"]) if env.get("LIVE_MAX_STREAMS") else None,
        "LIVE_MAX_SECONDS": int(env["LIVE_MAX_SECONDS"]) if env.get("LIVE_MAX_SECONDS") else None,
        # The platform's commission on each sale, in basis points (500 = 5 %), unless a store
        # has its own rate.
        "PLATFORM_COMMISSION_BPS": int(env.get("PLATFORM_COMMISSION_BPS") or 500),
        # Stock holds (app/inventory/holds.py): the most units one cart may hold of one variant,
        # and in all, so one shopper (or bot) can't hold a whole drop.
        "HOLD_MAX_PER_VARIANT": int(env.get("HOLD_MAX_PER_VARIANT") or 5),
        "HOLD_MAX_PER_CART": int(env.get("HOLD_MAX_PER_CART") or 20),
        # Seconds between re-checks of a Midtrans transaction while Midtrans can't be reached,
        # and between test-gateway delivery attempts; together about a day, then a person looks.
        "MIDTRANS_RECHECK_SCHEDULE": _seconds_list(
            env.get("MIDTRANS_RECHECK_SCHEDULE"), DEFAULT_RETRY_SCHEDULE
        ),
        "GATEWAY_RETRY_SCHEDULE": _seconds_list(
            env.get("GATEWAY_RETRY_SCHEDULE"), DEFAULT_RETRY_SCHEDULE
        ),
        # Outbound webhooks (app/webhooks): seconds between delivery attempts (the Standard
        # Webhooks recommendation: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; about a day), how
        # long an endpoint may fail before it is switched off, and the network's limits.
        # Private and loopback addresses are refused unless allowed (tests, private installs).
        "WEBHOOKS_RETRY_SCHEDULE": _seconds_list(
            env.get("WEBHOOKS_RETRY_SCHEDULE"), WEBHOOKS_RETRY_SCHEDULE
        ),
        "WEBHOOKS_DISABLE_AFTER": int(env.get("WEBHOOKS_DISABLE_AFTER") or 86400),
        "WEBHOOKS_CONNECT_TIMEOUT": float(env.get("WEBHOOKS_CONNECT_TIMEOUT") or 5),
        "WEBHOOKS_READ_TIMEOUT": float(env.get("WEBHOOKS_READ_TIMEOUT") or 10),
        "WEBHOOKS_ALLOW_PRIVATE_NETWORKS": _bool(env.get("WEBHOOKS_ALLOW_PRIVATE_NETWORKS")),
        # How often cron runs the outbox sweeps, and how old a recorded event, delivery or
        # email must be before a sweep queues it again (so it doesn't race the first enqueue).
        "SWEEP_INTERVAL": int(env.get("SWEEP_INTERVAL") or 60),
        # Embedded mode (no cron): how often each web process releases expired stock holds.
        "EMBEDDED_HOLD_SWEEP_SECONDS": float(env.get("EMBEDDED_HOLD_SWEEP_SECONDS") or 5),
        # Longest wait, in seconds, between a worker's attempts to reach Redis during an outage.
        "REDIS_RETRY_MAX_WAIT": float(env.get("REDIS_RETRY_MAX_WAIT") or 30),
        "SWEEP_GRACE": int(env.get("SWEEP_GRACE") or 60),
        "JOB_RETRY_INTERVALS": [
            int(x) for x in (env.get("JOB_RETRY_INTERVALS") or "10,30,60").split(",")
        ],
        "SESSION_COOKIE_SECURE": secure,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": secure,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "HSTS": secure,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        # Limits never turn pages into 500s when Redis is unreachable: they fall back to memory.
        "RATELIMIT_STORAGE_OPTIONS": {
            "socket_timeout": 0.5,
            "socket_connect_timeout": 0.5,
            "retry": quick_retry(),
        }
        if redis_url
        else {},
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        # The fallback switch is one flag shared by a worker's threads: a request already
        # talking to Redis when another thread flips it would raise (a 500) without this.
        "RATELIMIT_SWALLOW_ERRORS": True,
        # Provider webhooks: verified deliveries per store and provider (a backlog arrives as
        # a burst from a few addresses), and failed signature checks per address.
        "WEBHOOK_RATE_LIMIT": env.get("WEBHOOK_RATE_LIMIT") or "6000 per minute",
        "WEBHOOK_FAILURE_LIMIT": env.get("WEBHOOK_FAILURE_LIMIT") or "30 per minute",
        # Vendor API requests per key (app/api/auth.py); a 429 says when to retry.
        "API_RATE_LIMIT": env.get("API_RATE_LIMIT") or "600 per minute",
        # No X-RateLimit-* headers: reading the window back for them cost two more Redis
        # round trips on every limited request (placing an order among them); a 429 still
        # says when to come back in its Retry-After (app/errors.py).
        "RATELIMIT_HEADERS_ENABLED": False,
        "WTF_CSRF_TIME_LIMIT": 3600 * 4,
        # Seconds a rendered storefront page stays in Redis (0: no page cache); a catalog
        # change makes its entries unreachable at once (app/storefront/page_cache.py).
        "PAGE_CACHE_TTL": int(env.get("PAGE_CACHE_TTL") or 600),
        # Seconds a second-factor check stays recent for the step-up pages (console, payouts,
        # provider keys, staff changes), and how long the console's own cookie lasts idle.
        "STEP_UP_MAX_AGE": int(env.get("STEP_UP_MAX_AGE") or 15 * 60),
        # The console cookie's absolute lifetime, however busy the admin is.
        "CONSOLE_SESSION_MAX_AGE": int(env.get("CONSOLE_SESSION_MAX_AGE") or 8 * 3600),
        # "json" or "text"; unset, JSON in production mode and text in embedded mode.
        "LOG_FORMAT": (env.get("LOG_FORMAT") or "").strip().lower() or None,
        # Bearer token that opens /metrics from anywhere; without it only direct loopback.
        "METRICS_TOKEN": env.get("METRICS_TOKEN") or None,
        "TESTING": False,
    }
    config.update(overrides)

    uri = config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(
        config["SQLALCHEMY_DATABASE_URI"]
    )
    if uri.startswith("postgresql"):
        from tenants.rls import role_connect_args

        if (config["DATABASE_ROLE"] or "none").lower() == "none":
            config["DATABASE_ROLE"] = None
        try:
            role_args = role_connect_args(config["DATABASE_ROLE"])
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            "pool_pre_ping": True,
            "connect_args": {"connect_timeout": 3, **role_args},
            **config.get("SQLALCHEMY_ENGINE_OPTIONS", {}),
        }
    config["EMBEDDED"] = not config["REDIS_URL"]
    # Without Redis, state that every process must see (codes, throttles, request limits)
    # lives in a SQLite file beside the embedded database (app/kvstore.py).
    if not config.get("SHARED_STATE_PATH"):
        from app.kvstore import kv_path_for

        config["SHARED_STATE_PATH"] = os.path.abspath(
            env.get("SHARED_STATE_PATH") or kv_path_for(uri, instance_path)
        )
    if "RATELIMIT_STORAGE_URI" not in overrides:
        config["RATELIMIT_STORAGE_URI"] = (
            config["REDIS_URL"] or f"sqlite-kv://{config['SHARED_STATE_PATH']}"
        )
    # Jobs run inline when there is no Redis; JOBS_INLINE=1 forces it (tests with real Redis).
    config["JOBS_INLINE"] = config["EMBEDDED"] or _bool(
        str(config.get("JOBS_INLINE", env.get("JOBS_INLINE", "")))
    )
    config["PRODUCTION"] = bool(config["REDIS_URL"]) or not uri.startswith("sqlite")
    # Whether every store may take payments on the test gateway (where shoppers approve their
    # own payments). Off in production, where a store needs Stripe or Midtrans unless a
    # platform admin allows test payments for it; on in embedded mode (the demo, development).
    if config.get("ALLOW_TEST_PAYMENTS") is None:
        config["ALLOW_TEST_PAYMENTS"] = _bool(
            env.get("ALLOW_TEST_PAYMENTS"), default=not config["PRODUCTION"]
        )
    if not config.get("LOG_FORMAT"):
        config["LOG_FORMAT"] = "json" if config["PRODUCTION"] else "text"
    host, _, port = config["PLATFORM_DOMAIN"].partition(":")
    config["PLATFORM_HOST"] = host
    config["PLATFORM_PORT"] = port or None
    # One sign-in covers the platform and every store subdomain.
    config.setdefault("SESSION_COOKIE_DOMAIN", host)
    config.setdefault("REMEMBER_COOKIE_DOMAIN", host)
    check_config(config)
    return config


def check_config(config: dict) -> None:
    """Refuse unsafe settings with a message that says what to do."""
    if config["PRODUCTION"] and config["SECRET_KEY"] == DEFAULT_SECRET_KEY:
        raise ConfigError(
            "Pasar is configured for production (DATABASE_URL is not SQLite, or REDIS_URL is set) "
            "but SECRET_KEY is the built-in development key. Set SECRET_KEY to a long random "
            'value, e.g. python -c "import secrets; print(secrets.token_urlsafe(48))".'
        )
    if config.get("TEST_GATEWAY_DELIVERY") not in (None, "http", "inprocess"):
        raise ConfigError(
            f"TEST_GATEWAY_DELIVERY={config['TEST_GATEWAY_DELIVERY']!r} is not a delivery mode: "
            "use http or inprocess, or leave it unset to choose by whether jobs run inline."
        )
    if config["LOG_FORMAT"] not in ("json", "text"):
        raise ConfigError(
            f"LOG_FORMAT={config['LOG_FORMAT']!r} is not a log format: use json or text, or "
            "leave it unset for JSON in production mode and text in embedded mode."
        )
    host = config["PLATFORM_HOST"]
    if not host or "." not in host:
        raise ConfigError(
            f"PLATFORM_DOMAIN={config['PLATFORM_DOMAIN']!r} needs a dot "
            "(e.g. pasar.localhost:5000) "
            "so that the session cookie can cover the store subdomains."
        )
