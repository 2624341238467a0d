"""The call display shown inside the kiosk window (for screenshots and the audit); the
real one is its own window (`python -m kiosk call-display`)."""

from __future__ import annotations

from kiosk.views.base import Screen
from kiosk.views.call_display import CallDisplay
from kiosk.views.registry import register
from kiosk.views.screens.clerk_common import desk
from kiosk.views.screens.clerk_samples import ensure_sample_data


def _sample(vc) -> dict:
    ensure_sample_data(vc.app)
    return {}


@register("call_display", audience="system", sample=_sample)
class CallDisplayPreview(Screen):
    def __init__(self, vc) -> None:
        super().__init__(vc)
        self.body.setContentsMargins(0, 0, 0, 0)
        self.display = CallDisplay(
            desk(vc.app).queue,
            vc.app.translator,
            vc.tasks,
            lang=vc.app.session.lang,
            scale=0.45,
            title=vc.app.settings.commune_name,
        )
        self.body.addWidget(self.display, 1)

    def enter(self, state) -> None:
        super().enter(state)
        self.display.retranslate(self.vc.app.session.lang)
        self.display.start()

    def retranslate(self) -> None:
        super().retranslate()
        self.display.retranslate(self.vc.app.session.lang)

    def leave(self) -> None:
        self.display.stop()
