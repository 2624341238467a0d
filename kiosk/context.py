"""The services one running kiosk needs, built once from its settings (no Qt here).

Passed explicitly to whatever needs it; there is no module-global app state. Every
service is a named, typed field. The parts that need Qt (the camera feeds, the sync worker)
are built by the Qt side (kiosk.qt.wiring, kiosk.qt.speech_bridge) and set here through
the small interfaces below, so this module and everything it imports stay Qt-free.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from kiosk.config import Settings
from kiosk.hardware.printers import Printer, SystemPrinterFactory, make_printer
from kiosk.services.catalogue import Catalogue, load_default_catalogue
from kiosk.services.crypto import DataCipher
from kiosk.services.datakey import open_store
from kiosk.services.dossiers import DossierService
from kiosk.services.i18n import Translator
from kiosk.services.journey import Journey
from kiosk.services.langpacks import Overlay, PackStore, apply_installed, apply_procedure_texts
from kiosk.services.language_data import LanguageData
from kiosk.services.payments import PaymentService, ground_keys_from
from kiosk.services.receipt_service import ReceiptService
from kiosk.services.session import CitizenSession
from kiosk.services.status import StatusService
from kiosk.services.store import Store
from kiosk.services.studio import Studio

if TYPE_CHECKING:  # for the types only: numpy and the clerk services load when used
    from kiosk.hardware.speech import PromptPlayer
    from kiosk.services.chip_identity import ChipService
    from kiosk.services.clerk_desk import ClerkDesk
    from kiosk.services.help_requests import HelpRequests
    from kiosk.services.twoway import TwoWay

log = logging.getLogger(__name__)


class CameraFeed(Protocol):
    """A camera feed as screens use it (kiosk.qt.camera_bridge, kiosk.qt.document_bridge):
    started and stopped by the screen, reporting through its signals."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


# parent widget -> a new feed owned by it
CameraFeedFactory = Callable[[Any], CameraFeed]


class SyncWorker(Protocol):
    """The background delivery of confirmed dossiers (kiosk.qt.sync_bridge.SyncBridge)."""

    def wake(self) -> None: ...

    def stop(self, timeout_s: float = ...) -> Any: ...


@dataclass(frozen=True)
class PrinterFactory:
    """Makes a printer of any kind from the settings' words (test print, doctor)."""

    receipts_dir: Path
    system: SystemPrinterFactory | None = None  # the OS print queue, given by the Qt side

    def __call__(self, kind: str, target: str = "") -> Printer:
        return make_printer(kind, target, self.receipts_dir, system=self.system)


