"""The deploy tier runs only when asked for (`pytest -m deploy`, `make test-deploy`): it builds
images and starts containers, which `make test` must not wait for."""


def pytest_collection_modifyitems(config, items):
    """Deselect (not skip: under CI=true a skip fails the run) the deploy tests unless the
    marker expression names them."""
    if "deploy" in (config.getoption("markexpr") or ""):
        return
    chosen = [item for item in items if item.get_closest_marker("deploy") is None]
    if len(chosen) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in chosen])
        items[:] = chosen
