"""The dashboard's stock forms; what they accept is decided by app.inventory.adjust."""

from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField


class AdjustStockForm(FlaskForm):
    mode = StringField("Change", default="change")
    quantity = StringField("Quantity")
    kind = StringField("Kind", default="receive")
    reason = StringField("Reason")
    # The stock the form showed: a count ("set to") is refused if it has changed since.
    based_on = HiddenField()


class ThresholdForm(FlaskForm):
    threshold = StringField("Low-stock alert at")
