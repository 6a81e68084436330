"""The language switcher: a shopper's choice, remembered in the session."""

from flask import Blueprint, make_response, redirect, request, session

from app.accounts.redirects import safe_next
from app.i18n import SESSION_KEY, clean_language
from app.rendering import is_htmx

bp = Blueprint("languages", __name__)


@bp.post("/language")
def switch():
    """Remember the language the shopper picked and go back to the page they were on."""
    language = clean_language(request.form.get("lang"))
    if language:
        session[SESSION_KEY] = language
    target = safe_next(request.form.get("next"), default="/")
    if is_htmx():
        # A full reload: every fragment on the page must come back in the new language.
        response = make_response("", 204)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target, code=303)
