"""ASGI entry point, e.g. ``uvicorn --app-dir example_project example_project.asgi:application``.

Two differences from the WSGI entry point, both for ASGI's sake:

- ``EXAMPLE_SERVER=asgi`` tells the settings to keep no persistent database
  connections (``CONN_MAX_AGE = 0``): under ASGI each request may run in a
  new thread, and Django's docs say persistent connections then leak (one
  uvicorn worker held 54 after 200 requests with 60 seconds);
- :class:`~django_tokenkit.asgi.BodyLimitMiddleware` refuses an oversized
  body to tokenkit's endpoints before Django's ASGI handler reads it whole.
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

from django_tokenkit.asgi import BodyLimitMiddleware

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")
os.environ["EXAMPLE_SERVER"] = "asgi"  # read by settings, which nothing above has loaded

application = BodyLimitMiddleware(get_asgi_application())
