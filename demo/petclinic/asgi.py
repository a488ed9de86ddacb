"""ASGI entry point of the demo site (uvicorn demo.petclinic.asgi:application from the repository root)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo.petclinic.settings")
application = get_asgi_application()
