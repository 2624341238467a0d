"""The crash guard: a kiosk that keeps crashing stays out of service. No Qt, no database.

It keeps the start times of runs that have not ended cleanly in a small JSON file in the
data folder: a start is written when the kiosk starts and the file is removed on a clean
exit, so what is left at the next start are crashes. Three of them within five minutes and
the kiosk stays on its out-of-service screen instead of restarting forever. Kept apart from
kiosk.services.installation so the kiosk checks it before the database library is loaded.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from kiosk.files import write_atomic

log = logging.getLogger(__name__)

CRASH_FILE = "crashes.json"
CRASH_LIMIT = 3
CRASH_WINDOW_S = 300.0


@dataclass
class CrashGuard:
    """`start()` says whether the kiosk crashed too often just now; `clean_exit()` clears."""

    path: Path
    limit: int = CRASH_LIMIT
    window_s: float = CRASH_WINDOW_S

    def recent_crashes(self, now: float | None = None) -> list[float]:
        now = time.time() if now is None else now
        return [t for t in self._load() if now - self.window_s <= t <= now + 1]

    def tripped(self, now: float | None = None) -> bool:
        return len(self.recent_crashes(now)) >= self.limit

    def start(self, now: float | None = None) -> bool:
        """Record this start; True when the earlier unclean runs trip the guard."""
        now = time.time() if now is None else now
        tripped = self.tripped(now)
        # Entries older than a day say nothing any more; keep the file small.
        kept = [t for t in self._load() if now - t < 86400]
        self._save([*kept, now])
        if tripped:
            log.error(
                "%d unclean exits within %.0f s: staying out of service", self.limit, self.window_s
            )
        return tripped

    def clean_exit(self) -> None:
        self.path.unlink(missing_ok=True)

    def _load(self) -> list[float]:
        try:
            data = json.loads(self.path.read_text(encoding="ascii"))
            return [float(t) for t in data.get("starts", [])]
        except FileNotFoundError:
            return []
        except (OSError, ValueError, TypeError, AttributeError):
            log.warning("crash record %s unreadable; starting a new one", self.path.name)
            return []

    def _save(self, starts: list[float]) -> None:
        write_atomic(self.path, json.dumps({"starts": starts}).encode("ascii"))
