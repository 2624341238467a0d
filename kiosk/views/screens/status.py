"""Status look-up from the receipt alone, and the satisfaction rating."""

from __future__ import annotations

from datetime import UTC, date, datetime

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLineEdit

from kiosk.services.formats import format_date
from kiosk.services.status import FACES, REASONS, StatusError, StatusView
from kiosk.views.base import Screen
from kiosk.views.registry import register
from kiosk.views.screens.identify import CameraView
from kiosk.views.widgets import BigButton, Pictogram, Text, Tile, clear_layout


def looks_like_feedback(text: str) -> bool:
    """A feedback slip code (GY-...) or the portal's feedback code (PA-...)."""
    return "".join(text.split()).upper().startswith(("GY-", "PA-"))


@register("status_lookup", sample=lambda vc: {})
class StatusLookupScreen(Screen):
    """Scan the receipt's QR code or type its code."""

    title_key = "status.lookup.title"
    prompt_key = "status.lookup.prompt"

    def __init__(self, vc) -> None:
        super().__init__(vc)
        row = QHBoxLayout()
        self.camera_view = CameraView()
        row.addWidget(self.camera_view, 1)
        side = QGridLayout()
        self.hint = Text("")
        self.code = QLineEdit()
        self.code.setObjectName("receipt_code")
        self.code.returnPressed.connect(self.submit)
        self.error = Text("", "error")
        self.look = BigButton("", "primary", pictogram="check_status")
        self.look.clicked.connect(self.submit)
        side.addWidget(self.hint, 0, 0)
        side.addWidget(self.code, 1, 0)
        side.addWidget(self.error, 2, 0)
        side.setRowStretch(3, 1)
        row.addLayout(side, 1)
        self.body.addLayout(row, 1)
        nav = self.nav_row(back=True, cancel=False)
        nav.insertWidget(2, self.look)  # in view above the keyboard, beside Back
        self.footer.addLayout(nav)
        self.bridge = None
        self.busy = False

    def enter(self, state) -> None:
        self.busy = False
        self.error.clear()
        super().enter(state)
        factory = self.vc.app.camera
        if factory is not None:
            try:
                self.bridge = factory(self)
                self.bridge.frame.connect(self.camera_view.show_frame)
                self.bridge.scanned.connect(self.on_scanned)
                self.bridge.failed.connect(lambda key, detail: self._stop())
                self.bridge.start()
            except Exception:
                self._stop()

    def _stop(self) -> None:
        if self.bridge is not None:
            self.bridge.stop()
            self.bridge.deleteLater()
            self.bridge = None
        self.camera_view.clear_frame()

    def leave(self) -> None:
        self._stop()

    def on_scanned(self, result) -> None:
        raw = getattr(result, "raw", "") or ""
        if getattr(result, "kind", None) == "receipt" or looks_like_feedback(raw):
            self._stop()
            self.lookup(result.raw)
        else:
            self.error.setText(self.tr("status.err.not_receipt"))

    def submit(self) -> None:
        self.lookup(self.code.text())

    def lookup(self, text: str) -> None:
        if self.busy:
            return
        self.busy = True
        two_way = getattr(self.vc.app, "two_way", None)
        if two_way is not None and looks_like_feedback(text):
            from kiosk.views.screens.feedback import lookup_feedback

            lookup_feedback(self, two_way, text)
            return
        service = self.vc.app.status
        self.vc.tasks.run(lambda: service.lookup(text), self._found, self._failed)

    def _found(self, view: StatusView) -> None:
        self.busy = False
        self.vc.nav.go("status_result", view=view)

    def _failed(self, error: Exception) -> None:
        self.busy = False
        key = error.key if isinstance(error, StatusError) else "status.err.failed"
        self.error.setText(self.tr(key))

    def retranslate(self) -> None:
        super().retranslate()
        self.retranslate_nav()
        self.hint.setText(self.tr("status.lookup.hint"))
        self.code.setPlaceholderText("QN01-000123-J")
        self.look.setText(self.tr("status.lookup.button"))

    def wipe(self) -> None:
        super().wipe()
        self._stop()
        self.code.clear()
        self.error.clear()


def _sample_result(vc) -> dict:
    return {
        "view": StatusView(
            receipt_code="QN01-000123-J",
            status="needs_info",
            procedure_code="1.001193",
            confirmed_at=datetime(2026, 11, 20, 2, 30),
            as_of=datetime(2026, 11, 22, 8, 0),
            fresh=False,
            dossier_code="QN-2026-000123",
            expected_result_date=date(2026, 11, 24),
            message={
                "vi": "Cần bổ sung bản sao giấy chứng sinh.",
                "en": "Please bring a copy of the birth certificate.",
            },
        )
    }


