"""Forms of the staff page: invite someone, hand ownership on."""

from flask_wtf import FlaskForm
from wtforms import EmailField, IntegerField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired

INVITE_ROLE_CHOICES = [SelectChoice("staff", "Staff"), SelectChoice("manager", "Manager")]


class InviteForm(FlaskForm):
    email = EmailField(
        "Email address",
        validators=[DataRequired("Enter the email address to invite.")],
        render_kw={"autocomplete": "off", "inputmode": "email", "maxlength": 320},
    )
    # The service checks the role, so a forged value gets its message, not a bare error.
    role = SelectField(
        "Role",
        choices=INVITE_ROLE_CHOICES,
        validate_choice=False,
        description="Managers can also refund, change settings and export.",
    )


class TransferForm(FlaskForm):
    membership_id = IntegerField(
        "New owner", validators=[InputRequired("Choose the member who will own the store.")]
    )
