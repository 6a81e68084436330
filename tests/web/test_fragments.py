"""Every block a view renders alone for htmx has what the whole page gives it: the macros the
template (or one it extends) imports at its top level (app/rendering.py)."""

import re
from pathlib import Path

import pytest
from jinja2 import nodes

from app.rendering import template_imports

pytestmark = pytest.mark.backends("sqlite")

ROOT = Path(__file__).resolve().parents[2]
CALL = re.compile(r'render_(?:page_or_)?fragment\(\s*"([^"]+)",\s*"([^"]+)"')


def fragment_blocks() -> list[tuple[str, str]]:
    """(template, block) of every render_page_or_fragment / render_fragment call with literal
    names in app/."""
    found = set()
    for path in (ROOT / "app").rglob("*.py"):
        found.update(CALL.findall(path.read_text(encoding="utf-8")))
    return sorted(found)


def shared_macros(env) -> set[str]:
    """The macros of templates/_partials/, which pages import."""
    names = set()
    for path in (ROOT / "templates" / "_partials").glob("*.html"):
        names |= {m.name for m in env.parse(path.read_text(encoding="utf-8")).find_all(nodes.Macro)}
    return names


def test_the_fragments_of_the_views_are_found():
    assert {("admin/jobs.html", "lists"), ("cart/show.html", "lines")} <= set(fragment_blocks())


@pytest.mark.parametrize("template, block", fragment_blocks())
def test_a_fragment_gets_every_shared_macro_it_calls(app, template, block):
    """Each shared macro the block calls is imported in the block or at the template's top level
    (which render_fragment passes in): none is left undefined when the block renders alone."""
    with app.app_context():
        env = app.jinja_env
        source = env.loader.get_source(env, template)[0]
        body = next(b for b in env.parse(source).find_all(nodes.Block) if b.name == block)
        called = {
            call.node.name
            for call in body.find_all(nodes.Call)
            if isinstance(call.node, nodes.Name)
        }
        in_block = {
            item[1] if isinstance(item, tuple) else item
            for imported in body.find_all(nodes.FromImport)
            for item in imported.names
        }
        missing = (called & shared_macros(env)) - in_block - set(template_imports(template))
        assert not missing, f"{template} block {block!r} calls {missing} without importing them"
