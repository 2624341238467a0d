"""The queue desk: the counter's number, the groups it serves, and call next / recall /
skip / complete. Every action is audited (ticket numbers are not personal data)."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QBoxLayout, QGridLayout, QHBoxLayout, QLineEdit, QVBoxLayout, QWidget

from kiosk.views.registry import register
from kiosk.views.screens.clerk_common import ClerkScreen, fmt_time
from kiosk.views.screens.clerk_samples import sample_login
from kiosk.views.widgets import BigButton, Text, clear_layout

REFRESH_MS = 4000


def _sample(vc) -> dict:
    sample_login(vc)
    return {}


@register("clerk_queue", audience="clerk", sample=_sample)
class ClerkQueueScreen(ClerkScreen):
    title_key = "clerk.queue.title"

    def __init__(self, vc) -> None:
        super().__init__(vc)
        columns = self.columns = QHBoxLayout()
        columns.setSpacing(24)
        # Left: the number at this counter and what to do with it, always in view.
        left = QVBoxLayout()
        self.current_label = Text("", "section")
        left.addWidget(self.current_label)
        self.number = Text("", "bigNumber")
        self.number.setObjectName("bigNumber")
        self.number.setAlignment(Qt.AlignmentFlag.AlignCenter)
        left.addWidget(self.number)
        self.current_info = Text("")
        self.current_info.setAlignment(Qt.AlignmentFlag.AlignCenter)
        left.addWidget(self.current_info)
        self.error = Text("", "error")
        left.addWidget(self.error)
        left.addStretch(1)
        self.call_button = BigButton("", "primary", pictogram="queue_ticket")
        self.call_button.setObjectName("primary")
        self.call_button.setMinimumHeight(88)
        self.recall_button = BigButton("", pictogram="repeat_audio")
        self.skip_button = BigButton("", "danger")
        self.complete_button = BigButton("", pictogram="done")
        self.call_button.clicked.connect(self.call_next)
        self.recall_button.clicked.connect(lambda: self._act("recall"))
        self.skip_button.clicked.connect(lambda: self._act("skip"))
        self.complete_button.clicked.connect(lambda: self._act("complete"))
        # The actions stay in view at the bottom, whatever scrolls above them.
        self.actions = QGridLayout()
        self._place_actions(wide=True)
        self.footer.addLayout(self.actions)
        columns.addLayout(left, 1)

        # Right: this counter's set-up and the queue, scrolled when it is long.
        inner = QWidget()
        col = QVBoxLayout(inner)
        col.setContentsMargins(0, 0, 0, 0)
        # Citizens who asked for a clerk at a kiosk, first: someone is waiting in person.
        self.help_title = Text("", "section")
        self.help_box = QVBoxLayout()
        col.addWidget(self.help_title)
        col.addLayout(self.help_box)
        self.help_title.hide()
        self.help_calls: list = []
        self.help_buttons: dict[int, BigButton] = {}
        counter_row = QHBoxLayout()
        self.counter_label = Text("")
        self.counter = QLineEdit()
        self.counter.setObjectName("counter")
        self.counter.setProperty("keyboard", "number")
        self.counter.setMaxLength(16)
        self.counter.setFixedWidth(140)
        self.counter.editingFinished.connect(self._counter_changed)
        counter_row.addWidget(self.counter_label, 1)
        counter_row.addWidget(self.counter)
        col.addLayout(counter_row)
        self.groups_label = Text("")
        col.addWidget(self.groups_label)
        groups = QGridLayout()
        self.group_buttons: dict[str, BigButton] = {}
        for i, key in enumerate(self.desk.queue.groups):
            button = BigButton("")
            button.setObjectName("toggle")
            button.setCheckable(True)
            button.toggled.connect(self._groups_changed)
            groups.addWidget(button, i, 0)
            self.group_buttons[key] = button
        col.addLayout(groups)
        self.calls_title = Text("", "section")
        self.calls_box = QVBoxLayout()
        col.addWidget(self.calls_title)
        col.addLayout(self.calls_box)
        col.addStretch(1)
        columns.addWidget(inner, 1)
        self.body.addLayout(columns, 1)

        self.ticket = None
        self.waiting: dict[str, int] = {}
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh)
        self._loading = False

    # Showing ---------------------------------------------------------------
    def _place_actions(self, wide: bool) -> None:
        """One row on a wide screen; on a narrow one, Call next above the other three."""
        others = (self.recall_button, self.skip_button, self.complete_button)
        if wide:
            self.actions.addWidget(self.call_button, 0, 0)
            for i, button in enumerate(others, start=1):
                self.actions.addWidget(button, 0, i)
        else:
            self.actions.addWidget(self.call_button, 0, 0, 1, 3)
            for i, button in enumerate(others):
                self.actions.addWidget(button, 1, i)

    def enter(self, state) -> None:
        # Side by side on a wide screen, one above the other on a portrait one.
        wide = self.window().width() >= 1200
        self.columns.setDirection(
            QBoxLayout.Direction.LeftToRight if wide else QBoxLayout.Direction.TopToBottom
        )
        self._place_actions(wide)
        super().enter(state)
        self.call_button.setEnabled(True)  # a call for an earlier entry is not awaited
        if self.desk.clerk is None:
            return
        self.counter.setText(self.desk.counter)
        served = set(self.desk.served_groups)
        for key, button in self.group_buttons.items():
            button.blockSignals(True)
            button.setChecked(key in served)
            button.blockSignals(False)
        self.error.clear()
        self.refresh()
        self.timer.start()

    def leave(self) -> None:
        self.timer.stop()

    def retranslate(self) -> None:
        super().retranslate()
        self.counter_label.setText(self.tr("clerk.queue.counter"))
        self.groups_label.setText(self.tr("clerk.queue.groups"))
        self._group_texts()
        self.current_label.setText(self.tr("clerk.queue.current"))
        self.call_button.setText(self.tr("clerk.queue.call_next"))
        self.recall_button.setText(self.tr("clerk.queue.recall"))
        self.skip_button.setText(self.tr("clerk.queue.skip"))
        self.complete_button.setText(self.tr("clerk.queue.complete"))
        self.calls_title.setText(self.tr("clerk.queue.recent"))
        self._show_ticket(self.ticket)

    def _group_texts(self) -> None:
        """Each group's toggle also says how many are waiting for it."""
        lang = self.vc.app.session.lang
        for key, button in self.group_buttons.items():
            button.setText(
                self.tr(
                    "clerk.queue.waiting_line",
                    group=self.desk.queue.groups[key].title(lang),
                    n=self.waiting.get(key, 0),
                )
            )

    def refresh(self) -> None:
        if self._loading or self.desk.clerk is None:
            return
        self._loading = True
        q, counter = self.desk.queue, self.desk.counter
        help_requests = self.vc.app.help_requests
        self.vc.tasks.run(
            lambda: (
                q.current(counter),
                q.waiting_counts(),
                q.recent_calls(6),
                help_requests.waiting(),
            ),
            self.safe(self._loaded),
            self._failed_load,
        )

    def _failed_load(self, error: Exception) -> None:
        self._loading = False
        self.error.setText(self.error_text(error))

    def _loaded(self, result) -> None:
        self._loading = False
        current, waiting, calls, help_calls = result
        self._show_help(help_calls)
        self._show_ticket(current)
        self.waiting = waiting
        self._group_texts()
        clear_layout(self.calls_box)
        for call in calls:
            self.calls_box.addWidget(
                Text(
                    self.tr(
                        "clerk.queue.call_line",
                        number=call.number,
                        counter=call.counter,
                        at=fmt_time(call.called_at, with_date=False),
                    )
                )
            )
        if not calls:
            self.calls_box.addWidget(Text(self.tr("clerk.queue.no_calls"), "hint"))

    def _show_help(self, calls) -> None:
        self.help_calls = list(calls)
        clear_layout(self.help_box)
        self.help_buttons = {}
        self.help_title.setText(self.tr("help.title"))
        self.help_title.setVisible(bool(calls))
        for call in calls:
            row = QHBoxLayout()
            line = Text(
                self.tr(
                    "help.line",
                    time=fmt_time(call.asked_at, with_date=False),
                    kiosk=call.kiosk_id,
                    visit=call.visit,
                    reason=self.tr(f"help.reason.{call.reason}"),
                )
            )
            line.setObjectName("help_line")
            line.setProperty("alert", True)
            button = BigButton(self.tr("help.handled"), pictogram="done")
            button.setObjectName("help_handled")
            button.clicked.connect(lambda _=False, c=call: self.handle_help(c))
            row.addWidget(line, 1)
            row.addWidget(button)
            self.help_box.addLayout(row)
            self.help_buttons[call.id] = button

    def handle_help(self, call) -> None:
        """The clerk went to the citizen: the request is closed, in the audit log too."""
        d, help_requests = self.desk, self.vc.app.help_requests
        clerk_id = d.clerk.id if d.clerk is not None else None

        def work():
            done = help_requests.handle(call.id, clerk_id)
            d.audit("help.handled", detail=f"{call.kiosk_id} visit {call.visit}")
            return done

        self.help_buttons[call.id].setEnabled(False)
        self.vc.tasks.run(work, lambda _done: self.refresh(), self._action_failed)

    def _show_ticket(self, ticket) -> None:
        self.ticket = ticket
        has = ticket is not None
        self.number.setText(ticket.number if has else "—")
        if has:
            wait = (ticket.called_at - ticket.issued_at).total_seconds() // 60
            info = self.tr(
                "clerk.queue.ticket_info", at=fmt_time(ticket.issued_at, False), minutes=int(wait)
            )
            if ticket.is_priority:
                info = self.tr(f"clerk.priority.{ticket.priority}") + " · " + info
            self.current_info.setText(info)
        else:
            self.current_info.setText(self.tr("clerk.queue.none_called"))
        for button in (self.recall_button, self.skip_button, self.complete_button):
            button.setEnabled(has)

    # Acting ----------------------------------------------------------------
    def _counter_changed(self) -> None:
        text = self.counter.text().strip()
        if text and text != self.desk.counter:
            self.desk.counter = text
            self.desk.audit("queue.counter", detail=text)
            self.retranslate()
            self.refresh()

    def _groups_changed(self) -> None:
        self.desk.served_groups = [k for k, b in self.group_buttons.items() if b.isChecked()]

    def call_next(self) -> None:
        self._counter_changed()
        d = self.desk
        groups, counter, clerk = list(d.served_groups), d.counter, d.clerk

        def work():
            ticket = d.queue.call_next(counter, clerk.id, groups or None)
            d.audit(
                "queue.call_next",
                detail=f"{ticket.number} -> {counter}" if ticket else f"none waiting -> {counter}",
            )
            return ticket

        self.call_button.setEnabled(False)
        self.vc.tasks.run(work, self._called, self._action_failed)

    def _called(self, ticket) -> None:
        self.call_button.setEnabled(True)
        self.error.setText("" if ticket else self.tr("clerk.queue.nobody"))
        self._show_ticket(ticket)
        self.refresh()

    def _act(self, action: str) -> None:
        if self.ticket is None:
            return
        d, ticket = self.desk, self.ticket
        method = getattr(d.queue, action)

        def work():
            changed = method(ticket.id)
            d.audit(f"queue.{action}", detail=f"{ticket.number} at {d.counter}")
            return changed

        self.vc.tasks.run(work, lambda t: self._acted(action, t), self._action_failed)

    def _acted(self, action: str, ticket) -> None:
        self.error.clear()
        self._show_ticket(ticket if action == "recall" else None)
        self.refresh()

    def _action_failed(self, error: Exception) -> None:
        self.call_button.setEnabled(True)
        self.error.setText(self.error_text(error))
        self.refresh()
