"""The open-a-store form. Slug rules and availability live in tenants/provisioning.py."""

from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

# The currencies offered when opening a store; any ISO code can be set later in settings.
CURRENCIES = [
    SelectChoice("USD", "US dollar (USD)"),
    SelectChoice("EUR", "Euro (EUR)"),
    SelectChoice("GBP", "British pound (GBP)"),
    SelectChoice("IDR", "Indonesian rupiah (IDR)"),
    SelectChoice("SGD", "Singapore dollar (SGD)"),
    SelectChoice("MYR", "Malaysian ringgit (MYR)"),
    SelectChoice("AUD", "Australian dollar (AUD)"),
    SelectChoice("JPY", "Japanese yen (JPY)"),
]


class OpenStoreForm(FlaskForm):
    name = StringField(
        lazy_gettext("Store name"),
        validators=[DataRequired(lazy_gettext("Name your store.")), Length(max=120)],
        render_kw={"maxlength": 120, "autocomplete": "organization"},
    )
    slug = StringField(
        lazy_gettext("Subdomain"),
        validators=[DataRequired(lazy_gettext("Choose a subdomain."))],
        render_kw={
            "maxlength": 63,
            "autocomplete": "off",
            "autocapitalize": "none",
            "spellcheck": "false",
        },
        description=lazy_gettext("3 to 40 lower-case letters, digits and hyphens."),
    )
    currency = SelectField(lazy_gettext("Currency"), choices=CURRENCIES, default="USD")
