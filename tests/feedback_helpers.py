"""Voice takes, kiosks and portals for the notices and feedback tests."""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kiosk.services.crypto import DataCipher, load_or_create_keyring
from kiosk.services.feedback import FeedbackService
from kiosk.services.notices import NoticeService
from kiosk.services.store import Store
from tests.portal_helpers import KIOSK_ID


def voice(seconds: float, rate: int = 16000, amplitude: float = 0.2) -> bytes:
    """A speech-like take: a 180 Hz voice with harmonics, its loudness rising and falling
    at syllable rate, with a little silence at both ends."""
    t = np.arange(int(seconds * rate)) / rate
    x = sum(np.sin(2 * np.pi * 180 * k * t) / k for k in (1, 2, 3, 4))
    x = amplitude * x / 2 * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))
    pad = np.zeros(int(0.3 * rate))
    y = np.concatenate([pad, x, pad])
    pcm = np.clip(np.round(y * 32767), -32768, 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


@dataclass
class FeedbackKiosk:
    store: Store
    cipher: DataCipher
    feedback: FeedbackService
    notices: NoticeService
    data_dir: Path

    def close(self) -> None:
        self.store.close()


def open_feedback_kiosk(data_dir: Path, db_url: str | None = None) -> FeedbackKiosk:
    data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(db_url or f"sqlite:///{data_dir / 'kiosk.db'}")
    cipher = DataCipher(load_or_create_keyring(data_dir / "keys" / "data.key", create=True))
    return FeedbackKiosk(
        store,
        cipher,
        FeedbackService(store, cipher, KIOSK_ID, data_dir / "attachments"),
        NoticeService(store, data_dir / "notice-media"),
        data_dir,
    )
