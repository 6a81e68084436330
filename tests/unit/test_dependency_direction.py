"""Dependencies point one way: job functions (jobs/) import domain code, domain code reaches
them only by dotted path through app.background; services never import the view packages
(dashboard, console); orders compute totals without the checkout flow. Read from the source
with ast, so nothing is imported to check it."""

import ast
from pathlib import Path

import pytest
from rq.utils import import_attribute

ROOT = Path(__file__).resolve().parents[2]
VIEW_PACKAGES = ("app.dashboard", "app.console")


def modules(*folders: str):
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            yield path.relative_to(ROOT), ast.parse(path.read_text(), str(path))


def imported(tree: ast.AST) -> set[str]:
    """Every module an `import` or `from ... import` in the file names (nested ones too)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_nothing_in_app_or_tenants_imports_the_jobs():
    offenders = [
        f"{path}: {name}"
        for path, tree in modules("app", "tenants")
        for name in imported(tree)
        if within(name, "jobs")
    ]
    assert offenders == []


def test_every_job_named_by_dotted_path_exists():
    paths = {
        node.value
        for _, tree in modules("app", "tenants")
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value.startswith("jobs.")
        and node.value.count(".") >= 2
        and " " not in node.value
    }
    assert "jobs.email.send_email" in paths
    for path in sorted(paths):
        assert callable(import_attribute(path)), path


def is_view_module(path: Path) -> bool:
    """Blueprint code: the view packages, modules named like views, and the app factory."""
    parts = path.with_suffix("").parts
    return (
        ".".join(parts[:2]) in VIEW_PACKAGES
        or parts[-1].endswith("views")
        or path.as_posix() == "app/__init__.py"
    )


def test_services_never_import_the_view_packages():
    offenders = [
        f"{path}: {name}"
        for path, tree in modules("app", "tenants", "jobs")
        if not is_view_module(path)
        for name in imported(tree)
        if any(within(name, package) for package in VIEW_PACKAGES)
    ]
    assert offenders == []


def test_payouts_never_import_the_dashboard():
    for path, tree in modules("app/payouts"):
        assert not any(within(name, "app.dashboard") for name in imported(tree)), path


def test_orders_compute_totals_without_the_checkout_flow():
    for path, tree in modules("app/orders"):
        checkout = {name for name in imported(tree) if within(name, "app.checkout")}
        # The store's checkout settings row is data orders read (refunds need the keys).
        assert checkout <= {"app.checkout.models", "app.checkout.models.CheckoutSettings"}, path


@pytest.mark.parametrize("package", VIEW_PACKAGES)
def test_each_blueprint_imports_its_pages_in_one_list(package):
    folder = ROOT / package.replace(".", "/")
    init = ast.parse((folder / "__init__.py").read_text())
    listed = {
        alias.name
        for node in ast.walk(init)
        if isinstance(node, ast.ImportFrom) and node.module == package
        for alias in node.names
    }
    pages = set()
    for path, tree in modules(package.replace(".", "/")):
        if path.name == "__init__.py":
            continue
        if any(name == f"{package}.bp" for name in imported(tree)):
            pages.add(path.stem)
        # No page module imports the others to register them.
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == package:
                assert {alias.name for alias in node.names} <= {"bp", "queries", "overview"}, path
    assert pages and pages <= listed
