"""The clerk's side of two-way information: the feedback sent from this centre (state,
codes, answers; never anyone's identity, and nothing of it for anonymous feedback), and the
notices (list, post a local notice with a recorded message, withdraw one)."""

from __future__ import annotations

import logging
from datetime import timedelta

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QBoxLayout,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
)

from kiosk.services.dossiers import utcnow
from kiosk.services.notices import NoticeError
from kiosk.views.recorder import Recorder
from kiosk.views.registry import register
from kiosk.views.screens.clerk_common import ClerkScreen, fmt_time
from kiosk.views.screens.clerk_samples import sample_login
from kiosk.views.screens.notices import sample_notices, two_way
from kiosk.views.widgets import BigButton, FitTable, Note, Text, pictogram_pixmap

log = logging.getLogger(__name__)

NOTICE_PICTOGRAMS = (
    "notices",
    "meeting",
    "topic_health",
    "topic_education",
    "topic_water",
    "topic_electricity",
    "topic_roads",
    "topic_land",
    "topic_social_support",
    "topic_security",
    "warning",
)


class _WrapTable(QTableWidget):
    """A table that scrolls by itself (the screen's one scroll area), each row as tall as
    its wrapped text at the columns' widths: no text is cut."""

    def __init__(self, rows: int, columns: int) -> None:
        super().__init__(rows, columns)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.horizontalHeader().sectionResized.connect(self._refit)

    def _refit(self, *_args) -> None:
        self.resizeRowsToContents()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.resizeRowsToContents()


def _check_notice(raw: bytes):
    from kiosk.services.recording import process_take  # numpy: when a clerk records

    return process_take(raw, min_seconds=1.0, max_seconds=120)


def _table(columns: int, name: str, cls: type[QTableWidget] = QTableWidget) -> QTableWidget:
    table = cls(0, columns)
    table.setObjectName(name)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setWordWrap(True)
    header = table.horizontalHeader()
    for i in range(columns):
        header.setSectionResizeMode(i, QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(columns - 1, QHeaderView.ResizeMode.Stretch)
    return table


def _sample_feedback(vc) -> dict:
    from kiosk.services.feedback import FeedbackDraft
    from kiosk.services.portal_notices import FeedbackStatus

    sample_login(vc)
    tw = two_way(vc)
    if tw is not None and not tw.feedback.list():
        a = tw.feedback.confirm(
            FeedbackDraft(topic="roads", language="tyz", text="Đường vào thôn bị sạt lở.")
        )
        tw.feedback.confirm(
            FeedbackDraft(
                topic="water", language="vi", identity="phone", phone="0912345678", text="Nước đục"
            )
        )
        tw.feedback.store.write_sync(lambda s: _delivered(s, a.id))
        tw.feedback.save_status(
            a.id,
            FeedbackStatus(
                "PA-QN-2026-000042",
                "answered",
                "2026-12-01T08:00:00Z",
                {"text": {"vi": "Đã cử người sửa đường."}, "audio": {}},
            ),
        )
    return {}


def _delivered(session, feedback_id: int) -> None:
    from kiosk.services.models import Feedback

    row = session.get(Feedback, feedback_id)
    row.state, row.feedback_code, row.delivered_at = "delivered", "PA-QN-2026-000042", utcnow()


def _excerpt(text: str, limit: int = 40) -> str:
    """The start of a long text, cut at a space (the whole text shows when tapped)."""
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > 0 else limit] + " …"


