"""Account forms. Rules beyond "required" live in the service, which the views call."""

from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    PasswordField,
    SelectField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Regexp

from app.i18n import language_choices

EMAIL = {
    "validators": [DataRequired(lazy_gettext("Enter your email address."))],
    "render_kw": {"autocomplete": "email", "inputmode": "email", "maxlength": 320},
}


class RegisterForm(FlaskForm):
    name = StringField(
        lazy_gettext("Your name"), validators=[Length(max=120)], render_kw={"autocomplete": "name"}
    )
    email = EmailField(lazy_gettext("Email"), **EMAIL)
    password = PasswordField(
        lazy_gettext("Password"),
        validators=[DataRequired(lazy_gettext("Choose a password."))],
        render_kw={"autocomplete": "new-password", "minlength": 10},
        description=lazy_gettext("At least 10 characters. Avoid common passwords."),
    )


class SignInForm(FlaskForm):
    email = EmailField(lazy_gettext("Email"), **EMAIL)
    password = PasswordField(
        lazy_gettext("Password"),
        validators=[DataRequired(lazy_gettext("Enter your password."))],
        render_kw={"autocomplete": "current-password"},
    )
    remember = BooleanField(lazy_gettext("Keep me signed in"))
    next = HiddenField()


class EmailForm(FlaskForm):
    email = EmailField(lazy_gettext("Email"), **EMAIL)
    next = HiddenField()


class CodeForm(FlaskForm):
    code = StringField(
        lazy_gettext("6-digit code"),
        validators=[
            DataRequired(lazy_gettext("Enter the code from the email.")),
            Regexp(r"^\s*\d{3}\s?\d{3}\s*$", message=lazy_gettext("The code is 6 digits.")),
        ],
        render_kw={
            "autocomplete": "one-time-code",
            "inputmode": "numeric",
            "pattern": "[0-9 ]{6,7}",
            "maxlength": 7,
        },
    )
    next = HiddenField()


class NewPasswordForm(FlaskForm):
    password = PasswordField(
        lazy_gettext("New password"),
        validators=[DataRequired(lazy_gettext("Choose a password."))],
        render_kw={"autocomplete": "new-password", "minlength": 10},
    )
    confirm = PasswordField(
        lazy_gettext("Repeat the new password"),
        validators=[
            DataRequired(lazy_gettext("Repeat the password.")),
            EqualTo("password", lazy_gettext("The two passwords don't match.")),
        ],
        render_kw={"autocomplete": "new-password"},
    )


class ChangePasswordForm(NewPasswordForm):
    current_password = PasswordField(
        lazy_gettext("Current password"), render_kw={"autocomplete": "current-password"}
    )


class ProfileForm(FlaskForm):
    name = StringField(
        lazy_gettext("Your name"),
        validators=[Length(max=120, message=lazy_gettext("Use at most 120 characters."))],
        render_kw={"autocomplete": "name"},
    )
    language = SelectField(
        lazy_gettext("Language"),
        choices=[
            SelectChoice("", lazy_gettext("Your browser's language")),
            *(SelectChoice(code, name) for code, name in language_choices()),
        ],
        description=lazy_gettext(
            "For Pasar's emails to you, your dashboards and the console. Stores keep their own."
        ),
        validate_choice=False,  # app.accounts.service.update_profile refuses anything else
    )


class ChangeEmailForm(FlaskForm):
    email = EmailField(lazy_gettext("New email address"), **EMAIL)
    password = PasswordField(
        lazy_gettext("Your password"), render_kw={"autocomplete": "current-password"}
    )
