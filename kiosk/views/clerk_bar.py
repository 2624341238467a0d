"""The clerk bar: one line on the clerk's screens with the sync worker's state (online,
dossiers waiting and since when, the last delivery, what to do about a refusal or a wrong
clock). It listens to kiosk.qt.sync_bridge.SyncBridge."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QWidget

from kiosk.services.sync import SyncState

if TYPE_CHECKING:
    from kiosk.qt.sync_bridge import SyncBridge

log = logging.getLogger(__name__)
HELP_POLL_MS = 5000  # how often the bar looks for citizens asking for a clerk


def _local(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC).astimezone()


def format_age(seconds: float, tr: Callable[..., str]) -> str:
    """'just now', '12 min', '3 h', '2 days' (translated)."""
    minutes = int(max(0.0, seconds) // 60)
    if minutes < 1:
        return tr("outbox.age.now")
    if minutes < 60:
        return tr("outbox.age.minutes", n=minutes)
    if minutes < 48 * 60:
        return tr("outbox.age.hours", n=minutes // 60)
    return tr("outbox.age.days", n=minutes // (24 * 60))


def format_time(moment: datetime, now: datetime | None = None) -> str:
    """Local HH:MM today, else dd/mm HH:MM (moment is naive UTC)."""
    local = _local(moment)
    today = _local(now).date() if now else datetime.now().astimezone().date()
    return local.strftime("%H:%M") if local.date() == today else local.strftime("%d/%m %H:%M")


class ClerkBar(QWidget):
    """One line for the clerk: online or not, how many dossiers wait and since when, the last
    delivery, and in plain words what to do when the portal refuses the kiosk or the clock
    is wrong. `tr(key, **values)` translates (e.g. ViewContext.tr)."""

    def __init__(
        self,
        bridge: SyncBridge | None,
        tr: Callable[..., str],
        parent: QWidget | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(parent)
        self.tr_ = tr
        self._now = now or (lambda: datetime.now(UTC).replace(tzinfo=None))
        self.setObjectName("clerkBar")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(
            "#clerkBar { background: #eef2f5; border-top: 1px solid #c8d0d8; }"
            "#clerkBar QLabel { font-size: 20pt; color: #1d2a36; background: transparent; }"
            '#clerkBar QLabel[level="alert"] { color: #a4161a; font-weight: bold; }'
            '#clerkBar QLabel[level="warn"] { color: #8a5a00; font-weight: bold; }'
            '#clerkBar QLabel[level="ok"] { color: #1b6e3a; font-weight: bold; }'
            "#clerkBar QLabel#clerkBarHelp { color: #7a0d10; font-weight: bold; }"
        )
        row = QHBoxLayout(self)
        row.setContentsMargins(16, 4, 16, 4)
        row.setSpacing(24)
        self.connection = QLabel()
        self.waiting = QLabel()
        self.last = QLabel()
        self.alert = QLabel()
        self.alert.setWordWrap(True)
        self.alert.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        for label in (self.connection, self.waiting, self.last):
            label.setWordWrap(True)  # on a narrow screen a fact takes two lines, never cut
            row.addWidget(label, 1)
        row.addWidget(self.alert, 1)
        # Citizens at a kiosk who asked for a clerk (kiosk.services.help_requests).
        self.help = QLabel()
        self.help.setObjectName("clerkBarHelp")
        self.help.setWordWrap(True)
        self.help.hide()
        row.addWidget(self.help, 1)
        self._help_calls: list = []
        self._help_source: Callable[[], list] | None = None
        self._tasks = None
        self.help_timer = QTimer(self)
        self.help_timer.setInterval(HELP_POLL_MS)
        self.help_timer.timeout.connect(self.poll_help)
        self._state: SyncState | None = None
        if bridge is not None:
            bridge.state_changed.connect(self.set_state)
            if bridge.state is not None:
                self._state = bridge.state
        self.retranslate()

    @staticmethod
    def _level(label: QLabel, level: str) -> None:
        if label.property("level") != level:
            label.setProperty("level", level)
            label.style().unpolish(label)
            label.style().polish(label)

    # Help requests ---------------------------------------------------------------
    def watch_help(self, source: Callable[[], list], tasks) -> None:
        """Show the open help requests, read by `source` through `tasks` while the bar is
        in view (and at once when it comes into view)."""
        self._help_source, self._tasks = source, tasks
        self.help_timer.start()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.poll_help()

    def poll_help(self) -> None:
        if self._help_source is None or not self.isVisible():
            return
        self._tasks.run(self._help_source, self.set_help_calls, self._help_failed)

    def _help_failed(self, error: Exception) -> None:
        log.warning("help requests not read: %s", type(error).__name__)

    def set_help_calls(self, calls: list) -> None:
        self._help_calls = list(calls)
        self.retranslate()

    def set_state(self, state: SyncState) -> None:
        self._state = state
        self.retranslate()

    def retranslate(self) -> None:
        tr, state = self.tr_, self._state
        status = state.status if state else None
        if state is None or state.online is None:
            self.connection.setText(tr("outbox.bar.connecting"))
            self._level(self.connection, "")
        elif state.online:
            self.connection.setText(tr("outbox.bar.online"))
            self._level(self.connection, "ok")
        else:
            self.connection.setText(tr("outbox.bar.offline"))
            self._level(self.connection, "warn")
        if state is not None and state.last_error:
            self.connection.setToolTip(state.last_error)
        now = self._now()
        others = (status.payments_waiting, status.feedback_waiting) if status else (0, 0)
        if status is None or status.waiting + sum(others) == 0:
            self.waiting.setText(tr("outbox.bar.none_waiting"))
        else:
            parts = []
            if status.waiting:
                text = tr("outbox.bar.waiting", n=status.waiting)
                if status.oldest_waiting_since is not None:
                    age = (now - status.oldest_waiting_since).total_seconds()
                    text += " " + tr(
                        "outbox.bar.waiting_since",
                        time=format_time(status.oldest_waiting_since, now),
                        age=format_age(age, tr),
                    )
                parts.append(text)
            if others[0]:
                parts.append(tr("outbox.bar.payments_waiting", n=others[0]))
            if others[1]:
                parts.append(tr("outbox.bar.feedback_waiting", n=others[1]))
            self.waiting.setText("; ".join(parts))
        last = status.last_success_at if status else None
        self.last.setText(
            tr(
                "outbox.bar.last_success",
                time=format_time(last, now) if last else tr("outbox.bar.never"),
            )
        )
        alerts = []
        if status is not None:
            if status.auth_alert is not None:
                alerts.append(tr(status.auth_alert.key))
            if status.clock_alert is not None:
                alerts.append(
                    tr(
                        status.clock_alert.key,
                        minutes=round(abs(status.clock_alert.offset_seconds) / 60),
                    )
                )
            if status.needs_clerk:
                alerts.append(tr("outbox.bar.needs_clerk", n=status.needs_clerk))
            if status.others_need_clerk:
                alerts.append(tr("outbox.bar.others_need_clerk", n=status.others_need_clerk))
            if status.other_identity:
                alerts.append(tr("outbox.alert.other_identity", n=status.other_identity))
        calls = self._help_calls
        if calls:
            first = calls[0]
            self.help.setText(
                tr(
                    "help.bar",
                    n=len(calls),
                    time=format_time(first.asked_at, now),
                    kiosk=first.kiosk_id,
                )
            )
        self.help.setVisible(bool(calls))
        self.alert.setText("  ".join(alerts))
        self.alert.setVisible(bool(alerts))
        self._level(
            self.alert,
            "alert" if status is not None and (status.auth_alert or status.clock_alert) else "warn",
        )
        self._level(
            self.waiting,
            "warn"
            if state is not None
            and state.online is False
            and status is not None
            and status.waiting + sum(others)
            else "",
        )
