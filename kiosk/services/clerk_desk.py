"""The clerk side of one kiosk, without widgets: the clerk services and who is logged in.

A clerk stays logged in until they log out, the idle guard resets the kiosk, or a
citizen's session ends, except in assisted mode, where the clerk stays beside the citizen
until they step out. Built on first use as `AppContext.clerk_desk`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from kiosk.services.clerks import ClerkInfo, ClerkService
from kiosk.services.dossier_edit import DossierEditor
from kiosk.services.dossier_search import DossierSearch
from kiosk.services.queue import QueueService, load_groups
from kiosk.services.reports import Reports

if TYPE_CHECKING:
    from kiosk.context import AppContext

log = logging.getLogger(__name__)


class ClerkDesk:
    """The clerk side of one kiosk (no widgets): services and the logged-in clerk."""

    def __init__(self, app: AppContext) -> None:
        self.app = app
        machine = app.settings.kiosk_id
        self.clerks = ClerkService(app.store, machine=machine)
        self.queue = QueueService(app.store, load_groups(), machine=machine)
        self.search = DossierSearch(app.store, app.cipher)
        self.editor = DossierEditor(app.dossiers, app.catalogue, machine=machine)

        def title(code: str) -> str:
            proc = app.catalogue.get(code)
            return proc.title("vi") if proc else code

        self.reports = Reports(app.store, self.queue, title)
        self.clerk: ClerkInfo | None = None
        self.counter = "1"
        self.served_groups: list[str] = []  # empty: every group
        self.sample_data = False  # screenshots' sample clerks and dossiers are in the store

    def login(self, username: str, pin: str) -> ClerkInfo:
        """ClerkService.verify (audited there); raises BadPin / Locked."""
        self.clerk = self.clerks.verify(username.strip(), pin)
        return self.clerk

    def logout(self, reason: str = "") -> None:
        """Forget the clerk at once; the audit entry follows. Never raises: a kiosk reset
        must complete even when the store is gone (a window outliving its context)."""
        clerk, self.clerk = self.clerk, None
        if clerk is None:
            return
        self.app.session.assisted_by = None
        try:
            self.clerks.audit(clerk, "clerk.logout", detail=reason or None)
        except Exception as exc:
            log.warning("clerk logout not audited: %s", type(exc).__name__)

    def audit(self, action: str, dossier_id: int | None = None, detail: str | None = None) -> None:
        self.clerks.audit(self.clerk, action, dossier_id, detail)

    @property
    def assisting(self) -> bool:
        return self.clerk is not None and self.app.session.assisted_by == self.clerk.username