@dataclass
class AppContext:
    settings: Settings
    translator: Translator
    store: Store
    cipher: DataCipher
    dossiers: DossierService
    session: CitizenSession
    catalogue: Catalogue
    printers: PrinterFactory
    printer: Printer
    receipts: ReceiptService
    journey: Journey
    status: StatusService
    packs: PackStore
    studio: Studio
    pack_overlay: Overlay = field(default_factory=Overlay)
    studio_overlay: Overlay = field(default_factory=Overlay)
    # Keyboard letters and number-kit order per language (shipped, packs, studio).
    language_data: LanguageData = field(default_factory=LanguageData.from_resources)
    _two_way: TwoWay | None = None  # notices and citizens' feedback, built on first use
    _help_requests: HelpRequests | None = None  # "ask a clerk", built on first use
    # Devices and workers the Qt side adds when it wires a window (None: not available).
    speech: PromptPlayer | None = None
    camera: CameraFeedFactory | None = None  # the ID-card and receipt scanner
    document_camera: CameraFeedFactory | None = None  # photos of documents
    sync: SyncWorker | None = None
    payments: PaymentService | None = None  # fees; built with the context
    chip: ChipService | None = None  # the ID card's chip reader (kiosk.services.chip_identity)

    @property
    def help_requests(self) -> HelpRequests:
        """A citizen's call for a clerk, and the clerks' list of them."""
        if self._help_requests is None:
            from kiosk.services.help_requests import HelpRequests

            self._help_requests = HelpRequests(self.store, self.settings.kiosk_id)
        return self._help_requests

    @property
    def two_way(self) -> TwoWay:
        """Notices and citizens' feedback, built on first use (its recording and network
        code is not needed before the home screen is painted)."""
        if self._two_way is None:
            from kiosk.services.twoway import build_two_way

            s = self.settings
            self._two_way = build_two_way(
                self.store, self.cipher, s.kiosk_id, s.data_dir, s.attachments_dir
            )
        return self._two_way

    def two_way_if_built(self) -> TwoWay | None:
        return self._two_way

    def tr(self, key: str, **values: object) -> str:
        return self.translator.tr(key, self.session.lang, **values)

    @cached_property
    def clerk_desk(self) -> ClerkDesk:
        """The clerk side (services and who is logged in), built on first use."""
        from kiosk.services.clerk_desk import ClerkDesk

        return ClerkDesk(self)

    def notify_outbox(self) -> None:
        """A dossier became due (confirmed, retried, corrected): wake the sync worker."""
        if self.sync is not None:
            self.sync.wake()

    def end_visit(self, lang: str | None = None) -> None:
        """The citizen is gone (Cancel, idle, Done): forget them, start a new visit."""
        self.session.wipe(lang or self.settings.lang)
        self.journey.wipe(self.session.visit)

    def apply_language_work(self) -> None:
        """Texts and recordings by precedence: this kiosk's approved studio work, then the
        installed language packs, then the shipped and portal texts. Called at start and
        when a reviewer approves, so approved work reaches citizens at once."""
        self.pack_overlay = apply_installed(self.packs, self.translator, self.catalogue)
        self.studio_overlay = self.studio.approved()
        self.translator.add_pack_strings(self.studio_overlay.strings)
        apply_procedure_texts(self.catalogue, self.studio_overlay)
        self.language_data.set_layer("packs", self.pack_overlay.profiles)
        self.language_data.set_layer("studio", self.studio.profiles())

    def audio_dirs(self) -> list[Path]:
        """Folders of recorded prompts, by the same precedence as the texts."""
        from kiosk.paths import resource

        studio = list(dict.fromkeys(self.studio_overlay.audio_dirs.values()))
        return [*studio, *self.pack_overlay.audio_dirs.values(), resource("audio")]

    def close(self) -> None:
        self.store.close()


def build_context(
    settings: Settings, system_printer: SystemPrinterFactory | None = None
) -> AppContext:
    """`system_printer` makes the OS print queue's printer (Qt: kiosk.qt.app.system_printer);
    without it the 'system' printer kind is refused with a clear message."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    translator = Translator.from_resources(lang=settings.lang)
    store, cipher = open_store(settings, create_key=True)
    dossiers = DossierService(
        store, cipher, settings.kiosk_id, settings.receipt_prefix, settings.attachments_dir
    )
    catalogue = load_default_catalogue(overlay=settings.data_dir / "catalogue-overlay.json")
    packs = PackStore(settings.language_packs_dir)
    studio = Studio(store, translator.catalogues["vi"], catalogue, settings.data_dir)
    printers = PrinterFactory(settings.receipts_dir, system_printer)
    printer = printers(settings.printer, settings.printer_target)
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
    session = CitizenSession(lang=settings.lang)
    journey = Journey(
        catalogue,
        dossiers,
        language=lambda: session.lang,
        assisted_by=lambda: session.assisted_by,
    )
    ctx = AppContext(
        settings=settings,
        translator=translator,
        store=store,
        cipher=cipher,
        dossiers=dossiers,
        session=session,
        catalogue=catalogue,
        printers=printers,
        printer=printer,
        receipts=receipts,
        journey=journey,
        status=StatusService(store),
        packs=packs,
        studio=studio,
    )
    ctx.apply_language_work()
    # The catalogue may be replaced by a portal update: look the grounds up each time.
    ctx.payments = PaymentService(
        store, settings.kiosk_id, lambda code: ground_keys_from(ctx.catalogue)(code)
    )
    receipts.payments, receipts.fee_account = ctx.payments, settings.fee_account
    ctx.payments.on_recorded = ctx.notify_outbox  # a recorded payment is due for the portal
    from kiosk.services.fee_step import FeeStage

    # The fee step, before the review, for procedures with a fee (the account as set now).
    journey.flow.insert(FeeStage(lambda: settings.fee_account), before="review")
    return ctx
