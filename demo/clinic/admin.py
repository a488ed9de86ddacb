"""Admin for pets and appointments."""

from django.contrib import admin

from demo.clinic.models import Appointment, Pet


@admin.register(Pet)
class PetAdmin(admin.ModelAdmin):
    list_display = ("name", "species", "breed", "owner_name")
    list_filter = ("species",)
    search_fields = ("name", "owner_name")


@admin.register(Appointment)
class AppointmentAdmin(admin.ModelAdmin):
    list_display = ("pet", "day", "slot", "reason")
    list_filter = ("day",)
