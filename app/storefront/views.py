"""A store's public pages on its own host."""

from flask import make_response, render_template

from tenants.context import current_store, store_blueprint

bp = store_blueprint("storefront", __name__)


def home():
    """The store's home page."""
    return render_template("storefront/home.html")


@bp.get("/theme.css")
def theme_css():
    """The store's accent colour as CSS variables (a stylesheet, so CSP needs no inline styles)."""
    store = current_store()
    body = render_template("storefront/theme.css", store=store)
    response = make_response(body)
    response.mimetype = "text/css"
    response.cache_control.public = True
    response.cache_control.max_age = 300
    return response