@register("status_result", sample=_sample_result)
class StatusResultScreen(Screen):
    """The latest known status in plain words and a pictogram."""

    prompt_key = "status.result.prompt"

    def __init__(self, vc) -> None:
        super().__init__(vc)
        row = QHBoxLayout()
        self.picture_box = QHBoxLayout()
        row.addLayout(self.picture_box)
        self.words = Text("")
        row.addWidget(self.words, 1)
        self.body.addLayout(row)
        self.details = Text("", "hint")
        self.body.addWidget(self.details)
        self.body.addStretch(1)
        nav = self.nav_row(back=True, cancel=False)
        self.home_button = BigButton("", "primary")
        self.home_button.clicked.connect(self.vc.nav.cancel)
        nav.insertWidget(2, self.home_button)
        self.body.addLayout(nav)

    def retranslate(self) -> None:
        super().retranslate()
        self.retranslate_nav()
        self.home_button.setText(self.tr("nav.home"))
        view: StatusView | None = self.state.get("view")
        clear_layout(self.picture_box)
        if view is None:
            self.words.clear()
            self.details.clear()
            return
        lang = self.vc.app.session.lang
        self.picture_box.addWidget(Pictogram(view.pictogram, 180))
        self.title.setText(self.tr(f"status.state.{view.status}"))
        self.title.setVisible(True)
        lines = [self.tr(f"status.explain.{view.status}")]
        if view.status == "needs_info" and view.message:
            lines.append(f"<b>{view.message.get(lang) or view.message.get('vi', '')}</b>")
        self.words.setText("<br>".join(lines))
        proc = self.vc.app.catalogue.get(view.procedure_code)
        facts = [f"{self.tr('status.receipt_code')}: {view.receipt_code}"]
        if proc:
            facts.append(f"{self.tr('journey.review.procedure')}: {proc.title(lang)}")
        confirmed = view.confirmed_at.replace(tzinfo=UTC).astimezone()
        facts.append(f"{self.tr('status.confirmed_at')}: {confirmed:%d/%m/%Y %H:%M}")
        if view.as_of is not None:
            as_of = view.as_of.replace(tzinfo=UTC).astimezone()
            key = "status.as_of_fresh" if view.fresh else "status.as_of"
            facts.append(self.tr(key, time=f"{as_of:%d/%m/%Y %H:%M}"))
        if view.expected_result_date and view.status in ("received", "processing"):
            facts.append(f"{self.tr('status.expected')}: {format_date(view.expected_result_date)}")
        self.details.setText("<br>".join(facts))

    def wipe(self) -> None:
        super().wipe()
        self.words.clear()
        self.details.clear()


THANKS_MS = 5000  # the thank-you stays this long, then the kiosk goes home
FACE_PICTOS = {4: "face_very_happy", 3: "face_happy", 2: "face_unhappy", 1: "face_very_unhappy"}


@register("rating", sample=lambda vc: {"procedure_code": "1.001193"})
class RatingScreen(Screen):
    """Four large faces, then one optional reason."""

    title_key = "rating.title"
    prompt_key = "rating.prompt"

    def __init__(self, vc) -> None:
        super().__init__(vc)
        faces = QHBoxLayout()
        self.face_tiles: dict[int, Tile] = {}
        for face in sorted(FACES, reverse=True):
            tile = Tile(FACE_PICTOS[face], icon_size=150)
            tile.setObjectName("tile")
            tile.setProperty("face", face)
            tile.clicked.connect(lambda _=False, f=face: self.choose_face(f))
            faces.addWidget(tile)
            self.face_tiles[face] = tile
        self.body.addLayout(faces, 2)
        self.reason_hint = Text("", "hint")
        self.body.addWidget(self.reason_hint)
        reasons = QHBoxLayout()
        self.reason_tiles: dict[str, Tile] = {}
        for reason in REASONS:
            tile = Tile(f"reason_{reason}", icon_size=90)
            tile.clicked.connect(lambda _=False, r=reason: self.send(r))
            reasons.addWidget(tile)
            self.reason_tiles[reason] = tile
        self.body.addLayout(reasons, 1)
        self.thanks = Text("", "screenTitle")
        self.thanks.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.body.addWidget(self.thanks)
        self.skip = BigButton("", "primary")
        self.skip.clicked.connect(lambda: self.send(None))
        nav = self.nav_row(back=True, cancel=False)
        nav.insertWidget(2, self.skip)
        self.footer.addLayout(nav)
        self.face: int | None = None
        # After the thank-you the kiosk goes home by itself: the citizen has finished.
        self.home_timer = QTimer(self)
        self.home_timer.setSingleShot(True)
        self.home_timer.setInterval(THANKS_MS)
        self.home_timer.timeout.connect(self._go_home)

    def enter(self, state) -> None:
        self.face = None
        self.home_timer.stop()
        super().enter(state)

    def leave(self) -> None:
        self.home_timer.stop()

    def _go_home(self) -> None:
        if self.vc.nav.current == self.name:
            self.vc.nav.cancel()  # the session ends: nothing of it stays on screen

    def choose_face(self, face: int) -> None:
        self.face = face
        self.retranslate()

    def send(self, reason: str | None) -> None:
        if self.face is None:
            return
        face, self.face = self.face, None
        service = self.vc.app.status
        session = self.vc.app.session
        code = self.state.get("procedure_code")
        self.vc.tasks.run(
            lambda: service.rate(face, reason, code, session.lang),
            lambda _: self._thanked(),
            lambda _e: self._thanked(),
        )

    def _thanked(self) -> None:
        self.home_timer.start()
        self.thanks.setText(self.tr("rating.thanks"))
        for tile in [*self.face_tiles.values(), *self.reason_tiles.values()]:
            tile.setVisible(False)
        self.reason_hint.setVisible(False)
        self.skip.setVisible(False)

    def retranslate(self) -> None:
        super().retranslate()
        self.retranslate_nav()
        chosen = self.face is not None
        for face, tile in self.face_tiles.items():
            tile.setText(self.tr(f"rating.face.{face}"))
            tile.setVisible(not chosen or face == self.face)
        for reason, tile in self.reason_tiles.items():
            tile.setText(self.tr(f"rating.reason.{reason}"))
            tile.setVisible(chosen)
        self.reason_hint.setText(self.tr("rating.reason_hint"))
        self.reason_hint.setVisible(chosen)
        self.skip.setText(self.tr("rating.send"))
        self.skip.setVisible(chosen)
        self.thanks.clear()
