"""Notices for citizens: the list (urgent first, newest first) and one notice with its
pictogram, its text in the citizen's language with the Vietnamese beside it, and its
recording played (else spoken by espeak-ng for vi/en, else silence). The work is done by
kiosk.services.notices; this screen renders and forwards."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from kiosk.views.base import Screen
from kiosk.views.registry import register
from kiosk.views.widgets import BigButton, Pictogram, Text, clear_layout, scroll

log = logging.getLogger(__name__)


def two_way(vc):
    return getattr(vc.app, "two_way", None)


def _now_naive() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def sample_notices(vc) -> None:
    """Two notices as a commune would publish them (one urgent), for screenshots."""
    tw = two_way(vc)
    if tw is None or tw.notices.all():
        return
    now = _now_naive()
    tw.notices.post_local(
        title="Họp thôn bàn về làm đường bê tông",
        body="Tối thứ Sáu, 19 giờ, tại nhà văn hoá thôn Nà Pò. Mỗi hộ cử một người đến dự.",
        pictogram="meeting",
        valid_from=now - timedelta(hours=2),
    )
    tw.notices.post_local(
        title="Tiêm phòng sởi cho trẻ em dưới 5 tuổi",
        body="Thứ Hai tuần tới, tại trạm y tế xã, từ 7 giờ 30. Mang theo sổ tiêm chủng.",
        pictogram="topic_health",
        priority="urgent",
        valid_from=now - timedelta(days=1),
    )


def _sample_list(vc) -> dict:
    sample_notices(vc)
    return {}


def _sample_one(vc) -> dict:
    sample_notices(vc)
    tw = two_way(vc)
    return {"notice_id": tw.notices.visible()[0].id} if tw else {}


class NoticeRow(QPushButton):
    """One notice in the list: pictogram, title in the citizen's language and in Vietnamese."""

    def __init__(self, pictogram: str) -> None:
        super().__init__()
        self.setObjectName("tile")
        row = QHBoxLayout(self)
        row.setContentsMargins(16, 12, 16, 12)
        self.picture = Pictogram(pictogram, 88)
        texts = QVBoxLayout()
        self.badge = Text("", "error")
        self.title_text = Text("", "section")
        self.vi_text = Text("", "hint")
        for w in (self.badge, self.title_text, self.vi_text):
            texts.addWidget(w)
        for w in (self.picture, self.badge, self.title_text, self.vi_text):
            w.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents, True)
            w.setStyleSheet("background: transparent; border: none;")
        row.addWidget(self.picture)
        row.addLayout(texts, 1)
        self.setMinimumHeight(140)


@register("notices", sample=_sample_list)
class NoticesScreen(Screen):
    title_key = "notices.citizen.title"
    prompt_key = "notices.citizen.prompt"

    def __init__(self, vc) -> None:
        super().__init__(vc)
        inner = QWidget()
        self.rows = QVBoxLayout(inner)
        self.rows.setSpacing(16)
        self.body.addWidget(scroll(inner), 1)
        self.empty = Text("", "hint")
        self.body.addWidget(self.empty)
        self.body.addLayout(self.nav_row(back=True, cancel=False))

    def retranslate(self) -> None:
        super().retranslate()
        self.retranslate_nav()
        clear_layout(self.rows)
        tw = two_way(self.vc)
        notices = tw.notices.visible() if tw else []
        lang = self.vc.app.session.lang
        for n in notices:
            row = NoticeRow(n.pictogram or "notices")
            row.badge.setText(self.tr("notices.citizen.urgent") if n.priority == "urgent" else "")
            row.badge.setVisible(n.priority == "urgent")
            row.title_text.setText(n.text("title", lang))
            vi = n.text("title", "vi")
            row.vi_text.setText(vi)
            row.vi_text.setVisible(lang != "vi" and vi != n.text("title", lang))
            row.setAccessibleName(n.text("title", lang))
            row.clicked.connect(lambda _=False, i=n.id: self.vc.nav.go("notice", notice_id=i))
            self.rows.addWidget(row)
        self.rows.addStretch(1)
        self.empty.setText(self.tr("notices.citizen.none"))
        self.empty.setVisible(not notices)


