"""Pets and their appointments."""

from django.db import models


class Pet(models.Model):
    """A patient of the clinic."""

    SPECIES = [("dog", "Dog"), ("cat", "Cat"), ("rabbit", "Rabbit"), ("parrot", "Parrot")]

    name = models.CharField(max_length=60)
    species = models.CharField(max_length=20, choices=SPECIES)
    breed = models.CharField(max_length=80, blank=True)
    born = models.DateField(null=True, blank=True)
    owner_name = models.CharField(max_length=120)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_species_display()})"


class Appointment(models.Model):
    """A booked visit."""

    pet = models.ForeignKey(Pet, on_delete=models.CASCADE, related_name="appointments")
    day = models.DateField()
    slot = models.CharField(max_length=5)
    reason = models.CharField(max_length=200)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["day", "slot"]

    def __str__(self) -> str:
        return f"{self.pet.name} on {self.day} at {self.slot}"
