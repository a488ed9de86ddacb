"""Invoices: a consultation fee by species plus the pet's booked visits."""

from decimal import Decimal

# The demo's deliberate bug: nobody added fees for rabbits and parrots, so their invoices raise KeyError.
CONSULTATION_FEES = {"dog": Decimal("45.00"), "cat": Decimal("40.00")}
VISIT_FEE = Decimal("25.00")
VAT_RATE = Decimal("0.20")


def invoice_lines(pet, visits: int) -> list[tuple[str, Decimal]]:
    """The invoice's lines for a pet with `visits` booked visits."""
    lines = [(f"Consultation ({pet.get_species_display().lower()})", CONSULTATION_FEES[pet.species])]
    if visits:
        lines.append((f"Booked visits × {visits}", VISIT_FEE * visits))
    return lines


def totals(lines: list[tuple[str, Decimal]]) -> dict[str, Decimal]:
    """Net, VAT and gross of an invoice."""
    net = sum((amount for _, amount in lines), Decimal("0"))
    vat = (net * VAT_RATE).quantize(Decimal("0.01"))
    return {"net": net, "vat": vat, "gross": net + vat}