@register("clerk_feedback", audience="clerk", sample=_sample_feedback)
class ClerkFeedbackScreen(ClerkScreen):
    title_key = "clerk.feedback.title"
    scrolls = False  # the table is the screen's one scroll area

    def __init__(self, vc) -> None:
        super().__init__(vc)
        self.summary = Text("", "hint")
        self.body.addWidget(self.summary)
        self.table = _table(7, "feedbackTable", _WrapTable)
        # The codes (which cannot wrap) as wide as they are; the rest share what is left
        # and wrap at their spaces.
        header = self.table.horizontalHeader()
        for col in (2, 3, 4, 6):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Stretch)
        self.body.addWidget(self.table, 1)
        # A long answer shows in full here, for the row tapped; the table holds its start.
        self.detail = Text("")
        self.detail.setObjectName("answerDetail")
        self.body.addWidget(self.detail)
        self.answers: list[str] = []
        self.table.cellClicked.connect(self.show_answer)

    def show_answer(self, row: int, _column: int = 0) -> None:
        if 0 <= row < len(self.answers):
            self.detail.setText(self.answers[row])

    def enter(self, state) -> None:
        super().enter(state)
        if self.desk.clerk is None:
            return
        self.detail.setText("")
        tw = two_way(self.vc)
        if tw is not None:
            self.vc.tasks.run(tw.feedback.list, self._show, self._failed)

    def _failed(self, error: Exception) -> None:
        log.warning("feedback list failed: %s", type(error).__name__)
        self.summary.setText(self.tr("clerk.err.generic"))

    def _show(self, views) -> None:
        self.table.setRowCount(len(views))
        self.answers = []
        for row, v in enumerate(views):
            full = ((v.answer or {}).get("text") or {}).get("vi", "")
            self.answers.append(full)
            answer = _excerpt(full)
            cells = (
                v.slip_code,
                fmt_time(v.created_at).replace(" ", "\n"),  # the date above the time
                self.tr(f"feedback.citizen.topic.{v.topic}"),
                self.tr(f"clerk.feedback.identity.{v.identity}"),
                self.tr(f"cli.outbox.state.{v.state}")
                + (f" ({v.last_error})" if v.last_error and v.state != "delivered" else ""),
                "\n".join(
                    x
                    for x in (
                        v.feedback_code,
                        self.tr(f"feedback.citizen.status.{v.portal_status}")
                        if v.portal_status
                        else "",
                    )
                    if x
                ),
                answer,
            )
            for col, text in enumerate(cells):
                self.table.setItem(row, col, QTableWidgetItem(text or ""))
        self.table.resizeRowsToContents()
        self.summary.setText(self.tr("clerk.feedback.summary", n=len(views)))

    def retranslate(self) -> None:
        super().retranslate()
        self.table.setHorizontalHeaderLabels(
            [
                self.tr(f"clerk.feedback.col.{c}")
                for c in ("slip", "at", "topic", "identity", "state", "portal", "answer")
            ]
        )


def _sample_notices(vc) -> dict:
    sample_login(vc)
    sample_notices(vc)
    return {}


