"""The dashboard's pages, one module each (registered with Dash Pages by dashboard.app).

Importing a page module on its own (a test, a benchmark) first builds the app, because `register_page` needs
it; the app then imports every page once, under this package's name.
"""

import dashboard.app  # noqa: F401
