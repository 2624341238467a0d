"""Touch pickers for a question: a date without typing, a place from lists.

DatePicker: the decade, the year, the month and the day as rows of big buttons. A day
that does not exist in the month (31/02) or lies in the future (when the field forbids
it) cannot be chosen: its button is not there or is disabled. Tapping the day finishes
the answer (`chosen`), as tapping a choice does.

PlacePicker: the kiosk's own commune and the citizen's own (from the card, however old the
address) as one-tap answers, then any province of today and its commune from a list that a
few typed letters filter.
"""

from __future__ import annotations

import calendar
from datetime import date

from PySide6.QtCore import QPoint, Signal
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QGridLayout,
    QLineEdit,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from kiosk.services.places import Place, Places
from kiosk.views.widgets import BigButton, Text, clear_layout

FIRST_YEAR = 1920
PER_ROW = {"decade": 12, "year": 10, "month": 12, "day": 11}  # at most; fewer when narrow
SPACING = 6


_CELL_QSS = """
QPushButton { min-width: 64px; padding: 4px 2px; }
QPushButton[selected="true"] { background: #0a3d7a; color: #ffffff; }
"""


def _cell(text: str, name: str) -> BigButton:
    button = BigButton(text)
    button.setObjectName(name)
    button.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
    button.setMinimumWidth(64)
    button.setStyleSheet(_CELL_QSS)
    return button


def _mark(button: BigButton, selected: bool) -> None:
    button.setProperty("selected", selected)
    button.style().unpolish(button)
    button.style().polish(button)


