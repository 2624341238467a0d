"""Domain logic. Nothing in this package imports PySide6."""