@register("clerk_notices", audience="clerk", sample=_sample_notices)
class ClerkNoticesScreen(ClerkScreen):
    title_key = "clerk.notices.title"

    def __init__(self, vc) -> None:
        super().__init__(vc)
        # The list grows with its rows and scrolls with the form, in the screen's one area.
        self.table = _table(4, "noticesTable", FitTable)
        self.body.addWidget(self.table)
        form = QGridLayout()
        form.setHorizontalSpacing(12)
        self.title_edit = QLineEdit()
        self.title_edit.setObjectName("noticeTitle")
        self.title_edit.setMaxLength(200)
        self.body_edit = QPlainTextEdit()
        self.body_edit.setObjectName("noticeBody")
        self.body_edit.setMaximumHeight(120)
        self.pictogram = QComboBox()
        for name in NOTICE_PICTOGRAMS:
            self.pictogram.addItem(pictogram_pixmap(name, 48), name, name)
        self.days = QSpinBox()
        self.days.setRange(1, 365)
        self.days.setValue(14)
        self.urgent = BigButton("")
        self.urgent.setObjectName("toggle")
        self.urgent.setCheckable(True)
        self.days_label = Text("")
        form.addWidget(self.title_edit, 0, 0, 1, 4)
        form.addWidget(self.body_edit, 1, 0, 1, 4)
        form.addWidget(self.pictogram, 2, 0)
        form.addWidget(self.days_label, 2, 1)
        form.addWidget(self.days, 2, 2)
        form.addWidget(self.urgent, 2, 3)
        self.body.addLayout(form)
        # What happened (posted, refused...), under the form; no room while it is empty.
        self.message = Note("", "hint")
        self.message.hide()
        self.body.addWidget(self.message)
        self.body.addStretch(1)
        rec = QHBoxLayout()
        self.recorder = Recorder(
            vc,
            _check_notice,
            record_key="clerk.notices.record",
            stop_key="feedback.citizen.stop",
            play_key="studio.play",
            timer=lambda s: self.tr("studio.seconds", s=int(s)),
        )
        # A clerk's public announcement, in Vietnamese: not personal.
        self.recorder.took.connect(lambda _take: self._say(self.tr("studio.take_ok")))
        self.recorder.refused.connect(lambda key: self._say(self.tr(key)))
        self.record_button = self.recorder.record_button
        self.play_button = self.recorder.play_button
        self.timer_label = self.recorder.timer_label
        self.post_button = BigButton("", "primary")
        self.post_button.clicked.connect(self.post)
        self.withdraw_button = BigButton("", "danger")
        self.withdraw_button.clicked.connect(self.withdraw)
        rec.addWidget(self.recorder)
        rec.addStretch(1)
        send = QHBoxLayout()
        send.addStretch(1)
        send.addWidget(self.post_button)
        send.addWidget(self.withdraw_button)
        # Pinned under the content, so posting is always in view: one line on a wide
        # screen, the recording and the posting on two lines on a narrow one.
        self.actions = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        self.actions.addLayout(rec)
        self.actions.addLayout(send)
        self.rec_row, self.send_row = rec, send
        self.footer.addLayout(self.actions)
        self.rows: list = []

    def enter(self, state) -> None:
        super().enter(state)
        if self.desk.clerk is None:
            return
        self.refresh()

    def _say(self, text: str) -> None:
        """Show `text` under the form and scroll it into view (once it is laid out)."""
        self.message.setText(text)
        if text:
            QTimer.singleShot(0, self, lambda: self.show_in_view(self.message))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._place_actions()

    def _place_actions(self) -> None:
        margins = self.outer.contentsMargins()
        room = self.width() - margins.left() - margins.right()
        need = (
            self.rec_row.sizeHint().width()
            + self.send_row.sizeHint().width()
            + self.actions.spacing()
            + 48  # some air between the two groups
        )
        direction = (
            QBoxLayout.Direction.LeftToRight if room >= need else QBoxLayout.Direction.TopToBottom
        )
        if self.actions.direction() != direction:
            self.actions.setDirection(direction)

    def refresh(self) -> None:
        tw = two_way(self.vc)
        if tw is not None:
            self.vc.tasks.run(tw.notices.all, self._show, self._failed)

    def _failed(self, error: Exception) -> None:
        self._say(self.error_text(error))

    def _show(self, notices) -> None:
        now = utcnow()
        self.rows = notices
        self.table.setRowCount(len(notices))
        for row, n in enumerate(notices):
            if n.withdrawn:
                state = "withdrawn"
            elif n.valid_to is not None and n.valid_to <= now:
                state = "expired"
            elif n.valid_from > now:
                state = "future"
            else:
                state = "shown"
            title = QTableWidgetItem(n.text("title", "vi"))
            title.setIcon(pictogram_pixmap(n.pictogram or "notices", 48))
            until = n.valid_to.strftime("%d/%m/%Y") if n.valid_to else "—"
            cells = (
                self.tr(f"clerk.notices.state.{state}"),
                self.tr(f"clerk.notices.source.{n.source}")
                + (" · " + self.tr("notices.citizen.urgent") if n.priority == "urgent" else ""),
                f"{n.valid_from:%d/%m/%Y} – {until}",
            )
            for col, text in enumerate(cells):
                self.table.setItem(row, col, QTableWidgetItem(text))
            self.table.setItem(row, 3, title)
        self.table.fit_rows()

    # -- the recorded message
    @property
    def take(self) -> bytes | None:
        return self.recorder.take

    # -- posting and withdrawing
    def post(self) -> None:
        tw = two_way(self.vc)
        now = utcnow()
        kwargs = {
            "title": self.title_edit.text(),
            "body": self.body_edit.toPlainText(),
            "pictogram": self.pictogram.currentData(),
            "recording": self.take,
            "valid_from": now,
            "valid_to": now + timedelta(days=self.days.value()),
            "priority": "urgent" if self.urgent.isChecked() else "normal",
            "posted_by": self.desk.clerk.username,
        }
        self.vc.tasks.run(lambda: tw.notices.post_local(**kwargs), self._posted, self._refused)

    def _posted(self, _notice) -> None:
        self.desk.audit("notice.post")
        self.title_edit.clear()
        self.body_edit.clear()
        self.recorder.clear()
        self._say(self.tr("clerk.notices.posted"))
        self.refresh()

    def _refused(self, error: Exception) -> None:
        if isinstance(error, NoticeError):
            self._say(self.tr(error.key))
        else:
            self._say(self.error_text(error))

    def withdraw(self) -> None:
        row = self.table.currentRow()
        if not 0 <= row < len(self.rows):
            self._say(self.tr("clerk.notices.pick"))
            return
        notice = self.rows[row]
        if notice.source != "local":
            self._say(self.tr("clerk.notices.portal_only"))
            return
        tw = two_way(self.vc)
        self.vc.tasks.run(
            lambda: tw.notices.withdraw_local(notice.id), self._withdrawn, self._refused
        )

    def _withdrawn(self, done: bool) -> None:
        if done:
            self.desk.audit("notice.withdraw")
        self._say(self.tr("clerk.notices.withdrawn" if done else "clerk.notices.pick"))
        self.refresh()

    def leave(self) -> None:
        self.recorder.close_microphone()

    def retranslate(self) -> None:
        super().retranslate()
        self.table.setHorizontalHeaderLabels(
            [self.tr(f"clerk.notices.col.{c}") for c in ("state", "source", "dates", "title")]
        )
        self.title_edit.setPlaceholderText(self.tr("clerk.notices.title_hint"))
        self.body_edit.setPlaceholderText(self.tr("clerk.notices.body_hint"))
        self.days_label.setText(self.tr("clerk.notices.days"))
        self.urgent.setText(self.tr("notices.citizen.urgent"))
        self.recorder.show_state()
        self.post_button.setText(self.tr("clerk.notices.post"))
        self.withdraw_button.setText(self.tr("clerk.notices.withdraw"))
        self._place_actions()
