"""Home: large pictogram tiles for what a citizen can do here."""

from __future__ import annotations

from PySide6.QtWidgets import QGridLayout

from kiosk.views import registry
from kiosk.views.base import Screen
from kiosk.views.registry import register
from kiosk.views.widgets import Text, Tile

# Two rows of four tiles fit under a two-line top bar on a 1280×800 screen.
HOME_ICON = 112

# (tile key, pictogram, target screen, state for it)
TILES = (
    ("home.submit", "submit_dossier", "procedures", {"mode": "submit"}),
    ("home.status", "check_status", "status_lookup", {}),
    ("home.queue", "queue_ticket", "queue_take", {}),
    ("home.learn", "learn_procedure", "procedures", {"mode": "learn"}),
    ("home.rate", "rate_service", "rating", {}),
    ("notices.citizen.tile", "notices", "notices", {}),
    ("feedback.citizen.tile", "feedback", "feedback_topic", {}),
)


@register("home", sample=lambda vc: {})
class HomeScreen(Screen):
    title_key = "home.title"
    prompt_key = "home.prompt"

    def __init__(self, vc) -> None:
        super().__init__(vc)
        self.hint = Text("", "hint")
        self.body.addWidget(self.hint)
        self.grid = QGridLayout()
        self.grid.setSpacing(24)
        self.tiles: dict[str, Tile] = {}
        known = registry.names()  # without importing the other screens
        for key, picto, target, state in (t for t in TILES if t[2] in known):
            tile = Tile(picto, icon_size=HOME_ICON)
            tile.clicked.connect(lambda _=False, t=target, s=state: self.vc.nav.go(t, **s))
            self.tiles[key] = tile
        # "Listen first": for those who do not read, every button speaks before it acts.
        self.listen_button = Tile("listen_first", icon_size=HOME_ICON)
        self.listen_button.setObjectName("listenFirst")
        self.listen_button.setCheckable(True)
        self.listen_button.setProperty("speaks", False)
        self.listen_button.toggled.connect(self.set_listen_first)
        self.columns = 0
        self._arrange(3)
        self.body.addLayout(self.grid, 1)

    def _arrange(self, columns: int) -> None:
        """Tiles in `columns` columns: four on a landscape screen, so that every tile
        (the ear of "listen first" too) is in view without scrolling."""
        if columns == self.columns:
            return
        self.columns = columns
        for i, tile in enumerate([*self.tiles.values(), self.listen_button]):
            self.grid.removeWidget(tile)
            self.grid.addWidget(tile, i // columns, i % columns)
        for c in range(max(self.grid.columnCount(), columns)):
            self.grid.setColumnStretch(c, 1 if c < columns else 0)

    def resizeEvent(self, event) -> None:
        size = event.size()
        self._arrange(4 if size.width() > 1.3 * size.height() else 3)
        super().resizeEvent(event)

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
        notices = self.tiles.get("notices.citizen.tile")
        two_way = self.vc.app.two_way_if_built()  # never built for the first paint
        if notices is not None and two_way is not None:
            count = two_way.notices.new_count()  # a small indexed read
            if count:
                notices.setText(self.tr("notices.citizen.tile_new", n=count))
