"""Citizen screens of the queue: pick a service group (and a priority), get a numbered
ticket; the number is shown in large type whether or not the ticket printed."""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QBoxLayout, QGridLayout, QHBoxLayout

from kiosk.services.queue import PRIORITIES
from kiosk.views.base import Screen
from kiosk.views.registry import register
from kiosk.views.screens.clerk_common import desk
from kiosk.views.widgets import BigButton, Pictogram, Text, Tile, choice_pictogram

log = logging.getLogger(__name__)


@register("queue_take", sample=lambda vc: {})
class QueueTakeScreen(Screen):
    title_key = "clerk.take.title"
    prompt_key = "clerk.take.prompt"

    def __init__(self, vc) -> None:
        super().__init__(vc)
        self.queue = desk(vc.app).queue
        self.hint = Text("", "hint")
        self.body.addWidget(self.hint)
        grid = QGridLayout()
        grid.setSpacing(20)
        self.tiles: dict[str, Tile] = {}
        for i, group in enumerate(self.queue.groups.values()):
            tile = Tile(group.pictogram, icon_size=88)
            tile.setObjectName("tile")
            tile.clicked.connect(lambda _=False, k=group.key: self.take(k))
            grid.addWidget(tile, i // 3, i % 3)
            grid.setColumnStretch(i % 3, 1)
            self.tiles[group.key] = tile
        self.body.addLayout(grid, 1)
        self.error = Text("", "error")
        self.error.hide()
        self.body.addWidget(self.error)
        # The priority choice: its question, then one button each, with a pictogram.
        self.priority_label = Text("")
        self.body.insertWidget(1, self.priority_label)  # first, as the hint says
        self.priority_row = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        self.priority_buttons: dict[str, BigButton] = {}
        for key in PRIORITIES:
            button = BigButton("", pictogram=choice_pictogram(key))
            button.setObjectName(f"priority_{key}")
            button.setCheckable(True)
            button.setStyleSheet("QPushButton:checked { background: #0a3d7a; color: #ffffff; }")
            button.clicked.connect(lambda _=False, k=key: self._priority(k))
            self.priority_row.addWidget(button)
            self.priority_buttons[key] = button
        self.priority_row.addStretch(1)
        self.body.insertLayout(2, self.priority_row)
        self.footer.addLayout(self.nav_row(back=True, cancel=False))
        self.priority: str | None = None
        self.busy = False

    def enter(self, state) -> None:
        # In a row on a wide screen, one under the other on a portrait one.
        wide = self.window().width() >= 1200
        self.priority_row.setDirection(
            QBoxLayout.Direction.LeftToRight if wide else QBoxLayout.Direction.TopToBottom
        )
        self.busy = False
        self.error.clear()
        self.error.hide()
        self._priority(None)
        super().enter(state)

    def retranslate(self) -> None:
        super().retranslate()
        self.retranslate_nav()
        lang = self.vc.app.session.lang
        self.hint.setText(self.tr("clerk.take.hint"))
        for key, tile in self.tiles.items():
            tile.setText(self.queue.groups[key].title(lang))
        self.priority_label.setText(self.tr("clerk.take.priority"))
        for key, button in self.priority_buttons.items():
            button.setText(self.tr(f"clerk.priority.{key}"))

    def _priority(self, key: str | None) -> None:
        self.priority = None if key == self.priority else key
        for k, button in self.priority_buttons.items():
            button.setChecked(k == self.priority)

    def take(self, group_key: str) -> None:
        if self.busy:
            return
        self.busy = True
        app, queue, priority = self.vc.app, self.queue, self.priority
        lang = app.session.lang

        def work():
            ticket = queue.take(group_key, priority, lang)
            error = None
            try:
                queue.print_ticket(ticket, app.receipts, lang)
            except Exception as exc:  # the number is valid even when the ticket did not print
                log.warning(
                    "ticket %s not printed: %s",
                    ticket.number,
                    getattr(exc, "detail", type(exc).__name__),
                )
                error = getattr(exc, "key", "receipt.printer.failed")
            return ticket, error

        self.vc.tasks.run(work, self._taken, self._failed)

    def _taken(self, result) -> None:
        self.busy = False
        ticket, error = result
        self.vc.nav.replace(
            "queue_ticket",
            number=ticket.number,
            group=ticket.group,
            ahead=ticket.waiting_ahead,
            priority=ticket.priority,
            printed=error is None,
            print_error=error,
        )

    def _failed(self, error: Exception) -> None:
        log.error("ticket not taken: %s", getattr(error, "detail", type(error).__name__))
        self.busy = False
        self.error.setText(self.tr("clerk.take.failed"))
        self.error.show()

    def wipe(self) -> None:
        super().wipe()
        self._priority(None)


@register(
    "queue_ticket",
    sample=lambda vc: {"number": "A012", "group": "civil_status", "ahead": 4, "printed": True},
)
class QueueTicketScreen(Screen):
    title_key = "clerk.ticket.title"
    prompt_key = "clerk.ticket.prompt"

    def __init__(self, vc) -> None:
        super().__init__(vc)
        self.queue = desk(vc.app).queue
        self.body.setSpacing(8)
        self.body.addWidget(Pictogram("queue_ticket", 96), 0, Qt.AlignmentFlag.AlignHCenter)
        self.label = Text("", "hint")
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.number = Text("", "bigCode")
        self.number.setObjectName("bigCode")
        self.number.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.number.setStyleSheet("font-size: 88pt;")
        self.group = Text("")
        self.group.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.ahead = Text("")
        self.ahead.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message = Text("")
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        for widget in (self.label, self.number, self.group, self.ahead, self.message):
            self.body.addWidget(widget)
        self.body.addStretch(1)
        row = QHBoxLayout()
        self.finish = BigButton("", "primary", pictogram="done")
        self.finish.setObjectName("primary")
        self.finish.clicked.connect(self.vc.nav.cancel)
        row.addStretch(1)
        row.addWidget(self.finish)
        row.addStretch(1)
        self.footer.addLayout(row)  # Done always in view

    def retranslate(self) -> None:
        super().retranslate()
        lang = self.vc.app.session.lang
        st = self.state
        self.label.setText(self.tr("clerk.ticket.your_number"))
        self.number.setText(st.get("number", ""))
        group = self.queue.groups.get(st.get("group", ""))
        title = group.title(lang) if group else ""
        if st.get("priority"):
            title += " · " + self.tr(f"clerk.priority.{st['priority']}")
        self.group.setText(title)
        self.ahead.setText(self.tr("clerk.ticket.ahead", n=st.get("ahead", 0)))
        if st.get("printed", True):
            self.message.setText(self.tr("clerk.ticket.printed"))
            self.message.setObjectName("")
        else:
            self.message.setText(self.tr("clerk.ticket.not_printed"))
            self.message.setObjectName("error")
        self.message.style().polish(self.message)
        self.finish.setText(self.tr("clerk.ticket.finish"))

    def wipe(self) -> None:
        super().wipe()
        self.number.clear()
