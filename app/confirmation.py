"""Destructive actions ask first, the same way with or without JavaScript.

A destructive form carries the question in a hidden `confirm_step` field (and its button's
words in `confirm_label`), from the `confirm_first` macro in `_partials/forms.html`. With
JavaScript, static/js/pasar.js asks it in a dialog and leaves both fields out of the request
it lets through. Without JavaScript the fields arrive, and this hook answers with a page that
asks the same question; its form posts everything else back to the same address. A post
without the fields (that page, a script, a test) does the action.
"""

from flask import render_template, request

from app.accounts.redirects import current_path, safe_next
from app.request_guards import FORM_MIMETYPES, SERVER_TO_SERVER_BLUEPRINTS

ASK_FIELD = "confirm_step"
LABEL_FIELD = "confirm_label"
MAX_QUESTION = 500
MAX_LABEL = 60


def ask_before_destructive_post():
    """Before any view: a post that still carries its question gets the confirmation page.

    Runs after the CSRF check, so only this site's own forms can make it ask.
    """
    if (
        request.method != "POST"
        or request.blueprint in SERVER_TO_SERVER_BLUEPRINTS  # their raw bodies stay unread
        or request.mimetype not in FORM_MIMETYPES
        or ASK_FIELD not in request.form
    ):
        return None
    question = " ".join(request.form.get(ASK_FIELD, "").split())[:MAX_QUESTION]
    label = " ".join(request.form.get(LABEL_FIELD, "").split())[:MAX_LABEL] or "Yes, go ahead"
    fields = [
        (name, value)
        for name, value in request.form.items(multi=True)
        if name not in (ASK_FIELD, LABEL_FIELD, "csrf_token")
    ]
    return render_template(
        "confirm.html",
        question=question or "Are you sure?",
        label=label,
        action=current_path(),
        fields=fields,
        back=safe_next(request.referrer, default="/"),
    )
