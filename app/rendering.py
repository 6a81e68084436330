"""Rendering a whole page, or just the fragment an htmx request asked for.

The one way views answer htmx. A fragment is either a block of the page's own template
(`render_page_or_fragment`, so the rows exist once) or a separate partial template that the page
includes (`render_page_or_partial`); an htmx-only answer is `render_partial`. Every one of them
varies on `HX-Request`, so a cache never serves a fragment for a page or a page for a fragment,
and a history restore (`HX-History-Restore-Request`, htmx re-fetching a page it lost from its
cache) gets the whole page.
"""

import functools

from flask import Response, current_app, make_response, render_template, request
from jinja2 import nodes
from jinja2_fragments.flask import render_block


def is_htmx() -> bool:
    """True for an htmx request that expects a fragment (not a history restore)."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def varied(*parts: str, status: int = 200) -> Response:
    """A response whose body depends on HX-Request: `parts` joined (a fragment, then any
    out-of-band swaps), with `Vary: HX-Request`."""
    response = make_response("\n".join(parts), status)
    response.vary.add("HX-Request")
    return response


def render_page_or_fragment(template: str, block: str, status: int = 200, **context) -> Response:
    """The named block of `template` for htmx, the full page otherwise; varies on HX-Request."""
    if is_htmx():
        return varied(render_fragment(template, block, **context), status=status)
    return varied(render_template(template, **context), status=status)


def render_fragment(template: str, block: str, **context) -> str:
    """One block of `template` rendered alone, with the macros the template imports."""
    return render_block(template, block, **{**template_imports(template), **context})


def render_page_or_partial(page: str, partial: str, status: int = 200, **context) -> Response:
    """The `partial` template for htmx, the full `page` (which includes it) otherwise; varies on
    HX-Request."""
    return varied(render_template(partial if is_htmx() else page, **context), status=status)


def render_partial(template: str, status: int = 200, *, oob: tuple[str, ...] = (), **context):
    """A partial template as the answer to htmx (with `oob`, already rendered out-of-band swaps,
    after it); varies on HX-Request. For views whose answer without htmx is a redirect."""
    return varied(render_template(template, **context), *oob, status=status)


def template_imports(name: str) -> dict:
    """The macros `name` and the templates it extends import at their top level (`{% from
    "_partials/forms.html" import confirm_first %}`), by the names they are imported as.

    A whole page runs those imports before its blocks; a block rendered alone doesn't, so
    without these a fragment that calls an imported macro fails (a 500 where the page works).
    Read once per template, unless templates reload (debug)."""
    env = current_app.jinja_env
    return _imports(env, name) if env.auto_reload else _kept_imports(env, name)


def _imports(env, name: str) -> dict:
    found: dict = {}
    while name:
        source, _, _ = env.loader.get_source(env, name)
        name = None
        for node in env.parse(source).body:  # the top level only: imports in a block run in it
            if isinstance(node, nodes.Extends) and isinstance(node.template, nodes.Const):
                name = node.template.value
            elif isinstance(node, nodes.FromImport) and not node.with_context:
                module = env.get_template(node.template.value).module
                for item in node.names:
                    original, alias = item if isinstance(item, tuple) else (item, item)
                    found.setdefault(alias, getattr(module, original))
            elif isinstance(node, nodes.Import) and not node.with_context:
                found.setdefault(node.target, env.get_template(node.template.value).module)
    return found


_kept_imports = functools.lru_cache(maxsize=512)(_imports)
