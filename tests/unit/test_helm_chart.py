"""The Helm chart as a real helm renders it (`make helm` puts v4.1.4 in .tools/): what Kubernetes
would be sent, not the templates' text. test_deploy_files.py checks the chart's source where a
render can't (values a template names on a branch the defaults don't take).

helm is looked up as PASAR_HELM, then .tools/helm, then on PATH. Without it these tests skip;
under CI=true they fail instead, as every tier must really run there."""

import os
import shutil
import subprocess

import pytest
import yaml

from tests.conftest import require
from tests.unit.test_deploy_files import (
    APP_SETTINGS,
    CHART,
    GUNICORN_SETTINGS,
    ROOT,
    chart_values,
    procfile,
)

REQUIRED_SECRETS = {
    "SECRET_KEY": "test-secret-key",
    "DATABASE_URL": "postgresql://pasar:pw@db:5432/pasar",
    "REDIS_URL": "redis://redis:6379/0",
}
MINIMAL = {"secrets": REQUIRED_SECRETS}
RELEASE = "t"


def find_helm() -> str | None:
    explicit = os.environ.get("PASAR_HELM")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    tools = ROOT / ".tools/helm"
    if os.access(tools, os.X_OK):
        return str(tools)
    return shutil.which("helm")


class Helm:
    """Runs helm with its cache, config and data homes in a temporary directory, so a test run
    writes nothing under $HOME; values go in as a YAML file (no --set escaping)."""

    def __init__(self, binary: str, home):
        self.binary, self.home = binary, home
        self.env = {
            **os.environ,
            "HELM_CACHE_HOME": str(home / "cache"),
            "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_DATA_HOME": str(home / "data"),
        }
        self.files = 0

    def run(self, command: str, values: dict, *extra: str) -> subprocess.CompletedProcess:
        self.files += 1
        path = self.home / f"values-{self.files}.yaml"
        path.write_text(yaml.safe_dump(values))
        args = [self.binary, command, *extra, str(CHART), "-f", str(path)]
        return subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=60)

    def render(self, values: dict) -> list[dict]:
        result = self.run("template", values, RELEASE)
        assert result.returncode == 0, result.stderr
        return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module")
def helm(tmp_path_factory) -> Helm:
    binary = find_helm()
    require(binary is not None, "helm is not installed (run `make helm`, or set PASAR_HELM)")
    return Helm(binary, tmp_path_factory.mktemp("helm"))


@pytest.fixture(scope="module")
def docs(helm) -> list[dict]:
    return helm.render(MINIMAL)


def merged(*overrides: dict) -> dict:
    """MINIMAL with the overrides merged in, one level of nesting deep (enough for values.yaml)."""
    values = {key: dict(value) for key, value in MINIMAL.items()}
    for override in overrides:
        for key, value in override.items():
            if isinstance(value, dict):
                values[key] = {**values.get(key, {}), **value}
            else:
                values[key] = value
    return values


def of_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def component(docs: list[dict], kind: str, name: str) -> dict:
    return of_kind(docs, kind)[f"{RELEASE}-pasar-{name}"]


def workloads(docs: list[dict]) -> list[dict]:
    return [doc for doc in docs if doc["kind"] in ("Deployment", "Job")]


def containers(doc: dict) -> list[dict]:
    return doc["spec"]["template"]["spec"]["containers"]


def test_lint_strict_passes_with_the_required_values(helm):
    result = helm.run("lint", MINIMAL, "--strict")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout


def test_the_render_has_the_objects_the_readme_lists(docs):
    assert sorted((doc["kind"], doc["metadata"]["name"]) for doc in docs) == sorted(
        [("ConfigMap", "t-pasar-env"), ("Secret", "t-pasar-env"),
         ("Deployment", "t-pasar-web"), ("Deployment", "t-pasar-worker"),
         ("Deployment", "t-pasar-stream"), ("Service", "t-pasar-stream"),
         ("Deployment", "t-pasar-cron"), ("Job", "t-pasar-migrate"),
         ("Service", "t-pasar-web"), ("Ingress", "t-pasar"),
         ("PodDisruptionBudget", "t-pasar-web"), ("PodDisruptionBudget", "t-pasar-worker"),
         ("PersistentVolumeClaim", "t-pasar-media")]
    )  # fmt: skip


def test_the_deployments_and_the_job_run_the_procfile_commands(docs):
    commands = procfile()
    for name in ("web", "worker", "cron"):
        (container,) = containers(component(docs, "Deployment", name))
        assert container["command"] == commands[name]
    (migrate,) = containers(component(docs, "Job", "migrate"))
    assert migrate["command"] == commands["release"]


def test_cron_is_one_replica_replaced_not_rolled(docs):
    cron = component(docs, "Deployment", "cron")
    assert cron["spec"]["replicas"] == 1 and cron["spec"]["strategy"] == {"type": "Recreate"}


