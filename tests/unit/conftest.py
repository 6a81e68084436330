"""Unit tests build model instances without an app: every mapper must be known first."""

import app.models  # noqa: F401  (configures relationships named by string, e.g. 'Payment')
