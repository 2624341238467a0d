"""Home: large pictogram tiles for what a citizen can do here."""

from __future__ import annotations

from PySide6.QtWidgets import QGridLayout

from kiosk.views import registry
from kiosk.views.base import Screen
from kiosk.views.registry import register
from kiosk.views.widgets import Text, Tile

# (tile key, pictogram, target screen, state for it)
TILES = (
    ("home.submit", "submit_dossier", "procedures", {"mode": "submit"}),
    ("home.status", "check_status", "status_lookup", {}),
    ("home.queue", "queue_ticket", "queue_take", {}),
    ("home.learn", "learn_procedure", "procedures", {"mode": "learn"}),
    ("home.rate", "rate_service", "rating", {}),
)


@register("home", sample=lambda vc: {})
class HomeScreen(Screen):
    title_key = "home.title"
    prompt_key = "home.prompt"

    def __init__(self, vc) -> None:
        super().__init__(vc)
        self.hint = Text("", "hint")
        self.body.addWidget(self.hint)
        grid = QGridLayout()
        grid.setSpacing(24)
        self.tiles: dict[str, Tile] = {}
        known = registry.names()  # without importing the other screens
        for i, (key, picto, target, state) in enumerate(t for t in TILES if t[2] in known):
            tile = Tile(picto)
            tile.clicked.connect(lambda _=False, t=target, s=state: self.vc.nav.go(t, **s))
            grid.addWidget(tile, i // 3, i % 3)
            grid.setColumnStretch(i % 3, 1)
            self.tiles[key] = tile
        self.body.addLayout(grid, 1)

    def retranslate(self) -> None:
        super().retranslate()
        self.hint.setText(self.tr("home.hint"))
        for key, tile in self.tiles.items():
            tile.setText(self.tr(key))
