"""Qt widgets: they render state and forward the user's intent; no domain logic here."""
