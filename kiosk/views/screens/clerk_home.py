"""The clerk's desk: the queue, the dossier list, the dashboard, helping a citizen, the
language studio (translators and reviewers) and, for admins only, the kiosk's settings,
the studio roles and the clerk accounts."""

from __future__ import annotations

from PySide6.QtWidgets import QGridLayout

from kiosk.services.models import AUTH_BLOCKED, NEEDS_CLERK
from kiosk.views.registry import register
from kiosk.views.screens.clerk_common import AssistBanner, ClerkScreen
from kiosk.views.screens.clerk_samples import sample_login
from kiosk.views.widgets import Text, Tile

# (key, pictogram, target screen; None = assisted mode)
TILES = (
    ("queue", "queue_ticket", "clerk_queue"),
    ("dossiers", "submit_dossier", "clerk_dossiers"),
    ("dashboard", "processing", "clerk_dashboard"),
    ("assist", "help_clerk", None),
    ("settings", "form_field", "clerk_settings"),
    ("studio", "language", "studio"),
    ("roles", "language", "studio_roles"),
    ("accounts", "signature_certification", "clerk_accounts"),
)
ADMIN_TILES = ("settings", "roles", "accounts")


def _sample(vc) -> dict:
    sample_login(vc)
    return {}


@register("clerk_home", audience="clerk", sample=_sample)
class ClerkHomeScreen(ClerkScreen):
    title_key = "clerk.home.title"
    show_desk_button = False

    def __init__(self, vc) -> None:
        super().__init__(vc)
        self.attention = Text("", "hint")
        self.body.addWidget(self.attention)
        self.grid = QGridLayout()
        self.grid.setSpacing(20)
        self.tiles: dict[str, Tile] = {}
        for key, picto, target in TILES:
            tile = Tile(picto, icon_size=96)
            tile.setObjectName("tile")
            tile.clicked.connect(lambda _=False, k=key, t=target: self.open(k, t))
            self.tiles[key] = tile
        self._place(list(self.tiles))
        self.body.addLayout(self.grid, 1)

    def _place(self, keys: list[str]) -> None:
        """The shown tiles, in order and without gaps: 3 a row, 4 when more than 6."""
        columns = 4 if len(keys) > 6 else 3
        for tile in self.tiles.values():
            self.grid.removeWidget(tile)
        for i, key in enumerate(keys):
            self.grid.addWidget(self.tiles[key], i // columns, i % columns)
        for column in range(4):
            self.grid.setColumnStretch(column, 1 if column < columns else 0)

    def enter(self, state) -> None:
        super().enter(state)
        if self.desk.clerk is None:
            return
        clerk = self.desk.clerk
        shown = dict.fromkeys(self.tiles, True)
        for key in ADMIN_TILES:
            shown[key] = clerk.is_admin
        shown["studio"] = clerk.has("translator") or clerk.has("reviewer")
        self._place([key for key, show in shown.items() if show])
        for key, show in shown.items():
            self.tiles[key].setVisible(show)
        self.vc.tasks.run(lambda: self.desk.reports.outbox_states(), self._counts, lambda _e: None)

    def _counts(self, states: dict[str, int]) -> None:
        n = states.get(NEEDS_CLERK, 0) + states.get(AUTH_BLOCKED, 0)
        self.attention.setText(
            self.tr("clerk.home.attention", n=n) if n else self.tr("clerk.home.all_well")
        )

    def retranslate(self) -> None:
        super().retranslate()
        for key, tile in self.tiles.items():
            tile.setText(self.tr(f"clerk.home.{key}"))

    def open(self, key: str, target: str | None) -> None:
        if target is not None:
            self.vc.nav.go(target)
            return
        self.start_assist()

    def start_assist(self) -> None:
        """Help a citizen: dossiers made now record the clerk in assisted_by."""
        clerk = self.desk.clerk
        self.desk.audit("clerk.assist.start")
        self.vc.app.session.assisted_by = clerk.username
        AssistBanner.show_in(self.window(), self.vc, self.desk)
        # A clean citizen session (the reset keeps assisted_by and the clerk), then home.
        self.vc.nav.cancel()
