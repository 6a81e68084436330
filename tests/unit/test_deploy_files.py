"""The deploy files agree with the app: every setting it reads is documented in .env.example;
compose and the image run the Procfile's commands; the chart's templates only use values that
exist, on every branch (a render takes only the branches its values choose). What the chart
renders to (every setting reaching the pods, its objects, probes, hooks and hosts) is checked by
test_helm_chart.py with a real helm; this module's helpers are shared with it."""

import ast
import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy/helm/pasar"


def settings_read(path: Path) -> set[str]:
    """Names passed to `env.get(...)`, `os.environ.get(...)` or `os.environ[...]` in a file."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and ast.unparse(node.func.value) in ("env", "os.environ", "environ")
        ):
            names.add(node.args[0].value)
        if (
            isinstance(node, ast.Subscript)
            and ast.unparse(node.value) in ("env", "os.environ")
            and isinstance(node.slice, ast.Constant)
        ):
            names.add(node.slice.value)
    return names


APP_SETTINGS = settings_read(ROOT / "app/config.py")
GUNICORN_SETTINGS = settings_read(ROOT / "gunicorn.conf.py")


def documented_in_env_example() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))


def chart_values() -> dict:
    return yaml.safe_load((CHART / "values.yaml").read_text())


def test_the_setting_scan_finds_the_settings():
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "PLATFORM_DOMAIN"} <= APP_SETTINGS
    assert {"PORT", "WEB_CONCURRENCY", "PROMETHEUS_MULTIPROC_DIR"} <= GUNICORN_SETTINGS


@pytest.mark.parametrize("name", sorted(APP_SETTINGS | GUNICORN_SETTINGS))
def test_every_setting_is_documented_in_env_example(name):
    assert name in documented_in_env_example(), f"{name} is read but not in .env.example"


def values_referenced(template: str) -> set[str]:
    return set(re.findall(r"\.Values\.([A-Za-z0-9_.]+)", template))


def test_templates_use_only_values_that_exist():
    values = chart_values()
    missing = []
    for path in sorted((CHART / "templates").iterdir()):
        for dotted in values_referenced(path.read_text()):
            node = values
            for part in dotted.split("."):
                if not isinstance(node, dict) or part not in node:
                    missing.append(f"{path.name}: .Values.{dotted}")
                    break
                node = node[part]
    assert not missing


def procfile() -> dict[str, list[str]]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return {name: shlex.split(cmd) for name, _, cmd in (line.partition(": ") for line in lines)}


def test_compose_runs_the_procfile_commands_with_the_services_it_needs():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "nginx", "web1", "web2", "worker1", "worker2", "cron"} <= set(
        services
    )
    commands = procfile()
    for name in ("web1", "web2"):
        assert services[name]["command"] == commands["web"]
    for name in ("worker1", "worker2"):
        assert services[name]["command"] == commands["worker"]
    assert services["cron"]["command"] == commands["cron"]
    assert "flask --app wsgi db upgrade" in services["migrate"]["command"][-1]
    for name, service in services.items():
        if name != "migrate":
            assert "healthcheck" in service, f"{name} has no health check"
        assert service["image"].startswith("localhost/pasar"), "no registry is reachable"


def test_the_image_is_non_root_and_its_default_command_is_the_procfile_web():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^USER pasar$", dockerfile, flags=re.MULTILINE)
    assert dockerfile.count("FROM docker.io/library/debian:bookworm-slim") == 3
    cmd = re.search(r"^CMD (.+)$", dockerfile, flags=re.MULTILINE).group(1)
    assert ast.literal_eval(cmd) == procfile()["web"]


def test_compose_nginx_drops_idle_upstream_connections_before_gunicorn_does():
    """nginx reusing a kept-alive connection gunicorn already closed gets a reset and marks
    that web service failed (max_fails=1): with the other one stopped, a 503 nobody needed."""
    import gunicorn.config

    conf = (ROOT / "deploy/nginx/nginx.conf").read_text()
    upstream = re.search(r"upstream pasar_web \{(.*?)\}", conf, flags=re.DOTALL).group(1)
    assert re.search(r"^\s*keepalive \d+;", upstream, flags=re.MULTILINE)
    timeout = re.search(r"^\s*keepalive_timeout (\d+)s;", upstream, flags=re.MULTILINE)
    settings = {}
    exec((ROOT / "gunicorn.conf.py").read_text(), settings)  # our own file
    gunicorn_keepalive = settings.get("keepalive", gunicorn.config.Config().keepalive)
    assert timeout and int(timeout.group(1)) < gunicorn_keepalive


@pytest.mark.parametrize(
    "argv, env, preloaded",
    [
        (["gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"], {}, True),
        (["gunicorn", "--worker-class", "gevent", "wsgi:app"], {}, False),  # the stream process
        (["gunicorn", "wsgi:app"], {"GUNICORN_PRELOAD": "0"}, False),
    ],
)
def test_gunicorn_preloads_the_app_except_under_gevent(monkeypatch, argv, env, preloaded):
    monkeypatch.setattr("sys.argv", argv)
    monkeypatch.delenv("GUNICORN_PRELOAD", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings: dict = {}
    exec((ROOT / "gunicorn.conf.py").read_text(), settings)  # our own file
    assert settings["preload_app"] is preloaded


def test_gunicorn_freezes_the_masters_objects_before_each_fork():
    """What the master loaded (the preloaded app) is left out of a worker's garbage collections."""
    import gc

    settings: dict = {}
    exec((ROOT / "gunicorn.conf.py").read_text(), settings)  # our own file
    gc.collect()
    before = gc.get_freeze_count()
    try:
        settings["pre_fork"](None, None)
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()  # as it was (the suite's own freeze, tests/conftest.py, is only for speed)