class DatePicker(QWidget):
    """Decade, year, month, day; `value()` is a date or None, `text()` is dd/mm/yyyy."""

    chosen = Signal()  # the day was tapped: the answer is complete

    def __init__(self, tr, today: date | None = None, max_today: bool = False) -> None:
        super().__init__()
        self.tr = tr
        self._today_given = today
        self.today = today or date.today()
        self.max_today = max_today
        self.year, self.month, self.day = self.today.year, self.today.month, None
        col = QVBoxLayout(self)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(6)
        self._cell_width = 0
        self._fitted: dict[str, int] = {}
        self.rows: dict[str, QGridLayout] = {}
        self.captions: dict[str, Text] = {}
        for part in ("decade", "year", "month", "day"):
            caption = Text("", "hint")
            grid = QGridLayout()
            grid.setSpacing(SPACING)
            col.addWidget(caption)
            col.addLayout(grid)
            self.rows[part], self.captions[part] = grid, caption
        self.buttons: dict[str, dict[int, BigButton]] = {}
        self.set_value(None)

    # The value ---------------------------------------------------------------------
    def set_value(self, value: date | None) -> None:
        if value is not None:
            self.year, self.month, self.day = value.year, value.month, value.day
        else:
            self.day = None
        self._build()

    def reset(self) -> None:
        """No date chosen, today's month shown (the next citizen sees nothing of the last)."""
        self.today = date.today() if self._today_given is None else self._today_given
        self.year, self.month, self.day = self.today.year, self.today.month, None
        self._build()

    def value(self) -> date | None:
        return date(self.year, self.month, self.day) if self.day else None

    def text(self) -> str:
        v = self.value()
        return v.strftime("%d/%m/%Y") if v else ""

    def _last_year(self) -> int:
        return self.today.year if self.max_today else self.today.year + 10

    def _allowed(self, year: int, month: int, day: int = 1) -> bool:
        return not self.max_today or date(year, month, day) <= self.today

    # Building ---------------------------------------------------------------------
    def _build(self) -> None:
        tr = self.tr
        self.captions["decade"].setText(tr("screens.date.decade"))
        self.captions["year"].setText(tr("screens.date.year"))
        self.captions["month"].setText(tr("screens.date.month"))
        self.captions["day"].setText(tr("screens.date.day"))
        last = self._last_year()
        decade = self.year // 10 * 10
        self._fill(
            "decade",
            list(range(FIRST_YEAR, last + 1, 10)),
            PER_ROW["decade"],
            lambda d: f"{d}",
            lambda d: d == decade,
            lambda d: True,
            self._choose_decade,
        )
        self._fill(
            "year",
            [y for y in range(decade, decade + 10) if FIRST_YEAR <= y <= last],
            PER_ROW["year"],
            str,
            lambda y: y == self.year,
            lambda y: True,
            self._choose_year,
        )
        self._fill(
            "month",
            list(range(1, 13)),
            PER_ROW["month"],
            str,
            lambda m: m == self.month,
            lambda m: self._allowed(self.year, m),
            self._choose_month,
        )
        days = calendar.monthrange(self.year, self.month)[1]
        self._fill(
            "day",
            list(range(1, days + 1)),  # 29, 30 or 31 buttons: no 31/02 to choose
            PER_ROW["day"],
            str,
            lambda d: d == self.day,
            lambda d: self._allowed(self.year, self.month, d),
            self._choose_day,
        )

    # Rows as wide as the screen allows ------------------------------------------------
    def _room(self) -> int:
        """The width the picker may take: its scroll area's, less what stands to its left
        (a page is as wide as its widest row, so the picker's own width does not tell)."""
        parent = self.parentWidget()
        while parent is not None and not isinstance(parent, QAbstractScrollArea):
            parent = parent.parentWidget()
        if parent is None or not isinstance(parent, QScrollArea) or parent.widget() is None:
            return self.width()
        left = self.mapTo(parent.widget(), QPoint(0, 0)).x()
        return parent.viewport().width() - left

    def _fit(self, per_row: int) -> int:
        room = self._room()
        if room <= 0:
            return per_row
        if self._cell_width == 0:
            self._cell_width = _cell("00", "probe").minimumSizeHint().width()
        return max(4, min(per_row, (room + SPACING) // (self._cell_width + SPACING)))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._fitted and self._fitted != {k: self._fit(n) for k, n in PER_ROW.items()}:
            self._build()

    def _fill(self, part, values, per_row, label, selected, allowed, on_tap) -> None:
        per_row = self._fit(per_row)
        self._fitted[part] = per_row
        grid = self.rows[part]
        clear_layout(grid)
        self.buttons[part] = {}
        for i, v in enumerate(values):
            button = _cell(label(v), f"{part}_{v}")
            button.setEnabled(allowed(v))
            _mark(button, selected(v))
            button.clicked.connect(lambda _=False, v=v: on_tap(v))
            grid.addWidget(button, i // per_row, i % per_row)
            self.buttons[part][v] = button
        for c in range(per_row):
            grid.setColumnStretch(c, 1)
        for c in range(per_row, max(PER_ROW.values())):
            grid.setColumnStretch(c, 0)

    # Taps ---------------------------------------------------------------------------
    def _clamp(self) -> None:
        """Keep month and day possible after the year or month changed."""
        if self.max_today and (self.year, self.month) > (self.today.year, self.today.month):
            self.month = self.today.month
        days = calendar.monthrange(self.year, self.month)[1]
        if self.day is not None and (
            self.day > days or not self._allowed(self.year, self.month, self.day)
        ):
            self.day = None

    def _choose_decade(self, decade: int) -> None:
        self.year = min(decade + (self.year % 10), self._last_year())
        self._clamp()
        self._build()

    def _choose_year(self, year: int) -> None:
        self.year = year
        self._clamp()
        self._build()

    def _choose_month(self, month: int) -> None:
        self.month = month
        self._clamp()
        self._build()

    def _choose_day(self, day: int) -> None:
        self.day = day
        self._build()
        self.chosen.emit()

    def tap(self, part: str, value: int) -> BigButton:
        """The button for `value` in a row ('decade', 'year', 'month', 'day')."""
        return self.buttons[part][value]


class PlacePicker(QWidget):
    """One tap for the kiosk's commune or the citizen's own; else the province, then the
    commune from its list, which a few typed letters filter (tones need not be typed).

    Everything is in the question's page, which scrolls in the screen's one scroll area:
    the picker has no scroll area of its own.
    """

    chosen = Signal()
    listed = Signal()  # the commune list was asked for: the screen brings it into view
    COLUMNS = 2

    def __init__(
        self, tr, places: Places, suggestions: list[Place], province: str | None = None
    ) -> None:
        super().__init__()
        self.tr, self.places = tr, places
        self.suggestions = list(dict.fromkeys(s for s in suggestions if s is not None))
        self.province: str | None = None
        self.picked: Place | None = None
        col = QVBoxLayout(self)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(8)
        self.suggestion_buttons: list[BigButton] = []
        for place in self.suggestions:
            if not place.commune:
                continue  # a province alone is no answer: it opens its list instead
            button = BigButton(place.text(), pictogram="permanent_residence")
            button.setObjectName("suggestion")
            button.clicked.connect(lambda _=False, p=place: self._pick(p))
            col.addWidget(button)
            self.suggestion_buttons.append(button)
        self.other = Text(tr("screens.place.other"), "hint")
        col.addWidget(self.other)
        # The province: a grid of the 34, folded to one button once one is chosen.
        self.province_button = BigButton("", pictogram="back", icon_size=32)
        self.province_button.setObjectName("change_province")
        self.province_button.clicked.connect(self._show_provinces)
        self.province_button.hide()
        col.addWidget(self.province_button)
        self.province_box = QWidget()
        self.grid = QGridLayout(self.province_box)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(6)
        self.province_buttons: dict[str, BigButton] = {}
        for i, p in enumerate(places.provinces):
            button = _cell(p.short, "province")
            button.clicked.connect(lambda _=False, name=p.short: self._choose_province(name))
            self.grid.addWidget(button, i // 3, i % 3)
            self.province_buttons[p.short] = button
        col.addWidget(self.province_box)
        # The commune: a search box over its list.
        self.commune_label = Text(tr("places.commune"), "hint")
        self.commune = QLineEdit()
        self.commune.setObjectName("commune")
        self.commune.setProperty("keyboard", "name")
        self.commune.setPlaceholderText(tr("places.search"))
        self.commune.textChanged.connect(self._filter)
        self.commune.returnPressed.connect(self._typed)
        self.no_match = Text("", "hint")
        self.no_match.setObjectName("no_match")
        self.commune_box = QWidget()
        self.commune_grid = QGridLayout(self.commune_box)
        self.commune_grid.setContentsMargins(0, 0, 0, 0)
        self.commune_grid.setSpacing(6)
        for c in range(self.COLUMNS):
            self.commune_grid.setColumnStretch(c, 1)
        self.commune_buttons: dict[str, BigButton] = {}  # by commune code
        for widget in (self.commune_label, self.commune, self.no_match, self.commune_box):
            col.addWidget(widget)
            widget.hide()
        if province and province in self.province_buttons:
            self._choose_province(province)

    # The answer ---------------------------------------------------------------------
    def set_text(self, text: str) -> None:
        for place in self.suggestions:
            if place.text() == text:
                self.picked = place
                return
        self.picked = None
        commune, _, province = text.rpartition(", ")
        if province in self.province_buttons:
            self._choose_province(province)
            found = self.places.find_commune(province, commune) if commune else None
            if found is not None:
                self.picked = found.place()
                _mark(self.commune_buttons[found.code], True)

    def text(self) -> str:
        if self.picked is not None:
            return self.picked.text()
        return ""  # a province alone is not a place: the commune is asked for

    def _pick(self, place: Place) -> None:
        self.picked = place
        self.chosen.emit()

    # The province -------------------------------------------------------------------
    def _show_provinces(self) -> None:
        self.province_box.show()
        self.province_button.hide()

    def _choose_province(self, name: str) -> None:
        self.picked = None
        changed = name != self.province
        self.province = name
        for short, button in self.province_buttons.items():
            _mark(button, short == name)
        self.province_box.hide()
        self.province_button.setText(self.tr("places.province", province=name))
        self.province_button.show()
        if changed:
            self.commune.blockSignals(True)
            self.commune.clear()
            self.commune.blockSignals(False)
            self._fill_communes()
        for widget in (self.commune_label, self.commune, self.commune_box):
            widget.show()
        # The list is shown; the keyboard opens only when the search box is tapped.
        self._filter(self.commune.text())
        self.listed.emit()

    def _fill_communes(self) -> None:
        clear_layout(self.commune_grid)
        self.commune_buttons = {}
        for commune in self.places.communes(self.province or ""):
            button = _cell(commune.name, "commune_choice")
            button.clicked.connect(lambda _=False, c=commune: self._pick(c.place()))
            self.commune_buttons[commune.code] = button

    # The search ---------------------------------------------------------------------
    def matches(self) -> list[str]:
        """The codes of the communes shown, in their order."""
        if self.province is None:
            return []
        return [c.code for c in self.places.search(self.province, self.commune.text())]

    def _filter(self, _text: str = "") -> None:
        if self.province is None:
            return
        shown = self.matches()
        grid = self.commune_grid
        while grid.count():
            grid.takeAt(0)
        for button in self.commune_buttons.values():
            button.hide()
        for i, code in enumerate(shown):
            button = self.commune_buttons[code]
            grid.addWidget(button, i // self.COLUMNS, i % self.COLUMNS)
            button.show()
        self.no_match.setText("" if shown else self.tr("places.no_match"))
        self.no_match.setVisible(not shown)

    def _typed(self) -> None:
        """The keyboard's Xong: one commune left is the answer."""
        shown = self.matches()
        if len(shown) == 1:
            self._pick(self.places.commune(shown[0]).place())
        else:
            self.listed.emit()  # the keyboard went down: the names it left, in view
