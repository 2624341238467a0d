"""The services one running kiosk needs, built once from its settings (no Qt here).

Passed explicitly to whatever needs it; there is no module-global app state.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.config import Settings
from kiosk.hardware.printers import Printer, make_printer
from kiosk.services.catalogue import Catalogue, load_default_catalogue
from kiosk.services.crypto import DataCipher
from kiosk.services.datakey import open_store
from kiosk.services.dossiers import DossierService
from kiosk.services.i18n import Translator
from kiosk.services.langpacks import Overlay, PackStore, apply_installed, apply_procedure_texts
from kiosk.services.payments import PaymentService, ground_keys_from
from kiosk.services.receipt_service import ReceiptService
from kiosk.services.session import CitizenSession
from kiosk.services.store import Store
from kiosk.services.studio import Studio

log = logging.getLogger(__name__)


@dataclass
class AppContext:
    settings: Settings
    translator: Translator
    store: Store
    cipher: DataCipher
    dossiers: DossierService
    session: CitizenSession
    catalogue: Catalogue
    printer: Printer
    receipts: ReceiptService
    packs: PackStore
    studio: Studio
    pack_overlay: Overlay = field(default_factory=Overlay)
    studio_overlay: Overlay = field(default_factory=Overlay)
    payments: PaymentService | None = None  # fees; built with the context
    extras: dict[str, Any] = field(default_factory=dict)  # devices and services added by parts

    def tr(self, key: str, **values: object) -> str:
        return self.translator.tr(key, self.session.lang, **values)

    def notify_outbox(self) -> None:
        """A dossier became due (confirmed, retried, corrected): wake the sync worker."""
        sync = self.extras.get("sync")
        if sync is not None:
            sync.wake()

    def apply_language_work(self) -> None:
        """Texts and recordings by precedence: this kiosk's approved studio work, then the
        installed language packs, then the shipped and portal texts. Called at start and
        when a reviewer approves, so approved work reaches citizens at once."""
        self.pack_overlay = apply_installed(self.packs, self.translator, self.catalogue)
        self.studio_overlay = self.studio.approved()
        self.translator.add_pack_strings(self.studio_overlay.strings)
        apply_procedure_texts(self.catalogue, self.studio_overlay)

    def audio_dirs(self) -> list[Path]:
        """Folders of recorded prompts, by the same precedence as the texts."""
        from kiosk.paths import resource

        studio = list(dict.fromkeys(self.studio_overlay.audio_dirs.values()))
        return [*studio, *self.pack_overlay.audio_dirs.values(), resource("audio")]

    def close(self) -> None:
        self.store.close()


def build_context(settings: Settings) -> AppContext:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    translator = Translator.from_resources(lang=settings.lang)
    store, cipher = open_store(settings, create_key=True)
    dossiers = DossierService(
        store, cipher, settings.kiosk_id, settings.receipt_prefix, settings.attachments_dir
    )
    catalogue = load_default_catalogue(overlay=settings.data_dir / "catalogue-overlay.json")
    packs = PackStore(settings.language_packs_dir)
    studio = Studio(store, translator.catalogues["vi"], catalogue, settings.data_dir)
    printer = make_printer(settings.printer, settings.printer_target, settings.receipts_dir)
    receipts = ReceiptService(
        dossiers,
        catalogue,
        translator,
        printer,
        settings.commune_name,
        settings.status_url,
        settings.paper,
        settings.demo,
    )
    ctx = AppContext(
        settings,
        translator,
        store,
        cipher,
        dossiers,
        CitizenSession(lang=settings.lang),
        catalogue,
        printer,
        receipts,
        packs,
        studio,
    )
    ctx.apply_language_work()
    # The catalogue may be replaced by a portal update: look the grounds up each time.
    ctx.payments = PaymentService(
        store, settings.kiosk_id, lambda code: ground_keys_from(ctx.catalogue)(code)
    )
    receipts.payments, receipts.fee_account = ctx.payments, settings.fee_account
    ctx.payments.on_recorded = ctx.notify_outbox  # a recorded payment is due for the portal
    return ctx
