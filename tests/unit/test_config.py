import pytest

from app.config import DEFAULT_SECRET_KEY, ConfigError, load_config, normalise_database_url


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in (
        "DATABASE_URL",
        "REDIS_URL",
        "SECRET_KEY",
        "PLATFORM_DOMAIN",
        "JOBS_INLINE",
        "SHARED_STATE_PATH",
    ):
        monkeypatch.delenv(name, raising=False)


def test_embedded_defaults(tmp_path):
    config = load_config(str(tmp_path))
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'pasar.db'}"
    assert config["EMBEDDED"] and config["JOBS_INLINE"] and not config["PRODUCTION"]
    assert config["PLATFORM_DOMAIN"] == "pasar.localhost:5000"
    assert config["SESSION_COOKIE_DOMAIN"] == "pasar.localhost"
    # Limits and codes live in a file beside the database that every process shares.
    assert config["SHARED_STATE_PATH"] == str(tmp_path / "pasar.db.kv")
    assert config["RATELIMIT_STORAGE_URI"] == f"sqlite-kv://{tmp_path / 'pasar.db.kv'}"


def test_production_refuses_the_default_secret_key(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/pasar")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_config(str(tmp_path))
    monkeypatch.setenv("SECRET_KEY", DEFAULT_SECRET_KEY)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_config(str(tmp_path))


def test_production_mode_with_a_real_secret(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db/pasar")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("SECRET_KEY", "s" * 40)
    config = load_config(str(tmp_path))
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db/pasar"
    assert config["PRODUCTION"] and not config["EMBEDDED"] and not config["JOBS_INLINE"]
    assert config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/0"
    assert config["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"] is True


def test_shared_state_follows_the_database_or_the_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "sqlite:///relative.db")  # Flask-SQLAlchemy: instance/
    assert load_config(str(tmp_path))["SHARED_STATE_PATH"] == str(tmp_path / "relative.db.kv")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db/pasar")
    monkeypatch.setenv("SECRET_KEY", "s" * 40)
    assert load_config(str(tmp_path))["SHARED_STATE_PATH"] == str(tmp_path / "shared-state.kv")
    monkeypatch.setenv("SHARED_STATE_PATH", str(tmp_path / "elsewhere.kv"))
    config = load_config(str(tmp_path))
    assert config["RATELIMIT_STORAGE_URI"] == f"sqlite-kv://{tmp_path / 'elsewhere.kv'}"


def test_platform_domain_needs_a_dot(tmp_path, monkeypatch):
    monkeypatch.setenv("PLATFORM_DOMAIN", "localhost:5000")
    with pytest.raises(ConfigError, match="needs a dot"):
        load_config(str(tmp_path))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://a@b/c", "postgresql+psycopg://a@b/c"),
        ("postgresql://a@b/c", "postgresql+psycopg://a@b/c"),
        ("postgresql+psycopg://a@b/c", "postgresql+psycopg://a@b/c"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_database_urls_use_psycopg3(url, expected):
    assert normalise_database_url(url) == expected


def test_wsgi_exits_with_a_clear_message(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "REDIS_URL": "redis://127.0.0.1:1/0", "SECRET_KEY": ""}
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "Pasar cannot start" in result.stderr and "SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_https_turns_on_secure_cookies_and_hsts(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFERRED_URL_SCHEME", "https")
    config = load_config(str(tmp_path))
    assert config["SESSION_COOKIE_SECURE"] and config["REMEMBER_COOKIE_SECURE"] and config["HSTS"]
    assert config["SESSION_COOKIE_HTTPONLY"] and config["SESSION_COOKIE_SAMESITE"] == "Lax"
    monkeypatch.setenv("PREFERRED_URL_SCHEME", "http")
    assert not load_config(str(tmp_path))["SESSION_COOKIE_SECURE"]


def test_trusted_proxies_set_the_client_ip(tmp_path, monkeypatch):
    from flask import request

    from app import create_app

    monkeypatch.setenv("TRUSTED_PROXIES", "1")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}", "TESTING": True})

    @app.get("/_ip")
    def ip():
        return request.remote_addr

    response = app.test_client().get(
        "/_ip", headers={"Host": "pasar.localhost:5000", "X-Forwarded-For": "203.0.113.9"}
    )
    assert response.get_data(as_text=True) == "203.0.113.9"
