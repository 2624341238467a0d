"""One module per screen (or per group of screens); each registers itself."""
