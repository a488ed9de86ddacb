"""Pages of the clinic: home, a pet, booking, an invoice (with a bug) and a small JSON API."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render

from demo.clinic import billing
from demo.clinic.forms import BookingForm
from demo.clinic.models import Appointment, Pet


def home(request: HttpRequest) -> HttpResponse:
    """Every pet, with links to its pages."""
    return render(request, "clinic/home.html", {"pets": Pet.objects.all()})


def pet_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One pet and its booked visits (404 when there is no such pet)."""
    pet = get_object_or_404(Pet, pk=pk)
    return render(request, "clinic/pet.html", {"pet": pet, "appointments": pet.appointments.all()})


def book(request: HttpRequest, pk: int) -> HttpResponse:
    """Book a visit for a pet (a CSRF-protected form)."""
    pet = get_object_or_404(Pet, pk=pk)
    form = BookingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        visit = Appointment.objects.create(pet=pet, **form.cleaned_data)
        messages.success(request, f"Booked: {visit.pet.name} on {visit.day:%A %d %B} at {visit.slot}.")
        return redirect("pet", pk=pet.pk)
    return render(request, "clinic/book.html", {"pet": pet, "form": form})


def invoice(request: HttpRequest, pk: int) -> HttpResponse:
    """A pet's invoice (raises KeyError for species without a fee: the demo's bug)."""
    pet = get_object_or_404(Pet, pk=pk)
    lines = billing.invoice_lines(pet, pet.appointments.count())
    return render(request, "clinic/invoice.html", {"pet": pet, "lines": lines, **billing.totals(lines)})


def _pet_json(pet: Pet) -> dict:
    return {
        "id": pet.pk,
        "name": pet.name,
        "species": pet.species,
        "breed": pet.breed,
        "born": pet.born.isoformat() if pet.born else None,
        "url": f"/pets/{pet.pk}/",
    }


def api_pets(request: HttpRequest) -> JsonResponse:
    """Every pet as JSON."""
    return JsonResponse({"pets": [_pet_json(pet) for pet in Pet.objects.all()]})


def api_pet(request: HttpRequest, pk: int) -> JsonResponse:
    """One pet as JSON (a missing pet gets errortrail's JSON error body)."""
    return JsonResponse(_pet_json(get_object_or_404(Pet, pk=pk)))
