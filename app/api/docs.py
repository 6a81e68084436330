"""The API's OpenAPI document and its readable page, from our own static files (no CDN)."""

from flask import current_app, jsonify, render_template

from tenants.context import store_blueprint

bp = store_blueprint("api_docs", __name__, url_prefix="/api/v1")


@bp.get("/openapi.json")
def openapi_document():
    """The OpenAPI 3.1 document, generated from the schemas that validate the requests."""
    return jsonify(current_app.extensions["pasar_api"].spec.to_dict())


@bp.get("/docs")
def docs_page():
    """The API reference, drawn in the browser by Swagger UI from /api/v1/openapi.json."""
    return render_template("api/docs.html")
