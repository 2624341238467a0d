"""Commune public-service kiosk."""

__version__ = "0.1.0"
