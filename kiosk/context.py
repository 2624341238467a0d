"""The services one running kiosk needs, built once from its settings (no Qt here).

Passed explicitly to whatever needs it; there is no module-global app state.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from kiosk.config import Settings
from kiosk.services.crypto import DataCipher, load_or_create_keyring
from kiosk.services.dossiers import DossierService
from kiosk.services.i18n import Translator
from kiosk.services.session import CitizenSession
from kiosk.services.store import Store

log = logging.getLogger(__name__)


@dataclass
class AppContext:
    settings: Settings
    translator: Translator
    store: Store
    cipher: DataCipher
    dossiers: DossierService
    session: CitizenSession
    extras: dict[str, Any] = field(default_factory=dict)  # devices and services added by parts

    def tr(self, key: str, **values: object) -> str:
        return self.translator.tr(key, self.session.lang, **values)

    def close(self) -> None:
        self.store.close()


def build_context(settings: Settings) -> AppContext:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    translator = Translator.from_resources(lang=settings.lang)
    store = Store(settings.database_url)
    cipher = DataCipher(load_or_create_keyring(settings.data_key_path))
    dossiers = DossierService(store, cipher, settings.kiosk_id, settings.receipt_prefix,
                              settings.attachments_dir)
    return AppContext(settings, translator, store, cipher, dossiers, CitizenSession(lang=settings.lang))
