"""Fault injection for the reference portal: what can go wrong between kiosk and portal.

A fault is chosen per request (only for the endpoints in `Faults.endpoints`): first from
`script` (one entry per request, "ok" for none), then at random with the given rates.

Kinds, and what the client sees:
- error500 / error502 / error503: that status, nothing stored (503 carries Retry-After).
- rate_limit: 429 with Retry-After, nothing stored.
- drop: the connection is closed without an answer, nothing stored.
- hang: no answer for `hang_seconds`, then the connection closes; nothing stored.
- drop_after_store: the request is fully handled (a dossier stored), then the connection
  closes without the answer: the ambiguous case.
- hang_after_store: fully handled, the answer is sent only after `hang_seconds`.
- cut_after_store: fully handled, then the answer breaks off: its headers (with the full
  Content-Length) and half its body are sent, and the connection closes (a network that
  drops in the middle of a download). Only by `script`.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

PRE_KINDS = ("error500", "error502", "error503", "rate_limit", "drop", "hang")
POST_KINDS = ("drop_after_store", "hang_after_store", "cut_after_store")
KINDS = PRE_KINDS + POST_KINDS
ENDPOINTS = (
    "health",
    "procedures",
    "attachments",
    "dossiers",
    "status",
    "notices",
    "feedback",
    "feedback_status",
    "media",
    "payments",
)


@dataclass
class Faults:
    error_rate: float = 0.0  # share answered 500, 502 or 503 (picked evenly)
    rate_limit_rate: float = 0.0  # share answered 429
    drop_rate: float = 0.0
    hang_rate: float = 0.0
    drop_after_store_rate: float = 0.0
    hang_after_store_rate: float = 0.0
    latency: float = 0.0  # seconds added before every request in scope is handled
    latency_jitter: float = 0.0  # plus a uniform 0..jitter seconds
    hang_seconds: float = 30.0  # choose more than the client's read timeout
    retry_after: int | None = 1  # seconds sent with 429 and 503; None sends no header
    retry_after_http_date: bool = False  # send Retry-After as an HTTP date instead
    endpoints: list[str] = field(default_factory=lambda: list(ENDPOINTS[1:]))
    script: list[str] = field(default_factory=list)
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in (
            "error_rate",
            "rate_limit_rate",
            "drop_rate",
            "hang_rate",
            "drop_after_store_rate",
            "hang_after_store_rate",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        for kind in self.script:
            if kind != "ok" and kind not in KINDS:
                raise ValueError(f"unknown fault {kind!r}; known: ok, {', '.join(KINDS)}")
        for name in self.endpoints:
            if name not in ENDPOINTS:
                raise ValueError(f"unknown endpoint {name!r}; known: {', '.join(ENDPOINTS)}")
        self.endpoints = list(self.endpoints)
        self.script = list(self.script)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any], base: Faults | None = None) -> Faults:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault options: {', '.join(sorted(unknown))}")
        return replace(base or cls(), **data)


class FaultPlan:
    """Thread-safe chooser; a fixed seed makes the sequence of choices reproducible."""

    def __init__(self, faults: Faults) -> None:
        self._lock = threading.Lock()
        self._faults = faults
        self._rng = random.Random(faults.seed)

    @property
    def faults(self) -> Faults:
        with self._lock:
            return replace(
                self._faults,
                endpoints=list(self._faults.endpoints),
                script=list(self._faults.script),
            )

    def set(self, faults: Faults) -> None:
        with self._lock:
            if faults.seed != self._faults.seed or faults.seed is not None:
                self._rng = random.Random(faults.seed)
            self._faults = faults

    def choose(self, endpoint: str) -> tuple[str | None, float]:
        """(fault kind or None, extra latency in seconds) for one request."""
        with self._lock:
            f = self._faults
            if endpoint not in f.endpoints:
                return None, 0.0
            delay = f.latency + (self._rng.uniform(0, f.latency_jitter) if f.latency_jitter else 0)
            if f.script:
                kind = f.script.pop(0)
                return (None if kind == "ok" else kind), delay
            draw = self._rng.random()
            for kind, rate in (
                ("error", f.error_rate),
                ("rate_limit", f.rate_limit_rate),
                ("drop", f.drop_rate),
                ("hang", f.hang_rate),
                ("drop_after_store", f.drop_after_store_rate),
                ("hang_after_store", f.hang_after_store_rate),
            ):
                if draw < rate:
                    if kind == "error":
                        kind = self._rng.choice(("error500", "error502", "error503"))
                    return kind, delay
                draw -= rate
            return None, delay
