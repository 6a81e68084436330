"""Forms of the dashboard's catalog pages (the rules live in app.catalog.editing)."""

from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    MultipleFileField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

STATUS_CHOICES = [
    SelectChoice("draft", lazy_gettext("Draft — hidden from shoppers")),
    SelectChoice("active", lazy_gettext("Active — on sale")),
    SelectChoice("archived", lazy_gettext("Archived — hidden, kept for records")),
]


class ProductForm(FlaskForm):
    title = StringField(
        lazy_gettext("Title"),
        validators=[DataRequired(lazy_gettext("Give the product a title.")), Length(max=200)],
    )
    slug = StringField(
        lazy_gettext("URL handle"),
        validators=[Optional(), Length(max=200)],
        description=lazy_gettext("Letters, digits and hyphens. Old handles keep redirecting."),
    )
    description_md = TextAreaField(
        lazy_gettext("Description"),
        validators=[Length(max=50_000)],
        description=lazy_gettext("Markdown: **bold**, *italic*, lists, links and tables."),
        render_kw={"rows": 8},
    )
    tags = StringField(
        lazy_gettext("Tags"),
        validators=[Length(max=2000)],
        description=lazy_gettext("Separated by commas, e.g. cotton, summer, gift."),
    )
    status = SelectField(lazy_gettext("Status"), choices=STATUS_CHOICES, default="draft")
    featured = BooleanField(lazy_gettext("Feature on the store's home page"))
    categories = SelectMultipleField(lazy_gettext("Categories"), validate_choice=False, coerce=str)
    seo_title = StringField(
        lazy_gettext("SEO title"),
        validators=[Length(max=70, message=lazy_gettext("Keep it to 70 characters."))],
        description=lazy_gettext(
            "Shown by search engines; the title when left empty. Up to 70 characters."
        ),
    )
    seo_description = TextAreaField(
        lazy_gettext("SEO description"),
        validators=[Length(max=170, message=lazy_gettext("Keep it to 170 characters."))],
        description=lazy_gettext("Up to 170 characters."),
        render_kw={"rows": 2},
    )


class NewProductForm(ProductForm):
    sku = StringField(
        lazy_gettext("SKU"),
        validators=[DataRequired(lazy_gettext("Give the product a SKU.")), Length(max=64)],
    )
    price = StringField(
        lazy_gettext("Price"), validators=[DataRequired(lazy_gettext("Enter a price."))]
    )
    stock = StringField(lazy_gettext("Stock"), default="0")


class OptionsForm(FlaskForm):
    option1_name = StringField(lazy_gettext("Option 1"), validators=[Length(max=40)])
    option1_values = StringField(lazy_gettext("Values"), validators=[Length(max=2000)])
    option2_name = StringField(lazy_gettext("Option 2"), validators=[Length(max=40)])
    option2_values = StringField(lazy_gettext("Values"), validators=[Length(max=2000)])
    option3_name = StringField(lazy_gettext("Option 3"), validators=[Length(max=40)])
    option3_values = StringField(lazy_gettext("Values"), validators=[Length(max=2000)])


class VariantForm(FlaskForm):
    sku = StringField(lazy_gettext("SKU"))
    price = StringField(lazy_gettext("Price"))
    compare_at_price = StringField(lazy_gettext("Compare-at price"))
    weight_grams = StringField(lazy_gettext("Weight (g)"))
    stock = StringField(lazy_gettext("Stock"))
    track_inventory = BooleanField(lazy_gettext("Track stock"))


class ImageUploadForm(FlaskForm):
    images = MultipleFileField(lazy_gettext("Add images"))


class ImageAltForm(FlaskForm):
    alt = StringField(lazy_gettext("Description (alt text)"), validators=[Length(max=200)])


class MoveForm(FlaskForm):
    direction = HiddenField()


class ConfirmForm(FlaskForm):
    """A POST-only action with nothing to fill in: the CSRF token is the whole form."""


class CategoryForm(FlaskForm):
    name = StringField(
        lazy_gettext("Name"),
        validators=[DataRequired(lazy_gettext("Give the category a name.")), Length(max=120)],
    )
    slug = StringField(
        lazy_gettext("URL handle"),
        validators=[Optional(), Length(max=140)],
        description=lazy_gettext("Made from the name when empty."),
    )
    parent_id = SelectField(lazy_gettext("Parent"), validate_choice=False, default="")
    description = TextAreaField(
        lazy_gettext("Description"), validators=[Length(max=5000)], render_kw={"rows": 3}
    )
