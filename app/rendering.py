"""Rendering a whole page, or just the fragment an htmx request asked for.

The one way views answer htmx. A fragment is either a block of the page's own template
(`render_page_or_fragment`, so the rows exist once) or a separate partial template that the page
includes (`render_page_or_partial`); an htmx-only answer is `render_partial`. Every one of them
varies on `HX-Request`, so a cache never serves a fragment for a page or a page for a fragment,
and a history restore (`HX-History-Restore-Request`, htmx re-fetching a page it lost from its
cache) gets the whole page.
"""

from flask import Response, make_response, render_template, request
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
        return varied(render_block(template, block, **context), status=status)
    return varied(render_template(template, **context), status=status)


def render_page_or_partial(page: str, partial: str, status: int = 200, **context) -> Response:
    """The `partial` template for htmx, the full `page` (which includes it) otherwise; varies on
    HX-Request."""
    return varied(render_template(partial if is_htmx() else page, **context), status=status)


def render_partial(template: str, status: int = 200, *, oob: tuple[str, ...] = (), **context):
    """A partial template as the answer to htmx (with `oob`, already rendered out-of-band swaps,
    after it); varies on HX-Request. For views whose answer without htmx is a redirect."""
    return varied(render_template(template, **context), *oob, status=status)
