"""Forms of the dashboard's catalog pages (the rules live in app.catalog.editing)."""

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
    SelectChoice("draft", "Draft — hidden from shoppers"),
    SelectChoice("active", "Active — on sale"),
    SelectChoice("archived", "Archived — hidden, kept for records"),
]


class ProductForm(FlaskForm):
    title = StringField(
        "Title", validators=[DataRequired("Give the product a title."), Length(max=200)]
    )
    slug = StringField(
        "URL handle",
        validators=[Optional(), Length(max=200)],
        description="Letters, digits and hyphens. Old handles keep redirecting.",
    )
    description_md = TextAreaField(
        "Description",
        validators=[Length(max=50_000)],
        description="Markdown: **bold**, *italic*, lists, links and tables.",
        render_kw={"rows": 8},
    )
    tags = StringField(
        "Tags",
        validators=[Length(max=2000)],
        description="Separated by commas, e.g. cotton, summer, gift.",
    )
    status = SelectField("Status", choices=STATUS_CHOICES, default="draft")
    featured = BooleanField("Feature on the store's home page")
    categories = SelectMultipleField("Categories", validate_choice=False, coerce=str)
    seo_title = StringField(
        "SEO title",
        validators=[Length(max=70, message="Keep it to 70 characters.")],
        description="Shown by search engines; the title when left empty. Up to 70 characters.",
    )
    seo_description = TextAreaField(
        "SEO description",
        validators=[Length(max=170, message="Keep it to 170 characters.")],
        description="Up to 170 characters.",
        render_kw={"rows": 2},
    )


class NewProductForm(ProductForm):
    sku = StringField("SKU", validators=[DataRequired("Give the product a SKU."), Length(max=64)])
    price = StringField("Price", validators=[DataRequired("Enter a price.")])
    stock = StringField("Stock", default="0")


class OptionsForm(FlaskForm):
    option1_name = StringField("Option 1", validators=[Length(max=40)])
    option1_values = StringField("Values", validators=[Length(max=2000)])
    option2_name = StringField("Option 2", validators=[Length(max=40)])
    option2_values = StringField("Values", validators=[Length(max=2000)])
    option3_name = StringField("Option 3", validators=[Length(max=40)])
    option3_values = StringField("Values", validators=[Length(max=2000)])


class VariantForm(FlaskForm):
    sku = StringField("SKU")
    price = StringField("Price")
    compare_at_price = StringField("Compare-at price")
    weight_grams = StringField("Weight (g)")
    stock = StringField("Stock")
    track_inventory = BooleanField("Track stock")


class ImageUploadForm(FlaskForm):
    images = MultipleFileField("Add images")


class ImageAltForm(FlaskForm):
    alt = StringField("Description (alt text)", validators=[Length(max=200)])


class MoveForm(FlaskForm):
    direction = HiddenField()


class ConfirmForm(FlaskForm):
    """A POST-only action with nothing to fill in: the CSRF token is the whole form."""


class CategoryForm(FlaskForm):
    name = StringField(
        "Name", validators=[DataRequired("Give the category a name."), Length(max=120)]
    )
    slug = StringField(
        "URL handle",
        validators=[Optional(), Length(max=140)],
        description="Made from the name when empty.",
    )
    parent_id = SelectField("Parent", validate_choice=False, default="")
    description = TextAreaField("Description", validators=[Length(max=5000)], render_kw={"rows": 3})
