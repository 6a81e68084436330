"""Account forms. Rules beyond "required" live in the service, which the views call."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp

EMAIL = {
    "validators": [DataRequired("Enter your email address.")],
    "render_kw": {"autocomplete": "email", "inputmode": "email", "maxlength": 320},
}


class RegisterForm(FlaskForm):
    name = StringField(
        "Your name", validators=[Length(max=120)], render_kw={"autocomplete": "name"}
    )
    email = EmailField("Email", **EMAIL)
    password = PasswordField(
        "Password",
        validators=[DataRequired("Choose a password.")],
        render_kw={"autocomplete": "new-password", "minlength": 10},
        description="At least 10 characters. Avoid common passwords.",
    )


class SignInForm(FlaskForm):
    email = EmailField("Email", **EMAIL)
    password = PasswordField(
        "Password",
        validators=[DataRequired("Enter your password.")],
        render_kw={"autocomplete": "current-password"},
    )
    remember = BooleanField("Keep me signed in")
    next = HiddenField()


class EmailForm(FlaskForm):
    email = EmailField("Email", **EMAIL)
    next = HiddenField()


class CodeForm(FlaskForm):
    code = StringField(
        "6-digit code",
        validators=[
            DataRequired("Enter the code from the email."),
            Regexp(r"^\s*\d{3}\s?\d{3}\s*$", message="The code is 6 digits."),
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
        "New password",
        validators=[DataRequired("Choose a password.")],
        render_kw={"autocomplete": "new-password", "minlength": 10},
    )
    confirm = PasswordField(
        "Repeat the new password",
        validators=[
            DataRequired("Repeat the password."),
            EqualTo("password", "The two passwords don't match."),
        ],
        render_kw={"autocomplete": "new-password"},
    )


class ChangePasswordForm(NewPasswordForm):
    current_password = PasswordField(
        "Current password", render_kw={"autocomplete": "current-password"}
    )


class ProfileForm(FlaskForm):
    name = StringField(
        "Your name",
        validators=[Length(max=120, message="Use at most 120 characters.")],
        render_kw={"autocomplete": "name"},
    )


class ChangeEmailForm(FlaskForm):
    email = EmailField("New email address", **EMAIL)
    password = PasswordField("Your password", render_kw={"autocomplete": "current-password"})