@register("notice", sample=_sample_one)
class NoticeScreen(Screen):
    title_key = ""

    def __init__(self, vc) -> None:
        super().__init__(vc)
        top = QHBoxLayout()
        self.picture = Pictogram("notices", 160)
        top.addWidget(self.picture)
        heads = QVBoxLayout()
        self.badge = Text("", "error")
        self.heading = Text("", "screenTitle")
        self.heading_vi = Text("", "hint")
        for w in (self.badge, self.heading, self.heading_vi):
            heads.addWidget(w)
        top.addLayout(heads, 1)
        self.body.addLayout(top)
        texts = QHBoxLayout()
        self.text = Text("")
        self.text_vi = Text("", "hint")
        texts.addWidget(self.text, 1)
        texts.addWidget(self.text_vi, 1)
        self.body.addLayout(texts, 1)
        self.dates = Text("", "hint")
        self.body.addWidget(self.dates)
        self.listen = BigButton("", "primary", pictogram="volume")
        self.listen.clicked.connect(self.speak)
        self.body.addWidget(self.listen)
        self.body.addLayout(self.nav_row(back=True, cancel=False))
        self.notice = None

    def enter(self, state) -> None:
        tw = two_way(self.vc)
        self.notice = tw.notices.get(state.get("notice_id", -1)) if tw else None
        if self.notice is not None and not self.notice.seen:
            notice_id = self.notice.id
            self.vc.tasks.run(lambda: tw.notices.mark_seen(notice_id), lambda _r: None)
        super().enter(state)

    def prompt(self) -> str:
        return ""  # the notice itself is spoken (speak), not a screen prompt

    def retranslate(self) -> None:
        super().retranslate()
        self.retranslate_nav()
        self.listen.setText(self.tr("notices.citizen.listen"))
        n = self.notice
        if n is None:
            self.heading.setText(self.tr("notices.citizen.gone"))
            for w in (self.heading_vi, self.text, self.text_vi, self.badge, self.dates):
                w.setText("")
            self.listen.setEnabled(False)
            return
        from kiosk.views.widgets import pictogram_pixmap

        lang = self.vc.app.session.lang
        self.picture.setPixmap(pictogram_pixmap(n.pictogram or "notices", 160))
        self.badge.setText(self.tr("notices.citizen.urgent") if n.priority == "urgent" else "")
        self.badge.setVisible(n.priority == "urgent")
        self.heading.setText(n.text("title", lang))
        self.text.setText(n.text("body", lang))
        beside = lang != "vi" and n.text("body", "vi") != n.text("body", lang)
        self.heading_vi.setText(n.text("title", "vi") if beside else "")
        self.text_vi.setText(n.text("body", "vi") if beside else "")
        self.heading_vi.setVisible(beside)
        self.text_vi.setVisible(beside)
        until = n.valid_to.strftime("%d/%m/%Y") if n.valid_to else "—"
        self.dates.setText(
            self.tr("notices.citizen.dates", start=n.valid_from.strftime("%d/%m/%Y"), end=until)
        )
        self.listen.setEnabled(True)

    def speak(self) -> str:
        """The recording in the citizen's language first, else the text spoken by the
        engine (espeak-ng for vi/en; silence for a language it has no voice for)."""
        player = self.vc.app.speech
        tw, n = two_way(self.vc), self.notice
        if player is None or n is None or tw is None:
            return "none"
        lang = self.vc.app.session.lang
        found = tw.notices.recording_for(n, lang)
        if found is not None:
            return player.play_file(found[0], lang)
        text_lang = lang if n.title.get(lang) else "vi"
        text = f"{n.text('title', lang)}. {n.text('body', lang)}"
        return player.say(f"notice.{n.ref}", lang, text, text_lang=text_lang, dynamic=True)
