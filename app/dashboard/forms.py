"""Dashboard forms."""

from babel import Locale
from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from app.money import currencies
from tenants.models import known_timezones

COMMON_LOCALES = [
    "en_US",
    "en_GB",
    "en_AU",
    "id_ID",
    "ms_MY",
    "de_DE",
    "fr_FR",
    "nl_NL",
    "es_ES",
    "it_IT",
    "pt_BR",
    "ja_JP",
    "zh_CN",
    "th_TH",
    "vi_VN",
]


def currency_choices():
    return [SelectChoice(code, code) for code in currencies()]


def locale_choices():
    return [SelectChoice(code, Locale.parse(code).display_name) for code in COMMON_LOCALES]


def timezone_choices():
    return [SelectChoice(tz, tz.replace("_", " ")) for tz in sorted(known_timezones())]


class StoreSettingsForm(FlaskForm):
    name = StringField(
        lazy_gettext("Store name"),
        validators=[DataRequired(lazy_gettext("Give the store a name.")), Length(max=120)],
    )
    accent_color = StringField(
        lazy_gettext("Accent colour"),
        render_kw={"type": "color"},
        description=lazy_gettext("Used for buttons, links and the header."),
    )
    currency = SelectField(lazy_gettext("Currency"), validate_choice=False)
    locale = SelectField(lazy_gettext("Number and date format"), validate_choice=False)
    timezone = SelectField(lazy_gettext("Time zone"), validate_choice=False)
    contact_email = StringField(
        lazy_gettext("Contact email"),
        validators=[Length(max=254)],
        description=lazy_gettext(
            "Shown to shoppers in the store's footer. Leave empty to show none."
        ),
    )
    low_stock_default = StringField(
        lazy_gettext("Low-stock alert level"),
        validators=[Length(max=12)],
        description=lazy_gettext(
            "Owners and managers are emailed when a variant's stock falls to this "
            "(a variant can have its own level). Empty: 5."
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.currency.choices = currency_choices()
        self.locale.choices = locale_choices()
        self.timezone.choices = timezone_choices()


class RoleForm(FlaskForm):
    role = SelectField(
        lazy_gettext("Role"),
        choices=[
            SelectChoice("manager", lazy_gettext("Manager")),
            SelectChoice("staff", lazy_gettext("Staff")),
        ],
        validate_choice=False,
    )
