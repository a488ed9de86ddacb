"""Seed the clinic with a few pets (Clover the rabbit is the one whose invoice hits the demo's bug)."""

import datetime

from django.db import migrations

PETS = [
    ("Rex", "dog", "German Shepherd", datetime.date(2019, 3, 14), "Amira Haddad", "Loves the treat jar."),
    ("Misty", "cat", "Russian Blue", datetime.date(2020, 7, 2), "Tom Becker", "Shy; prefers the quiet room."),
    ("Biscuit", "dog", "Beagle", datetime.date(2021, 11, 23), "Lena Fischer", "Allergic to chicken."),
    ("Clover", "rabbit", "Holland Lop", datetime.date(2022, 4, 9), "Sam O'Neill", "Nail trims every 6 weeks."),
    ("Pepper", "cat", "Domestic Shorthair", datetime.date(2018, 1, 30), "Priya Nair", "Senior check-ups twice a year."),
]


def seed(apps, schema_editor):
    Pet = apps.get_model("clinic", "Pet")
    for name, species, breed, born, owner, notes in PETS:
        Pet.objects.get_or_create(name=name, owner_name=owner, defaults={
            "species": species, "breed": breed, "born": born, "notes": notes})


def unseed(apps, schema_editor):
    Pet = apps.get_model("clinic", "Pet")
    Pet.objects.filter(name__in=[p[0] for p in PETS], owner_name__in=[p[4] for p in PETS]).delete()


class Migration(migrations.Migration):
    dependencies = [("clinic", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
