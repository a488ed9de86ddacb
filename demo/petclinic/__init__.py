"""The Django project of the demo site."""
