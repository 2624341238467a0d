"""The citizen's visit: the language, the sound and the helping clerk, until the next wipe.

What the citizen tells the kiosk for a dossier lives in the journey
(kiosk.services.journey); `wipe()` starts a new visit, with a new `visit` number, so a
result that a background task brings back for an ended visit can be recognised and dropped.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class CitizenSession:
    lang: str = "vi"
    assisted_by: str | None = None  # the clerk helping at the kiosk (stays across visits)
    volume: float = 1.0
    muted: bool = False
    listen_first: bool = False  # "listen first": a first tap speaks a button, a second acts
    visit: int = 0

    def wipe(self, default_lang: str) -> None:
        fresh = CitizenSession(
            lang=default_lang, assisted_by=self.assisted_by, visit=self.visit + 1
        )
        self.__dict__.update(fresh.__dict__)
