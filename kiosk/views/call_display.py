"""The call display: a second top-level window for a TV above the counters.

It shows the number being called and its counter in very large type, with the previous
calls below, and polls the shared database (a QTimer, the query on the TaskRunner), so
every machine of a centre can drive one. Each new call (and each recall) is announced
once through `announce(text, lang)` — e.g. "Mời số A012 đến quầy 2" — which defaults to
doing nothing; the `call-display` command connects it to the kiosk's speech engine.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from kiosk.qt.tasks import TaskRunner
from kiosk.services.i18n import Translator
from kiosk.services.queue import Call, QueueService

log = logging.getLogger(__name__)

Announce = Callable[[str, str], None]

_STYLE = """
QWidget#callDisplay { background: #071f3d; }
QLabel { color: #ffffff; background: transparent; }
QLabel#cdHeader { font-size: {h}pt; font-weight: bold; color: #ffd84d; }
QLabel#cdCaption { font-size: {h}pt; color: #dbe6f5; }
QLabel#cdNumber { font-size: {big}pt; font-weight: bold; color: #ffd84d; }
QLabel#cdCounter { font-size: {big}pt; font-weight: bold; color: #ffffff; }
QLabel#cdArrow { font-size: {arrow}pt; color: #dbe6f5; }
QLabel#cdPrevNumber { font-size: {prev}pt; font-weight: bold; color: #ffffff; }
QLabel#cdPrevCounter { font-size: {prev}pt; color: #dbe6f5; }
QLabel#cdPrevHead, QLabel#cdClock { font-size: {small}pt; color: #dbe6f5; }
QWidget#cdLatest { background: #0a3d7a; border-radius: 32px; }
QWidget#cdLatest[flash="true"] { background: #7a3d00; }
"""


def style_sheet(scale: float = 1.0) -> str:
    """The display's style; `scale` shrinks it for a preview inside the kiosk window."""
    sizes = {"h": 30, "big": 170, "arrow": 90, "prev": 54, "small": 26}
    text = _STYLE
    for key, points in sizes.items():
        text = text.replace("{" + key + "}", str(max(20, round(points * scale))))
    return text


def _no_announce(_text: str, _lang: str) -> None:
    return None


class CallDisplay(QWidget):
    def __init__(
        self,
        queue: QueueService,
        translator: Translator,
        tasks: TaskRunner | None = None,
        announce: Announce = _no_announce,
        lang: str = "vi",
        announce_langs: Sequence[str] = ("vi",),
        rows: int = 6,
        poll_ms: int = 1500,
        title: str = "",
        scale: float = 1.0,
    ) -> None:
        super().__init__()
        self.queue, self.translator = queue, translator
        self.tasks = tasks or TaskRunner(self)
        self.announce = announce
        self.lang, self.announce_langs, self.rows = lang, tuple(announce_langs), rows
        self.setObjectName("callDisplay")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(style_sheet(scale))
        self.setWindowTitle(self.tr_("clerk.call.window"))

        outer = QVBoxLayout(self)
        outer.setContentsMargins(48, 24, 48, 24)
        outer.setSpacing(16)
        head = QHBoxLayout()
        self.custom_title = bool(title)
        self.header = QLabel(title or self.tr_("clerk.call.header"))
        self.header.setObjectName("cdHeader")
        self.clock = QLabel()
        self.clock.setObjectName("cdClock")
        head.addWidget(self.header, 1)
        head.addWidget(self.clock)
        outer.addLayout(head)

        self.latest = QWidget()
        self.latest.setObjectName("cdLatest")
        self.latest.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        grid = QGridLayout(self.latest)
        grid.setContentsMargins(32, 16, 32, 16)
        self.number_caption = QLabel(self.tr_("clerk.call.number"))
        self.counter_caption = QLabel(self.tr_("clerk.call.counter"))
        for caption in (self.number_caption, self.counter_caption):
            caption.setObjectName("cdCaption")
            caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.number = QLabel("—")
        self.number.setObjectName("cdNumber")
        self.arrow = QLabel("»")
        self.arrow.setObjectName("cdArrow")
        self.counter = QLabel("")
        self.counter.setObjectName("cdCounter")
        for label in (self.number, self.arrow, self.counter):
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        grid.addWidget(self.number_caption, 0, 0)
        grid.addWidget(self.counter_caption, 0, 2)
        grid.addWidget(self.number, 1, 0)
        grid.addWidget(self.arrow, 1, 1)
        grid.addWidget(self.counter, 1, 2)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(2, 2)
        grid.setRowStretch(1, 1)  # spare height goes to the numbers, not between the rows
        outer.addWidget(self.latest, 3)

        self.prev_head = QLabel(self.tr_("clerk.call.previous"))
        self.prev_head.setObjectName("cdPrevHead")
        outer.addWidget(self.prev_head)
        prev = QGridLayout()
        prev.setHorizontalSpacing(40)
        self.prev_labels: list[tuple[QLabel, QLabel]] = []
        per_col = max(1, (rows - 1 + 1) // 2)
        for i in range(max(0, rows - 1)):
            num, ctr = QLabel(""), QLabel("")
            num.setObjectName("cdPrevNumber")
            ctr.setObjectName("cdPrevCounter")
            prev.addWidget(num, i % per_col, (i // per_col) * 2)
            prev.addWidget(ctr, i % per_col, (i // per_col) * 2 + 1)
            self.prev_labels.append((num, ctr))
        outer.addLayout(prev, 2)

        self.calls: list[Call] = []
        self.seen: set[tuple[int, datetime]] | None = None  # None until the first poll
        self._busy = False
        self.timer = QTimer(self)
        self.timer.setInterval(poll_ms)
        self.timer.timeout.connect(self.poll)
        self.flash_timer = QTimer(self)
        self.flash_timer.setSingleShot(True)
        self.flash_timer.timeout.connect(lambda: self._flash(False))
        self._tick_clock()

    def fit(self, width: int, height: int) -> None:
        """Type sized for a width×height screen (the style is drawn for 1920×1080)."""
        self.setStyleSheet(style_sheet(min(width / 1920, height / 1080)))

    def retranslate(self, lang: str | None = None) -> None:
        self.lang = lang or self.lang
        self.setWindowTitle(self.tr_("clerk.call.window"))
        if not self.custom_title:
            self.header.setText(self.tr_("clerk.call.header"))
        self.number_caption.setText(self.tr_("clerk.call.number"))
        self.counter_caption.setText(self.tr_("clerk.call.counter"))
        self.prev_head.setText(self.tr_("clerk.call.previous"))
        self.show_calls(self.calls, announce=False)

    def tr_(self, key: str, **values: object) -> str:
        return self.translator.tr(key, self.lang, **values)

    def start(self) -> None:
        self.poll()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    # Polling ---------------------------------------------------------------------
    def poll(self) -> None:
        self._tick_clock()
        if self._busy:
            return  # the database is slow: do not pile up queries
        self._busy = True
        queue, rows = self.queue, self.rows
        self.tasks.run(lambda: queue.recent_calls(rows), self.show_calls, self._failed)

    def _failed(self, error: Exception) -> None:
        self._busy = False
        log.warning("call display: cannot read the queue (%s)", type(error).__name__)

    def show_calls(self, calls: list[Call], announce: bool = True) -> None:
        if announce:
            self._busy = False
        keys = [(c.ticket_id, c.called_at) for c in calls]
        fresh = (
            []
            if self.seen is None
            else [c for c, k in zip(calls, keys, strict=True) if k not in self.seen]
        )
        if announce:  # a redraw (language change) must not mark calls as seen
            self.seen = (self.seen or set()) | set(keys)
        self.calls = calls
        if calls:
            self.number.setText(calls[0].number)
            self.counter.setText(calls[0].counter)
        else:
            self.number.setText("—")
            self.counter.setText("")
        for i, (num, ctr) in enumerate(self.prev_labels):
            call = calls[i + 1] if i + 1 < len(calls) else None
            num.setText(call.number if call else "")
            ctr.setText(self.tr_("clerk.call.to_counter", counter=call.counter) if call else "")
        if not announce:
            return
        for call in sorted(fresh, key=lambda c: c.called_at):
            self._announce(call)
        if fresh:
            self._flash(True)
            self.flash_timer.start(3000)

    def _announce(self, call: Call) -> None:
        for lang in self.announce_langs:
            text = self.translator.tr(
                "clerk.call.announce", lang, number=call.number, counter=call.counter
            )
            try:
                self.announce(text, lang)
            except Exception:  # speech must never stop the display
                log.warning("call display: announcing failed", exc_info=True)

    def _flash(self, on: bool) -> None:
        self.latest.setProperty("flash", on)
        self.latest.style().polish(self.latest)

    def _tick_clock(self) -> None:
        self.clock.setText(datetime.now(UTC).astimezone().strftime("%H:%M"))
