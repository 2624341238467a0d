"""The slip a citizen takes home after giving feedback: its unguessable code (typed or
scanned from the QR at the status look-up), the topic and the time, in Vietnamese and the
citizen's language. Made offline; no identity, no phone, nothing of the message on it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from reportlab.platypus import Flowable, Spacer

from kiosk.services.i18n import FALLBACK, Translator
from kiosk.services.receipts import (
    QrFlowable,
    _bilingual,
    _fit_style,
    _Labels,
    _p,
    _paper,
    _render,
    _rule,
    _Styles,
    format_datetime,
    register_fonts,
)
from kiosk.services.text import nfc


@dataclass(frozen=True)
class SlipData:
    slip_code: str
    topic: str
    created_at: datetime  # local time for the citizen
    commune_name: str
    lang: str = FALLBACK
    demo: bool = False


def build_slip_pdf(data: SlipData, size: str, translator: Translator) -> bytes:
    register_fonts()
    paper = _paper(size)
    styles = _Styles(paper)
    labels = _Labels(translator, data.lang)
    story: list[Flowable] = []
    story.append(_p(nfc(data.commune_name), styles.header))
    story += _bilingual(
        labels.vi("feedback.citizen.slip.title"),
        labels.other("feedback.citizen.slip.title"),
        styles.title,
        styles.title2,
    )
    story.append(_rule(paper))
    topic_key = f"feedback.citizen.topic.{data.topic}"
    story += _bilingual(labels.vi(topic_key), labels.other(topic_key), styles.center, styles.title2)
    story.append(_p(labels.joined("feedback.citizen.slip.code"), styles.code_label))
    story.append(_p(data.slip_code, _fit_style(data.slip_code, styles.code, paper.frame_width)))
    story.append(Spacer(1, 4))
    story.append(QrFlowable(data.slip_code, paper.qr))
    story.append(_p(format_datetime(data.created_at), styles.center_small))
    story.append(_rule(paper))
    story += _bilingual(
        labels.vi("feedback.citizen.slip.note"),
        labels.other("feedback.citizen.slip.note"),
        styles.center_small,
        styles.center_small,
    )
    watermark = labels.joined("receipt.demo_short") if data.demo else None
    return _render(paper, story, data.slip_code, watermark)
