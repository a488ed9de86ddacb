"""The appointment booking form."""

import datetime

from django import forms

SLOTS = [(f"{h:02d}:{m:02d}", f"{h:02d}:{m:02d}") for h in range(9, 17) for m in (0, 30)]


class BookingForm(forms.Form):
    """Day, time slot and reason of a visit."""

    day = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    slot = forms.ChoiceField(choices=SLOTS, label="Time")
    reason = forms.CharField(max_length=200, widget=forms.TextInput(attrs={"placeholder": "Check-up, vaccination…"}))

    def clean_day(self) -> datetime.date:
        day = self.cleaned_data["day"]
        if day < datetime.date.today():
            raise forms.ValidationError("Please pick a day from today on.")
        return day
