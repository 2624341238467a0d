"""Amounts and dates as the kiosk writes them, on screens and on paper (no Qt here).

Kept apart from kiosk.services.receipts so that a screen showing a fee or a date does not
load reportlab and the QR code maker: those load when something is printed.
"""

from __future__ import annotations

from datetime import date, datetime


def format_vnd(amount: int) -> str:
    """50000 -> '50.000 ₫' (Vietnamese thousands separator)."""
    if amount < 0:
        raise ValueError("fee cannot be negative")
    return f"{amount:,}".replace(",", ".") + " ₫"


def format_datetime(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone()  # the local time of the commune, where the kiosk stands
    return value.strftime("%d/%m/%Y %H:%M")


def format_date(value: date) -> str:
    return value.strftime("%d/%m/%Y")
