"""The camera on a screen that waits for an ID card: one way to open it, show its frames,
hand each result to the screen's `on_scanned`, and close it (the citizen's own card for
feedback, the partner's card at a marriage)."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


class CardScan:
    """Mixed into a Screen that has `camera_view`, `status` and `on_scanned(result)`."""

    bridge = None

    def start_scan(self) -> bool:
        """Open the camera; False (and a plain message on screen) when there is none."""
        factory = self.vc.app.camera
        if factory is None:
            self.status.setText(self.tr("identify.no_camera"))
            return False
        try:
            self.bridge = factory(self)
        except Exception as exc:  # a device that cannot open: Back, and type instead
            log.warning("camera unavailable: %s", type(exc).__name__)
            self.status.setText(self.tr("identify.no_camera"))
            return False
        self.bridge.frame.connect(self.camera_view.show_frame)
        self.bridge.scanned.connect(self.on_scanned)
        self.bridge.start()
        return True

    def stop_scan(self) -> None:
        if self.bridge is not None:
            self.bridge.stop()
            self.bridge.deleteLater()
            self.bridge = None
        self.camera_view.clear_frame()