def test_the_migration_runs_as_a_hook_after_its_settings_exist(docs):
    def hook(doc):
        annotations = doc["metadata"]["annotations"]
        return annotations["helm.sh/hook"], int(annotations["helm.sh/hook-weight"])

    job_hook, job_weight = hook(component(docs, "Job", "migrate"))
    assert job_hook == "pre-install,pre-upgrade"
    # Hooks run before the release's own objects, so the ConfigMap and Secret the Job reads
    # are hooks too, with a lower weight: helm creates them first.
    for kind in ("ConfigMap", "Secret"):
        settings_hook, settings_weight = hook(component(docs, kind, "env"))
        assert settings_hook == job_hook and settings_weight < job_weight


def test_the_web_pods_are_probed_on_healthz_and_readyz(docs):
    (web,) = containers(component(docs, "Deployment", "web"))
    assert web["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert web["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert web["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert {"name": "http", "containerPort": 8000} in web["ports"]


def test_the_service_and_the_budgets_select_the_right_pods(docs):
    def pod_labels(name):
        return component(docs, "Deployment", name)["spec"]["template"]["metadata"]["labels"]

    def selects(selector, name):
        return selector.items() <= pod_labels(name).items()

    service = component(docs, "Service", "web")
    assert selects(service["spec"]["selector"], "web")
    assert not selects(service["spec"]["selector"], "worker")
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    for name in ("web", "worker"):
        budget = component(docs, "PodDisruptionBudget", name)
        assert selects(budget["spec"]["selector"]["matchLabels"], name)
        assert budget["spec"]["minAvailable"] == 1
        assert not selects(budget["spec"]["selector"]["matchLabels"], "cron")


def test_the_ingress_answers_for_the_platform_host_and_every_store_subdomain(docs):
    ingress = of_kind(docs, "Ingress")["t-pasar"]
    hosts = ["pasar.example.com", "*.pasar.example.com"]
    assert [rule["host"] for rule in ingress["spec"]["rules"]] == hosts
    assert ingress["spec"]["tls"] == [{"secretName": "pasar-tls", "hosts": hosts}]
    for rule in ingress["spec"]["rules"]:
        # The live updates' streams go to the gevent stream process, everything else to web.
        routes = {path["path"]: path["backend"]["service"] for path in rule["http"]["paths"]}
        assert routes == {
            "/live/": {"name": "t-pasar-stream", "port": {"name": "http"}},
            "/console/live/": {"name": "t-pasar-stream", "port": {"name": "http"}},
            "/": {"name": "t-pasar-web", "port": {"name": "http"}},
        }


def test_every_pod_runs_as_non_root_with_a_read_only_root(docs):
    for doc in workloads(docs):
        pod = doc["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == 10001  # the image's `pasar` user
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["readOnlyRootFilesystem"] is True
            assert context["capabilities"] == {"drop": ["ALL"]}
            # The only writable places: emptyDirs (and the media claim) mounted over them.
            mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
            assert {"/tmp", "/app/instance"} <= mounts


def test_web_and_worker_share_the_media_claim_where_the_app_looks(docs):
    claim = component(docs, "PersistentVolumeClaim", "media")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    media_root = component(docs, "ConfigMap", "env")["data"]["MEDIA_ROOT"]
    for name in ("web", "worker"):
        pod = component(docs, "Deployment", name)["spec"]["template"]["spec"]
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        assert volumes["media"]["persistentVolumeClaim"] == {"claimName": "t-pasar-media"}
        (container,) = pod["containers"]
        assert {"name": "media", "mountPath": media_root} in container["volumeMounts"]


def env_sources(docs: list[dict], workload: dict) -> dict[str, str]:
    """Every variable one workload's container gets, name -> value, through env and envFrom
    (the ConfigMap's data and the Secret's stringData, looked up in the render by name)."""
    (container,) = containers(workload)
    values = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            values |= of_kind(docs, "ConfigMap")[source["configMapRef"]["name"]]["data"]
        else:
            values |= of_kind(docs, "Secret")[source["secretRef"]["name"]]["stringData"]
    values |= {var["name"]: var["value"] for var in container.get("env", [])}
    return values


@pytest.fixture(scope="module")
def everything_set(helm) -> list[dict]:
    """A render with every key of values.yaml's config and secrets set: empty ones are left out
    of the ConfigMap and Secret, so a default render can't show that each one reaches the pods."""
    values = chart_values()
    return helm.render(
        {
            "config": {name: f"config-{name}" for name in values["config"]},
            "secrets": {name: f"secret-{name}" for name in values["secrets"]},
        }
    )


@pytest.mark.parametrize("name", sorted(APP_SETTINGS | GUNICORN_SETTINGS))
def test_every_setting_the_app_reads_reaches_the_web_pods(everything_set, name):
    web = component(everything_set, "Deployment", "web")
    assert name in env_sources(everything_set, web), f"{name} can't be set on the web pods"


def test_worker_cron_and_migration_get_every_app_setting(everything_set):
    for workload in workloads(everything_set):
        missing = APP_SETTINGS - set(env_sources(everything_set, workload))
        assert not missing, f"{workload['metadata']['name']} lacks {sorted(missing)}"


def test_secrets_go_to_the_secret_and_settings_to_the_config_map(everything_set):
    values = chart_values()
    secret = component(everything_set, "Secret", "env")["stringData"]
    config = component(everything_set, "ConfigMap", "env")["data"]
    assert set(secret) == set(values["secrets"])
    assert set(config) == set(values["config"])
    assert not set(secret) & set(config)
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "MAIL_PASSWORD", "METRICS_TOKEN"} <= set(
        secret
    )


def test_an_existing_secret_replaces_the_charts_own(helm):
    docs = helm.render({"existingSecret": "pasar-managed"})
    assert "Secret" not in {doc["kind"] for doc in docs}
    for workload in workloads(docs):
        (container,) = containers(workload)
        refs = [
            source["secretRef"]["name"] for source in container["envFrom"] if "secretRef" in source
        ]
        assert refs == ["pasar-managed"]


@pytest.mark.parametrize("missing", sorted(REQUIRED_SECRETS))
def test_a_missing_required_secret_fails_with_the_charts_message(helm, missing):
    secrets = {name: value for name, value in REQUIRED_SECRETS.items() if name != missing}
    result = helm.run("template", {"secrets": secrets}, RELEASE)
    assert result.returncode != 0
    assert f"secrets.{missing} is required (or set existingSecret)" in result.stderr


def test_replicas_image_and_host_overrides_show_up(helm):
    docs = helm.render(
        merged(
            {"web": {"replicas": 5}, "worker": {"replicas": 3}},
            {"image": {"repository": "registry.test/shop/pasar", "tag": "1.2.3"}},
            {"ingress": {"host": "shop.example.org"}},
        )
    )
    assert component(docs, "Deployment", "web")["spec"]["replicas"] == 5
    assert component(docs, "Deployment", "worker")["spec"]["replicas"] == 3
    for workload in workloads(docs):
        (container,) = containers(workload)
        assert container["image"] == "registry.test/shop/pasar:1.2.3"
    ingress = of_kind(docs, "Ingress")["t-pasar"]
    assert [rule["host"] for rule in ingress["spec"]["rules"]] == [
        "shop.example.org",
        "*.shop.example.org",
    ]
    # PLATFORM_DOMAIN follows the host unless set.
    assert component(docs, "ConfigMap", "env")["data"]["PLATFORM_DOMAIN"] == "shop.example.org"


def test_an_existing_claim_or_no_persistence_creates_no_claim(helm):
    existing = helm.render(
        merged({"media": {"persistence": {"enabled": True, "existingClaim": "mine"}}})
    )
    assert "PersistentVolumeClaim" not in {doc["kind"] for doc in existing}
    web = component(existing, "Deployment", "web")["spec"]["template"]["spec"]
    assert {"name": "media", "persistentVolumeClaim": {"claimName": "mine"}} in web["volumes"]
    off = helm.render(merged({"media": {"persistence": {"enabled": False}}}))
    assert "PersistentVolumeClaim" not in {doc["kind"] for doc in off}
    web = component(off, "Deployment", "web")["spec"]["template"]["spec"]
    assert {"name": "media", "emptyDir": {}} in web["volumes"]


def test_cron_and_the_migration_can_be_turned_off(helm):
    docs = helm.render(merged({"cron": {"enabled": False}, "migrations": {"enabled": False}}))
    assert set(of_kind(docs, "Deployment")) == {"t-pasar-web", "t-pasar-stream", "t-pasar-worker"}
    assert not of_kind(docs, "Job")


def pod_annotations(docs: list[dict]) -> dict[str, dict]:
    return {
        doc["metadata"]["name"]: doc["spec"]["template"]["metadata"].get("annotations", {})
        for doc in of_kind(docs, "Deployment").values()
    }


@pytest.mark.parametrize(
    "change",
    [
        {"config": {"LOG_FORMAT": "text"}},
        # PLATFORM_DOMAIN defaults to the host: a new host is a new setting for the pods.
        {"ingress": {"host": "shop.example.org"}},
        {"secrets": {"DATABASE_URL": "postgresql://pasar:new@db:5432/pasar"}},
    ],
    ids=["config", "host", "secret"],
)
def test_a_settings_change_rolls_every_deployment(helm, docs, change):
    """envFrom is read when a container starts: pods keep old settings until they restart, so
    the pod template must change whenever the ConfigMap or the Secret does."""
    before, after = pod_annotations(docs), pod_annotations(helm.render(merged(change)))
    for name in before:
        assert before[name] != after[name], f"{name} would keep running with the old settings"
