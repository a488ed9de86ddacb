"""Paws & Claws clinic: the example site errortrail's `make demo` runs."""
