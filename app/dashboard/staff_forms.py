"""Forms of the staff page: invite someone, hand ownership on."""

from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from wtforms import EmailField, IntegerField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired

INVITE_ROLE_CHOICES = [
    SelectChoice("staff", lazy_gettext("Staff")),
    SelectChoice("manager", lazy_gettext("Manager")),
]


class InviteForm(FlaskForm):
    email = EmailField(
        lazy_gettext("Email address"),
        validators=[DataRequired(lazy_gettext("Enter the email address to invite."))],
        render_kw={"autocomplete": "off", "inputmode": "email", "maxlength": 320},
    )
    # The service checks the role, so a forged value gets its message, not a bare error.
    role = SelectField(
        lazy_gettext("Role"),
        choices=INVITE_ROLE_CHOICES,
        validate_choice=False,
        description=lazy_gettext("Managers can also refund, change settings and export."),
    )


class TransferForm(FlaskForm):
    membership_id = IntegerField(
        lazy_gettext("New owner"),
        validators=[InputRequired(lazy_gettext("Choose the member who will own the store."))],
    )
