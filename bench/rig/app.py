"""The measured app: one view per request kind, no database, the same in every configuration."""

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path

PETS = {7: {"name": "Clover", "species": "rabbit"}, 8: {"name": "Rex", "species": "dog"}}
FEES = {"dog": 45, "cat": 40}


def pet(request: HttpRequest, pk: int) -> HttpResponse:
    """Healthy for a known pet, Http404 otherwise."""
    found = PETS.get(pk)
    if found is None:
        raise Http404("no such pet")
    return HttpResponse(f"<!doctype html><title>{found['name']}</title><h1>{found['name']}</h1><p>{found['species']}</p>")


def _fee(species: str) -> int:
    return FEES[species]


def invoice(request: HttpRequest, pk: int) -> HttpResponse:
    """Raises KeyError for a rabbit (two in-app frames, like a real bug)."""
    found = PETS.get(pk) or PETS[8]
    total = _fee(found["species"]) * 1.2
    return HttpResponse(f"total {total}")


def book(request: HttpRequest, pk: int) -> HttpResponse:
    """A CSRF-protected form target (the bench posts without a token)."""
    return HttpResponse("booked")


urlpatterns = [
    path("pets/<int:pk>/", pet),
    path("pets/<int:pk>/invoice/", invoice),
    path("appointments/<int:pk>/book/", book),
]
