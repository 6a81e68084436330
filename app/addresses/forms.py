"""The address form. Its fields only carry input: the rules in `rules.py` judge it."""

from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TelField

from app.addresses import rules


def _text(label: str, field: str, autocomplete: str, **kwargs) -> StringField:
    return StringField(
        label,
        render_kw={"autocomplete": autocomplete, "maxlength": rules.MAX_LENGTHS[field]},
        **kwargs,
    )


class AddressForm(FlaskForm):
    # CSRFProtect checks the token on every POST before the view runs; the templates render
    # it with csrf_token(), so the form doesn't check it a second time.
    class Meta:
        csrf = False

    full_name = _text(lazy_gettext("Full name"), "full_name", "name")
    company = _text(lazy_gettext("Company (optional)"), "company", "organization")
    line1 = _text(
        lazy_gettext("Address line 1"),
        "line1",
        "address-line1",
        description=lazy_gettext("Street address, P.O. box or company name."),
    )
    line2 = _text(
        lazy_gettext("Address line 2 (optional)"),
        "line2",
        "address-line2",
        description=lazy_gettext("Apartment, suite, unit, building or floor."),
    )
    city = _text(lazy_gettext("City or town"), "city", "address-level2")
    region = _text(lazy_gettext("Region"), "region", "address-level1")
    postal_code = StringField(
        lazy_gettext("Postal code"),
        render_kw={
            "autocomplete": "postal-code",
            "maxlength": rules.MAX_POSTAL_INPUT,
            "autocapitalize": "characters",
        },
    )
    country = SelectField(
        lazy_gettext("Country"), validate_choice=False, render_kw={"autocomplete": "country"}
    )
    phone = TelField(
        lazy_gettext("Phone (optional)"),
        render_kw={"autocomplete": "tel", "maxlength": rules.MAX_PHONE_INPUT},
        description=lazy_gettext(
            "Only for the courier, if they need to reach you about a delivery."
        ),
    )
    is_default_shipping = BooleanField(lazy_gettext("Use as my default shipping address"))
    is_default_billing = BooleanField(lazy_gettext("Use as my default billing address"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.country.choices = [("", lazy_gettext("Choose a country…")), *rules.country_choices()]

    def address_values(self) -> dict[str, str | None]:
        """The submitted address fields, for the rules and the service."""
        return {name: self[name].data for name in rules.FIELDS}

    def add_errors(self, errors: dict[str, str]) -> None:
        """Attach the rules' messages to their fields; "" is a message for the whole form."""
        for name, message in errors.items():
            if name in self._fields:
                self[name].errors = [*self[name].errors, message]
            else:
                self.form_errors.append(message)
