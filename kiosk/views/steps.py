"""Showing the steps of a Qt-free flow (kiosk.services.flow) in the window.

A flow keeps its own history, so all its steps share one place in the navigator's
history: the next step replaces the current one, and Back asks the flow, leaving it (to
the screen before the flow) when the flow has nothing before.
"""

from __future__ import annotations

from typing import Any

from kiosk.services.flow import Step
from kiosk.services.journey import Journey
from kiosk.views.base import Screen


def show_step(vc, step: Step, **extra: Any) -> None:
    """Show `step`, in place of the flow's current screen if one is showing."""
    state = {"step": step, **extra}
    if "step" in vc.nav.state():
        vc.nav.replace(step.screen, **state)
    else:
        vc.nav.go(step.screen, **state)


def leave_steps(vc, name: str, **state: Any) -> None:
    """Leave the flow for another screen (e.g. the receipt once the dossier is saved)."""
    if "step" in vc.nav.state():
        vc.nav.replace(name, **state)
    else:
        vc.nav.go(name, **state)


def sample_applicant(address: str = "Thôn Nà Pò, xã Đồng Văn, tỉnh Quảng Ninh"):
    """The fictitious citizen whose card the sample screens (screenshots, the audit) show."""
    from datetime import date

    from kiosk.services.journey import Applicant

    return Applicant("001190012345", "Nguyễn Thị Hồng Nhung", date(1990, 5, 6), "female", address)


def sample_at(vc, code: str, screen: str, key: str = "") -> dict[str, Any]:
    """Sample state for screenshots and the audit: the journey on procedure `code`, at the
    step of `screen`, everything before it given."""
    from datetime import UTC, datetime

    from kiosk.services.journey import CONSENT, TYPE_IDENTITY

    journey: Journey = vc.app.journey
    journey.choose(code)
    if screen != CONSENT:
        journey.consent(datetime.now(UTC))
    if screen == TYPE_IDENTITY:
        return {"step": journey.type_instead()}
    return {"step": journey.flow.jump(Step(screen, key))}


class JourneyScreen(Screen):
    """A screen that shows one step of the citizen's journey."""

    @property
    def journey(self) -> Journey:
        return self.vc.app.journey

    @property
    def flow_step(self) -> Step | None:
        """The step this screen shows (from its navigation state)."""
        return self.state.get("step")

    def go_next(self, **extra: Any) -> None:
        show_step(self.vc, self.journey.next(), **extra)

    def go_back(self) -> None:
        step = self.journey.back()
        if step is None:
            self.vc.nav.back()  # out of the journey: the procedure it started from
        else:
            show_step(self.vc, step)
