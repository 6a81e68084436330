"""The address book pages. They answer on every host: addresses belong to the account."""

from babel import Locale, UnknownLocaleError
from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required

from app.accounts.models import User
from app.addresses import rules, service
from app.addresses.formatting import address_lines
from app.addresses.forms import AddressForm
from app.addresses.models import Address
from app.addresses.service import AddressError
from app.rendering import is_htmx, render_page_or_fragment

bp = Blueprint("addresses", __name__, url_prefix="/account/addresses")

LIST_TEMPLATE = "account/addresses/list.html"
FORM_TEMPLATE = "account/addresses/form.html"
REGION_TEMPLATE = "account/addresses/_partials/region_field.html"


# Every page and email shows addresses the same way, whichever blueprint renders it.
bp.add_app_template_global(address_lines, "address_lines")
bp.add_app_template_global(rules.phone_display, "phone_display")


@bp.context_processor
def _address_helpers():
    """Templates of this blueprint read labels and region lists from the rules."""
    return {"address_rules": rules}


def get_address_or_404(user: User, address_id) -> Address:
    """The user's address with this id, or 404 (also for another user's address)."""
    address = service.get_address(user, address_id)
    if address is None:
        abort(404)
    return address


def _list_page():
    """The list page, or just its list fragment for htmx."""
    addresses = service.list_addresses(current_user)
    return render_page_or_fragment(
        LIST_TEMPLATE,
        "address_list",
        addresses=addresses,
        at_limit=len(addresses) >= service.MAX_ADDRESSES,
        max_addresses=service.MAX_ADDRESSES,
    )


def _form_page(form: AddressForm, address: Address | None = None):
    """The form page; a submitted form with errors answers 422."""
    status = 422 if request.method == "POST" and form.errors else 200
    saved = service.count_addresses(current_user) if address is None else None
    body = render_template(
        FORM_TEMPLATE,
        form=form,
        address=address,
        first_address=saved == 0,
        # A refused 51st address shows the form with the message; a fresh visit, just the note.
        at_limit=saved is not None and saved >= service.MAX_ADDRESSES and request.method == "GET",
        max_addresses=service.MAX_ADDRESSES,
    )
    return body, status


def _suggested_country() -> str | None:
    """The country of the user's newest address, else of the store's locale, else none."""
    addresses = service.list_addresses(current_user)
    if addresses:
        return max(addresses, key=lambda a: (a.created_at, a.id)).country
    store = g.get("store")
    if store is not None:
        try:
            return Locale.parse(store.locale).territory
        except (UnknownLocaleError, ValueError):
            return None
    return None


def _flags(form: AddressForm) -> dict[str, bool]:
    return {
        "default_shipping": bool(form.is_default_shipping.data),
        "default_billing": bool(form.is_default_billing.data),
    }


@bp.get("/")
@login_required
def address_list():
    """The signed-in user's saved addresses."""
    return _list_page()


@bp.route("/new", methods=["GET", "POST"])
@login_required
def address_new():
    """Add an address to the book."""
    form = AddressForm()
    if request.method == "GET":
        form.country.data = _suggested_country()
    else:
        try:
            service.create_address(current_user, form.address_values(), **_flags(form))
        except AddressError as exc:
            form.add_errors(exc.errors)
        else:
            flash(gettext("Address saved."), "success")
            return redirect(url_for(".address_list"), code=303)
    return _form_page(form)


@bp.route("/<int:address_id>/edit", methods=["GET", "POST"])
@login_required
def address_edit(address_id: int):
    """Change one of the user's addresses."""
    address = get_address_or_404(current_user, address_id)
    if request.method == "GET":
        form = AddressForm(obj=address)
        form.phone.data = address.phone_display
        return _form_page(form, address)
    form = AddressForm()
    try:
        service.update_address(current_user, address, form.address_values(), **_flags(form))
    except AddressError as exc:
        form.add_errors(exc.errors)
        return _form_page(form, address)
    flash(gettext("Address updated."), "success")
    return redirect(url_for(".address_list"), code=303)


@bp.post("/<int:address_id>/delete")
@login_required
def address_delete(address_id: int):
    """Delete an address: htmx gets an empty body (the row goes), a form gets a redirect."""
    address = get_address_or_404(current_user, address_id)
    service.delete_address(current_user, address)
    if is_htmx():
        return "", 200
    flash(gettext("Address deleted."), "success")
    return redirect(url_for(".address_list"), code=303)


@bp.post("/<int:address_id>/default")
@login_required
def address_set_default(address_id: int):
    """Make an address the default for shipping or billing (form field `kind`)."""
    address = get_address_or_404(current_user, address_id)
    kind = request.form.get("kind", "")
    if kind not in service.KINDS:
        abort(400, "Choose whether this is your default shipping or billing address.")
    service.set_default(current_user, address, kind)
    if is_htmx():
        return _list_page()
    flash(
        gettext("Default shipping address updated.")
        if kind == "shipping"
        else gettext("Default billing address updated."),
        "success",
    )
    return redirect(url_for(".address_list"), code=303)


@bp.get("/regions")
@login_required
def regions():
    """The region field for the chosen country (htmx swaps it in when the country changes)."""
    country, _ = rules.check_country(request.args.get("country", ""))
    return render_template(REGION_TEMPLATE, country=country, value=None, errors=(), oob=True)
