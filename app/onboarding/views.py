"""Self-serve onboarding on the platform host: a verified user opens a store."""

from flask import current_app, redirect, render_template, request
from flask_login import current_user, login_required

from app.extensions import limiter
from app.onboarding.forms import OpenStoreForm
from app.rendering import render_page_or_partial
from tenants.context import platform_blueprint
from tenants.provisioning import StoreSettingsError, create_store, subdomain_answer
from tenants.urls import store_url

bp = platform_blueprint("onboarding", __name__, url_prefix="/stores")

MAX_TYPED_SLUG = 100


@bp.route("/new", methods=["GET", "POST"])
@login_required
@limiter.limit("20 per hour", methods=["POST"])
def open_store():
    """Open a store: name, subdomain (checked as it is typed) and currency."""
    form = OpenStoreForm()
    if not current_user.is_verified:
        return render_template("onboarding/open_store.html", form=form, unverified=True), 403
    if form.validate_on_submit():
        try:
            store = create_store(
                slug=form.slug.data.strip(),
                name=form.name.data,
                owner=current_user,
                currency=form.currency.data,
                published=False,
            )
        except StoreSettingsError as error:
            field = getattr(form, error.field, None)
            if field is None:
                field = form.slug
            field.errors = [*field.errors, error.message]
        else:
            return redirect(store_url(store, "/admin/"), 303)
    status = 422 if request.method == "POST" else 200
    return render_template("onboarding/open_store.html", form=form, unverified=False), status


@bp.get("/new/subdomain")
@login_required
@limiter.limit("120 per minute")
def check_subdomain():
    """Whether a subdomain can be had, as the vendor types it (htmx fragment or a page)."""
    slug = (request.args.get("slug") or "")[:MAX_TYPED_SLUG]
    available, message = subdomain_answer(slug)
    context = {
        "slug": slug,
        "available": available,
        "message": message,
        "address": f"{slug}.{current_app.config['PLATFORM_DOMAIN']}" if available else None,
    }
    return render_page_or_partial(
        "onboarding/open_store.html",
        "onboarding/_partials/subdomain_check.html",
        form=OpenStoreForm(formdata=None, slug=slug),
        unverified=False,
        check=context,
        **context,
    )
