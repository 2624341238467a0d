"""Camera, decoders, printers and speech. Nothing in this package imports PySide6."""
