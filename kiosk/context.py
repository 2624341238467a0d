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
from kiosk.services.i18n import Translator
from kiosk.services.langpacks import Overlay, PackStore, apply_installed, apply_procedure_texts
from kiosk.services.language_data import LanguageData
from kiosk.services.session import CitizenSession

if TYPE_CHECKING:  # for the types only: numpy, the database and clerk code load when used
    from kiosk.hardware.speech import PromptPlayer
    from kiosk.services.chip_identity import ChipService
    from kiosk.services.clerk_desk import ClerkDesk
    from kiosk.services.crypto import DataCipher
    from kiosk.services.dossiers import DossierService
    from kiosk.services.help_requests import HelpRequests
    from kiosk.services.journey import Journey
    from kiosk.services.payments import PaymentService
    from kiosk.services.receipt_service import ReceiptService
    from kiosk.services.status import StatusService
    from kiosk.services.store import Store
    from kiosk.services.studio import Studio
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


# The services on the database (set by attach_store). A running kiosk opens its database
# right after the home screen is painted: until then these are not set, and the first use
# of one opens it there and then (AppContext.__getattr__, AppContext.store_opener).
ON_STORE = ("store", "cipher", "dossiers", "receipts", "journey", "status", "studio")


@dataclass
class AppContext:
    settings: Settings
    translator: Translator
    session: CitizenSession
    catalogue: Catalogue
    printers: PrinterFactory
    printer: Printer
    packs: PackStore
    store: Store = field(init=False)
    cipher: DataCipher = field(init=False)
    dossiers: DossierService = field(init=False)
    receipts: ReceiptService = field(init=False)
    journey: Journey = field(init=False)
    status: StatusService = field(init=False)
    studio: Studio = field(init=False)
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
    # Opens the database and attaches it (attach_store), for a context made without it.
    store_opener: Callable[[], None] | None = None

    def __getattr__(self, name: str) -> Any:
        # Called only for an attribute that is not set: a service on the database before
        # the database is open. Its first use opens it (on the caller's thread).
        opener = self.__dict__.get("store_opener")
        if name in ON_STORE and opener is not None:
            opener()  # attach_store sets the fields
            if name in self.__dict__:
                return self.__dict__[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def store_open(self) -> bool:
        return "store" in self.__dict__

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
        self.language_data.set_layer("packs", self.pack_overlay.profiles)
        self.apply_studio_work()

    def apply_studio_work(self) -> None:
        """This kiosk's approved studio work (texts, recordings, keyboard letters)."""
        self.studio_overlay = self.studio.approved()
        self.translator.add_pack_strings(self.studio_overlay.strings)
        apply_procedure_texts(self.catalogue, self.studio_overlay)
        self.language_data.set_layer("studio", self.studio.profiles())

    def audio_dirs(self) -> list[Path]:
        """Folders of recorded prompts, by the same precedence as the texts."""
        from kiosk.paths import resource

        studio = list(dict.fromkeys(self.studio_overlay.audio_dirs.values()))
        return [*studio, *self.pack_overlay.audio_dirs.values(), resource("audio")]

    def close(self) -> None:
        if self.store_open:
            self.store.close()


def build_context(
    settings: Settings, system_printer: SystemPrinterFactory | None = None
) -> AppContext:
    """`system_printer` makes the OS print queue's printer (Qt: kiosk.qt.app.system_printer);
    without it the 'system' printer kind is refused with a clear message."""
    from kiosk.services.datakey import open_store

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    translator = Translator.from_resources(lang=settings.lang)
    store, cipher = open_store(settings, create_key=True)
    ctx = start_context(settings, system_printer, translator)
    attach_store(ctx, store, cipher)
    return ctx


def start_context(
    settings: Settings,
    system_printer: SystemPrinterFactory | None = None,
    translator: Translator | None = None,
) -> AppContext:
    """A context without its database (no database library loaded): what the home screen
    needs. attach_store adds the rest; until then its first use calls `store_opener`."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    translator = translator or Translator.from_resources(lang=settings.lang)
    catalogue = load_default_catalogue(overlay=settings.data_dir / "catalogue-overlay.json")
    printers = PrinterFactory(settings.receipts_dir, system_printer)
    ctx = AppContext(
        settings=settings,
        translator=translator,
        session=CitizenSession(lang=settings.lang),
        catalogue=catalogue,
        printers=printers,
        printer=printers(settings.printer, settings.printer_target),
        packs=PackStore(settings.language_packs_dir),
    )
    # The installed language packs now; the language studio's work with the database.
    ctx.pack_overlay = apply_installed(ctx.packs, translator, catalogue)
    ctx.language_data.set_layer("packs", ctx.pack_overlay.profiles)
    return ctx


def attach_store(ctx: AppContext, store: Store, cipher: DataCipher) -> None:
    """The services on the opened database, the language studio's approved work applied."""
    from kiosk.services.dossiers import DossierService
    from kiosk.services.fee_step import FeeStage
    from kiosk.services.journey import Journey
    from kiosk.services.payments import PaymentService, ground_keys_from
    from kiosk.services.receipt_service import ReceiptService
    from kiosk.services.status import StatusService
    from kiosk.services.studio import Studio

    settings, translator, catalogue, session = (
        ctx.settings,
        ctx.translator,
        ctx.catalogue,
        ctx.session,
    )
    dossiers = DossierService(
        store, cipher, settings.kiosk_id, settings.receipt_prefix, settings.attachments_dir
    )
    receipts = ReceiptService(
        dossiers,
        catalogue,
        translator,
        ctx.printer,
        settings.commune_name,
        settings.status_url,
        settings.paper,
        settings.demo,
    )
    journey = Journey(
        catalogue,
        dossiers,
        language=lambda: session.lang,
        assisted_by=lambda: session.assisted_by,
    )
    # The catalogue may be replaced by a portal update: look the grounds up each time.
    payments = PaymentService(
        store, settings.kiosk_id, lambda code: ground_keys_from(ctx.catalogue)(code)
    )
    receipts.payments, receipts.fee_account = payments, settings.fee_account
    payments.on_recorded = ctx.notify_outbox  # a recorded payment is due for the portal
    # The fee step, before the review, for procedures with a fee (the account as set now).
    journey.flow.insert(FeeStage(lambda: settings.fee_account), before="review")
    ctx.store_opener = None
    ctx.__dict__.update(
        store=store,
        cipher=cipher,
        dossiers=dossiers,
        receipts=receipts,
        journey=journey,
        status=StatusService(store),
        studio=Studio(store, translator.catalogues["vi"], catalogue, settings.data_dir),
    )
    ctx.payments = payments
    ctx.apply_studio_work()
