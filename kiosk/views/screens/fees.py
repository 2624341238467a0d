"""The fee step of the journey (kiosk.services.fee_step renders here), and the VietQR
screen shown once the dossier is saved: the exemption question with pictograms, the
quantity, the amount with "transfer" and "cash at the counter" as equal choices, then the
code large on screen with the bank's name and the amount spoken.

The screens render the FeeStep in the citizen's session and forward taps to it; the order
of the steps is the FeeStep's. The kiosk never claims a payment it cannot see: a transfer
stays "awaiting confirmation" until a clerk confirms it.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QSizePolicy, QStyle, QWidget

from kiosk.services.fee_step import EXEMPTION, PAY, QUANTITY
from kiosk.services.formats import format_vnd
from kiosk.services.payments import CASH, EXEMPT, TRANSFER
from kiosk.views.base import Screen
from kiosk.views.registry import register
from kiosk.views.steps import JourneyScreen, leave_steps, sample_at
from kiosk.views.widgets import BigButton, Text, Tile, clear_layout

log = logging.getLogger(__name__)
SAMPLE_CODE = "1.001612"  # household business registration: a fee with grounds
QR_SIDE = 420  # pixels: large enough for a phone at arm's length
FEE_QSS = (
    "QLabel#fee_amount { font-size: 44pt; font-weight: bold; color: #0a3d7a; }"
    "QLabel#fee_quantity, QLabel#fee_copies { font-size: 40pt; font-weight: bold; }"
)


def flow_buttons(grid: QGridLayout, buttons: list[QWidget], width: int) -> None:
    """Lay `buttons` out in `grid`, as many to a row as fit `width` at the width their text
    needs: side by side on a wide screen, fewer to a row (one above the other) on a narrow
    or portrait one, so no label is ever cut. Returns at once when nothing changes."""
    shown = [b for b in buttons if not b.isHidden()] or buttons
    need = max(b.sizeHint().width() for b in shown)
    spacing = max(grid.horizontalSpacing(), 0)
    per_row = len(buttons)
    while per_row > 1 and per_row * need + (per_row - 1) * spacing > width:
        per_row -= 1
    places = [(i // per_row, i % per_row) for i in range(len(buttons))]
    if all(grid.indexOf(b) >= 0 for b in buttons) and places == [
        grid.getItemPosition(grid.indexOf(b))[:2] for b in buttons
    ]:
        return
    for button in buttons:
        grid.removeWidget(button)
    for column in range(grid.columnCount()):
        grid.setColumnStretch(column, 0)
    for button, (row, column) in zip(buttons, places, strict=True):
        grid.addWidget(button, row, column)
    for column in range(per_row):
        grid.setColumnStretch(column, 1)


def room_for_buttons(screen: Screen, scrolled: bool = True) -> int:
    """The width a row of buttons has on `screen`: in its body (beside a scroll bar) or in
    its footer."""
    margins = screen.outer.contentsMargins()
    width = screen.width() - margins.left() - margins.right()
    if scrolled:
        width -= screen.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent) + 4
    return width


# --- the journey's hooks (called by the review screen) ---------------------------------
def fee_summary(vc) -> str:
    """The fee as the review shows it ("" when the procedure has none)."""
    step = vc.app.journey.session.fee_step
    if step is None or not step.complete:
        return ""
    choice = step.choice()
    lang = vc.app.session.lang
    amount = format_vnd(choice.fee_vnd)
    if choice.method == EXEMPT:
        return vc.tr("fees.review.exempt", amount=amount, ground=step.ground.label(lang))
    return vc.tr(f"fees.review.{choice.method}", amount=amount)


def record_choice(app, fee_step, dossier_id: int):
    """At confirm (off the UI thread): the citizen's choice, recorded as due or claimed.
    Returns the FeeChoice (None: no fee)."""
    if fee_step is None or not fee_step.complete or app.payments is None:
        return None
    choice = fee_step.choice()
    app.payments.fee_due(
        dossier_id, choice.method, choice.fee_vnd, choice.quantity, choice.copies, choice.ground
    )
    return choice


def after_confirm(vc, confirmed, choice) -> None:
    """Where the journey goes once the dossier is saved: the VietQR code when the citizen
    chose a transfer, else straight to the receipt."""
    state = {"dossier_id": confirmed.id, "receipt_code": confirmed.receipt_code}
    if choice is not None and choice.method == TRANSFER and vc.app.settings.fee_account:
        leave_steps(
            vc,
            "fee_qr",
            **state,
            amount=choice.fee_vnd,
            quantity=choice.quantity,
            copies=choice.copies,
        )
    else:
        leave_steps(vc, "printing", **state)


def _fee_step(vc):
    return vc.app.journey.session.fee_step


def _sample_step(vc, screen: str = EXEMPTION, code: str = SAMPLE_CODE) -> dict:
    return sample_at(vc, code, screen)


# --- the exemption question -----------------------------------------------------------------
@register("fee_exemption", sample=lambda vc: _sample_step(vc, EXEMPTION))
class FeeExemptionScreen(JourneyScreen):
    title_key = "fees.exemption.title"
    prompt_key = "fees.exemption.prompt"

    def __init__(self, vc) -> None:
        super().__init__(vc)
        self.hint = Text("", "hint")
        self.body.addWidget(self.hint)
        self.grid = QGridLayout()
        self.grid.setSpacing(16)
        self.body.addLayout(self.grid, 1)
        self.body.addLayout(self.nav_row())
        self.tiles: dict[str | None, Tile] = {}

    def retranslate(self) -> None:
        super().retranslate()
        self.retranslate_nav()
        self.hint.setText(self.tr("fees.exemption.hint"))
        clear_layout(self.grid)
        self.tiles = {}
        step = _fee_step(self.vc)
        if step is None:
            return
        lang = self.vc.app.session.lang
        options = [(g.key, g.pictogram, g.label(lang)) for g in step.rule.grounds]
        options.append((None, "fee_no_exemption", self.tr("fees.exemption.none")))
        columns = 3 if len(options) > 4 else 2
        for i, (key, picto, label) in enumerate(options):
            tile = Tile(picto, label, icon_size=96)
            tile.setObjectName("ground_none" if key is None else f"ground_{key}")
            tile.setCheckable(True)
            tile.setChecked(
                step.exemption_answered
                and (step.ground.key if step.ground is not None else None) == key
            )
            tile.clicked.connect(lambda _=False, k=key: self.choose(k))
            self.grid.addWidget(tile, i // columns, i % columns)
            self.tiles[key] = tile

    def choose(self, key: str | None) -> None:
        _fee_step(self.vc).choose_ground(key)
        self.go_next()


# --- how many pages / copies ----------------------------------------------------------------
@register("fee_quantity", sample=lambda vc: _sample_step(vc, QUANTITY, "2.000815"))
class FeeQuantityScreen(JourneyScreen):
    title_key = "fees.quantity.title"
    prompt_key = "fees.quantity.prompt"

    def __init__(self, vc) -> None:
        super().__init__(vc)
        self.setStyleSheet(FEE_QSS)
        self.rows = QGridLayout()
        self.rows.setHorizontalSpacing(16)
        self.labels: dict[str, Text] = {}
        self.values: dict[str, Text] = {}
        self.buttons: dict[str, tuple[BigButton, BigButton]] = {}
        for row, which in enumerate(("quantity", "copies")):
            label = Text("")
            value = Text("", "bigNumber")
            value.setObjectName(f"fee_{which}")
            value.setAlignment(Qt.AlignmentFlag.AlignCenter)
            value.setMinimumWidth(160)
            minus, plus = BigButton(""), BigButton("")
            minus.setObjectName(f"{which}_minus")
            plus.setObjectName(f"{which}_plus")
            minus.clicked.connect(lambda _=False, w=which: self.change(w, -1))
            plus.clicked.connect(lambda _=False, w=which: self.change(w, 1))
            self.rows.addWidget(label, row, 0)
            self.rows.addWidget(minus, row, 1)
            self.rows.addWidget(value, row, 2)
            self.rows.addWidget(plus, row, 3)
            self.labels[which], self.values[which] = label, value
            self.buttons[which] = (minus, plus)
        self.rows.setColumnStretch(0, 1)
        self.body.addLayout(self.rows)
        self.amount = Text("", "screenTitle")
        self.amount.setObjectName("fee_amount")
        self.body.addWidget(self.amount)
        self.body.addStretch(1)
        self.next_button = BigButton("", "primary", pictogram="confirm")
        self.next_button.setObjectName("primary")
        self.next_button.clicked.connect(self.next)
        nav = self.nav_row()
        nav.insertWidget(2, self.next_button)
        self.body.addLayout(nav)

    def retranslate(self) -> None:
        super().retranslate()
        self.retranslate_nav()
        self.next_button.setText(self.tr("fees.next"))
        step = _fee_step(self.vc)
        if step is None:
            return
        unit = step.rule.unit
        self.labels["quantity"].setText(self.tr(f"fees.quantity.count_{unit}"))
        self.labels["copies"].setText(self.tr("fees.quantity.copies"))
        for minus, plus in self.buttons.values():
            minus.setText(self.tr("fees.quantity.less"))
            plus.setText(self.tr("fees.quantity.more"))
        with_copies = bool(step.rule.copies_field) and unit == "page"
        for widget in (self.labels["copies"], self.values["copies"], *self.buttons["copies"]):
            widget.setVisible(with_copies)
        self.values["quantity"].setText(str(step.quantity))
        self.values["copies"].setText(str(step.copies))
        self.amount.setText(self.tr("fees.quantity.amount", amount=format_vnd(step.amount)))

    def change(self, which: str, delta: int) -> None:
        _fee_step(self.vc).step_quantity(which, delta)
        self.retranslate()

    def next(self) -> None:
        self.go_next()


# --- the amount and the choice --------------------------------------------------------------
@register("fee_pay", sample=lambda vc: _sample_step(vc, PAY))
class FeePayScreen(JourneyScreen):
    title_key = "fees.pay.title"
    prompt_key = "fees.pay.prompt"

    def __init__(self, vc) -> None:
        super().__init__(vc)
        self.setStyleSheet(FEE_QSS)
        self.amount = Text("", "bigNumber")
        self.amount.setObjectName("fee_amount")
        self.amount.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.body.addWidget(self.amount)
        self.note = Text("", "hint")
        self.note.setObjectName("fee_note")
        self.body.addWidget(self.note)
        choices = QHBoxLayout()
        choices.setSpacing(24)
        # Equal choices: same size, same style, side by side.
        self.transfer = Tile("fee_pay_qr", "", icon_size=120)
        self.transfer.setObjectName("pay_transfer")
        self.transfer.clicked.connect(lambda: self.choose(TRANSFER))
        self.cash = Tile("fee_pay_cash", "", icon_size=120)
        self.cash.setObjectName("pay_cash")
        self.cash.clicked.connect(lambda: self.choose(CASH))
        choices.addWidget(self.transfer, 1)
        choices.addWidget(self.cash, 1)
        self.body.addLayout(choices, 1)
        self.body.addLayout(self.nav_row())

    def retranslate(self) -> None:
        super().retranslate()
        self.retranslate_nav()
        step = _fee_step(self.vc)
        if step is None:
            return
        self.amount.setText(format_vnd(step.amount))
        self.transfer.setVisible(step.transfer_offered)
        self.transfer.setText(self.tr("fees.pay.transfer"))
        self.cash.setText(self.tr("fees.pay.cash"))
        self.note.setText(
            self.tr("fees.pay.note") if step.transfer_offered else self.tr("fees.pay.cash_only")
        )

    def choose(self, method: str) -> None:
        _fee_step(self.vc).choose_method(method)
        self.go_next()


# --- the VietQR code, once the dossier is saved -----------------------------------------
def qr_image(payload: str, side: int = QR_SIDE) -> QImage:
    import io

    import segno

    out = io.BytesIO()
    qr = segno.make_qr(payload, error="m", boost_error=False)
    scale = max(1, side // (qr.symbol_size(border=4)[0]))
    qr.save(out, kind="png", scale=scale, border=4)
    image = QImage()
    image.loadFromData(out.getvalue(), "PNG")
    return image


def _sample_qr(vc) -> dict:
    return {"receipt_code": "QN01-000123-J", "amount": 100000, "sample": True}


@register("fee_qr", sample=_sample_qr)
class FeeQrScreen(Screen):
    title_key = "fees.qr.title"
    prompt_key = "fees.qr.prompt"

    def __init__(self, vc) -> None:
        super().__init__(vc)
        self.setStyleSheet(FEE_QSS)
        row = QHBoxLayout()
        row.setSpacing(32)
        self.qr = QLabel()
        self.qr.setObjectName("vietqr")
        self.qr.setFixedSize(QR_SIDE, QR_SIDE)
        self.qr.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.qr.setStyleSheet("background: #ffffff;")
        row.addWidget(self.qr, 0, Qt.AlignmentFlag.AlignTop)
        col = QGridLayout()
        self.amount = Text("", "bigNumber")
        self.amount.setObjectName("fee_amount")
        self.bank = Text("")
        self.bank.setObjectName("fee_bank")
        self.purpose = Text("")
        self.purpose.setObjectName("fee_purpose")
        self.waiting = Text("", "hint")
        self.waiting.setObjectName("fee_waiting")
        for i, widget in enumerate((self.amount, self.bank, self.purpose, self.waiting)):
            col.addWidget(widget, i, 0)
        col.setRowStretch(4, 1)
        row.addLayout(col, 1)
        self.body.addLayout(row, 1)
        # The two ways to finish stay in view under the code, which scrolls; side by side,
        # or one above the other where both labels do not fit on one row.
        self.buttons = QGridLayout()
        self.buttons.setHorizontalSpacing(24)
        self.buttons.setVerticalSpacing(12)
        self.done_button = BigButton("", "primary", pictogram="print_receipt")
        self.done_button.setObjectName("primary")
        self.done_button.clicked.connect(lambda: self.finish(TRANSFER))
        self.cash_button = BigButton("", pictogram="fee_pay_cash")
        self.cash_button.setObjectName("pay_cash_instead")
        self.cash_button.clicked.connect(lambda: self.finish(CASH))
        for button in (self.done_button, self.cash_button):
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._flow()
        self.footer.addLayout(self.buttons)
        self.payload = ""

    def prompt_values(self) -> dict:
        account = self._account()
        amount = self.state.get("amount")
        if account is None or not amount:
            return {}
        return {"amount": format_vnd(amount), "bank": account.bank.short_name}

    def _account(self):
        from kiosk.services.banks import demo_fee_account

        account = self.vc.app.settings.fee_account
        if account is None and self.state.get("sample"):
            account = demo_fee_account()
        return account

    def enter(self, state) -> None:
        from kiosk.services.banks import payment_payload

        self.payload = ""
        self.state = dict(state)
        amount = state.get("amount")
        account = self._account()
        code = state.get("receipt_code")
        if amount and account is not None and code:
            self.payload = payment_payload(account, amount, code)
            image = qr_image(self.payload)
            self.qr.setPixmap(
                QPixmap.fromImage(image).scaled(
                    QR_SIDE,
                    QR_SIDE,
                    Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.FastTransformation,
                )
            )
        else:
            self.qr.clear()
        super().enter(state)

    def retranslate(self) -> None:
        super().retranslate()
        amount = self.state.get("amount")
        account = self._account()
        if not amount or account is None:
            return
        self.amount.setText(format_vnd(amount))
        self.bank.setText(
            self.tr(
                "fees.qr.bank",
                bank=account.bank.name,
                account=account.account,
                holder=account.holder,
            )
        )
        self.purpose.setText(self.tr("fees.qr.purpose", code=self.state.get("receipt_code", "")))
        self.waiting.setText(self.tr("fees.qr.waiting"))
        self.done_button.setText(self.tr("fees.qr.done"))
        self.cash_button.setText(self.tr("fees.qr.cash_instead"))
        self._flow()

    def _flow(self) -> None:
        flow_buttons(
            self.buttons, [self.done_button, self.cash_button], room_for_buttons(self, False)
        )

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._flow()

    def finish(self, method: str) -> None:
        dossier_id = self.state.get("dossier_id")
        state = {"dossier_id": dossier_id, "receipt_code": self.state.get("receipt_code")}
        if method == CASH and dossier_id is not None:
            app, s = self.vc.app, self.state

            def work():
                app.payments.fee_due(
                    dossier_id, CASH, s["amount"], s.get("quantity"), s.get("copies")
                )

            self.vc.tasks.run(
                work, lambda _r: self.vc.nav.replace("printing", **state), self._failed
            )
            return
        self.vc.nav.replace("printing", **state)

    def _failed(self, error: Exception) -> None:
        log.error("fee choice not changed: %s", type(error).__name__, exc_info=error)
        self.vc.nav.replace(
            "printing",
            dossier_id=self.state.get("dossier_id"),
            receipt_code=self.state.get("receipt_code"),
        )

    def wipe(self) -> None:
        super().wipe()
        self.qr.clear()
        self.payload = ""
