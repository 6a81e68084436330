"""The one shape of a refused input: which field to blame and what to tell the person."""


class FieldError(ValueError):
    """Input refused: `field` names the form field to blame (None: the form as a whole) and
    `message` says why, for the person who typed it. `status` is the HTTP answer a view gives.

    Every domain's "that input is wrong" error derives from this, so a form shows any of them
    next to its field the same way, and every one is raised as `SomeError(field, message)`.
    """

    status = 422

    def __init__(self, field: str | None, message: str):
        # A lazy translation (`lazy_gettext`) becomes text here, in the language being spoken.
        message = str(message)
        super().__init__(message)
        self.field = field
        self.message = message
