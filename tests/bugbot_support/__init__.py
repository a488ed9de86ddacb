"""Shared bugbot test support: signal factories and fixtures (imported by the test_bugbot_* modules)."""
