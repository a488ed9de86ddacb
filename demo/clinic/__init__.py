"""The clinic app: pets, appointments, invoices."""
