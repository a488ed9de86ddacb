"""WSGI entry of the fault tests' site, run under gunicorn."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.e2e.procs.settings")
application = get_wsgi_application()
