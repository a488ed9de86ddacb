"""WSGI entry point of the demo site (gunicorn demo.petclinic.wsgi from the repository root)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo.petclinic.settings")
application = get_wsgi_application()
