"""Catalogue refresh: the procedures changed at the portal since the last look
(GET /procedures?since=<last as_of>), merged into the catalogue and saved to the overlay
file the kiosk loads at start. No Qt here.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from kiosk.services.portal_link import PortalLink

if TYPE_CHECKING:
    from kiosk.services.catalogue import Catalogue

log = logging.getLogger(__name__)


class CatalogueRefresher:
    def __init__(self, link: PortalLink) -> None:
        self.link = link

    def refresh(self, catalogue: Catalogue, overlay_path: Path) -> Catalogue:
        """The merged catalogue (also saved to `overlay_path`); raises the client's typed
        errors when the portal does not answer."""
        answer = self.link.guarded(lambda c: c.procedures(since=catalogue.last_as_of))
        merged = catalogue.merge_remote(answer.procedures, answer.as_of)
        merged.save_overlay(overlay_path)
        report = merged.merge_report
        log.info(
            "catalogue refreshed: %d added, %d updated, %d withdrawn, %d skipped",
            len(report.added),
            len(report.updated),
            len(report.withdrawn),
            len(report.skipped),
        )
        return merged
