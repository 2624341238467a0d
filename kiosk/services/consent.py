"""The consent text the citizen agrees to, and its version.

The text is the catalogue string `consent.body.<version>`; a changed text gets a new
version and a new key, and old keys stay in the catalogues so the exact wording any
dossier was given under can still be shown.
"""

CONSENT_VERSION = "2026.1"
CONSENT_KEY = f"consent.body.{CONSENT_VERSION}"
