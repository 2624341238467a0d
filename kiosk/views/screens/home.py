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
        registry.discover()
        known = {s.name for s in registry.screens()}
        for i, (key, picto, target, state) in enumerate(t for t in TILES if t[2] in known):
            tile = Tile(picto)
            tile.clicked.connect(lambda _=False, t=target, s=state: self.vc.nav.go(t, **s))
            grid.addWidget(tile, i // 3, i % 3)
            grid.setColumnStretch(i % 3, 1)
            self.tiles[key] = tile
        # "Listen first": for those who do not read, every button speaks before it acts.
        n = len(self.tiles)
        self.listen_button = Tile("listen_first")
        self.listen_button.setObjectName("listenFirst")
        self.listen_button.setCheckable(True)
        self.listen_button.setProperty("speaks", False)
        self.listen_button.toggled.connect(self.set_listen_first)
        grid.addWidget(self.listen_button, n // 3, n % 3)
        self.body.addLayout(grid, 1)

    def set_listen_first(self, on: bool) -> None:
        self.vc.app.session.listen_first = on
        self.retranslate()
        player = self.vc.app.speech
        if player is not None:
            player.say_key("home.listen_first_on" if on else "home.listen_first_off")

    def enter(self, state) -> None:
        super().enter(state)
        self.listen_button.blockSignals(True)
        self.listen_button.setChecked(self.vc.app.session.listen_first)
        self.listen_button.blockSignals(False)

    def retranslate(self) -> None:
        super().retranslate()
        self.hint.setText(self.tr("home.hint"))
        on = self.vc.app.session.listen_first
        self.listen_button.setText(
            self.tr("home.listen_first_is_on" if on else "home.listen_first")
        )
        for key, tile in self.tiles.items():
            tile.setText(self.tr(key))
