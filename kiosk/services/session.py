"""The citizen's session: everything a citizen has told the kiosk since the last wipe.

It lives in memory only until a dossier is confirmed; `wipe()` (Cancel, idle timeout,
"done") drops all of it so nothing personal outlives the visit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class CitizenSession:
    lang: str = "vi"
    procedure_code: str | None = None
    procedure_version: int | None = None
    consent_version: str | None = None
    consent_given_at: datetime | None = None
    applicant: Any = None  # kiosk.services.dossiers.Applicant once identified
    scan_warnings: list[str] = field(default_factory=list)
    answers: dict[str, Any] = field(default_factory=dict)
    raw_answers: dict[str, str] = field(default_factory=dict)
    attachments: list[Any] = field(default_factory=list)
    assisted_by: str | None = None
    confirmed_receipt: str | None = None
    fee: Any = None  # kiosk.services.fee_step.FeeStep while the fee step is answered
    volume: float = 1.0
    muted: bool = False

    def wipe(self, default_lang: str) -> None:
        fresh = CitizenSession(lang=default_lang, assisted_by=self.assisted_by)
        self.__dict__.update(fresh.__dict__)
