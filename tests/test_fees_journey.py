"""The fee step of the journey through real widgets: the exemption question with
pictograms, the quantity, the amount with transfer and cash as equal choices, the VietQR
code large on screen (decoded from the screen's pixels) with the amount and the bank
spoken, and a transfer that stays "awaiting confirmation"."""

from __future__ import annotations

import pytest
import zxingcpp
from PIL import Image
from PySide6.QtCore import QBuffer, QIODevice

from kiosk.config import load_settings
from kiosk.context import build_context
from kiosk.qt.speech_bridge import install_speech
from kiosk.qt.tasks import TaskRunner
from kiosk.services.catalogue import load_default_catalogue
from kiosk.services.fee_step import AFTER, EXEMPTION, PAY, QUANTITY, FeeStep, FeeStepError
from kiosk.services.payments import CASH, TRANSFER
from kiosk.services.vietqr import parse_payload
from kiosk.views.shell import MainWindow
from tests.test_journey import MARITAL, Taps, dossiers, screen, start_procedure, type_manual

FEE_ACCOUNT = {
    "fee_bank_bin": "970405",
    "fee_account_number": "3500205000123",
    "fee_account_name": "UBND XA MINH KHAI",
}


def _window(data_dir, qtbot, **settings_values):
    settings = load_settings(
        env={},
        config_path=data_dir / "x.toml",
        data_dir=str(data_dir),
        speech="mock",
        **settings_values,
    )
    ctx = build_context(settings)
    tasks = TaskRunner()
    tasks.inline = True
    win = MainWindow(ctx, tasks)
    install_speech(win, ctx)
    qtbot.addWidget(win)
    win.resize(1920, 1080)
    win.show()
    win.start()
    return win, ctx


@pytest.fixture
def kiosk(kiosk_qapp, data_dir, qtbot):
    win, ctx = _window(data_dir, qtbot, **FEE_ACCOUNT)
    yield win
    win.close()
    ctx.close()


@pytest.fixture
def cash_only(kiosk_qapp, data_dir, qtbot):
    win, ctx = _window(data_dir, qtbot)
    yield win
    win.close()
    ctx.close()


def _to_fee(win, taps) -> None:
    start_procedure(win, taps, MARITAL)
    taps(screen(win).manual_button)
    type_manual(win, taps)
    s = screen(win)
    taps(s.choice_buttons["marriage"])
    taps(screen(win).choice_buttons["never_married"])
    s = screen(win)
    s.edit.setText("0912345678")
    taps(s.next)


def _decode(label) -> list[str]:
    pixmap = label.pixmap()
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    pixmap.toImage().save(buffer, "PNG")
    import io

    image = Image.open(io.BytesIO(bytes(buffer.data())))
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    return [r.text for r in found]


def test_exemption_question_then_claimed_not_granted(kiosk, qtbot):
    taps = Taps(qtbot)
    _to_fee(kiosk, taps)
    s = screen(kiosk)
    assert s.name == "fee_exemption"
    assert set(s.tiles) == {"poor_household", "disability", "meritorious_family", None}
    assert s.tiles["poor_household"].text() == "Thuộc hộ nghèo"
    taps(s.tiles["poor_household"])
    review = screen(kiosk)
    assert review.name == "review"  # an exemption claimed: nothing to pay now
    assert any("xin miễn (Thuộc hộ nghèo)" in w.text() for w in review.findChildren(type(s.hint)))
    taps(review.confirm)
    assert screen(kiosk).name == "done"
    app = kiosk.vc.app
    [row] = dossiers(kiosk)
    payment = app.payments.active(row.id)
    assert (payment.status, payment.method, payment.exemption_ground) == (
        "claimed",
        "exempt",
        "poor_household",
    )
    assert payment.delivery is None  # nothing goes to the portal before a clerk sees proof


def test_transfer_shows_the_vietqr_and_stays_awaiting(kiosk, qtbot):
    taps = Taps(qtbot)
    engine = kiosk.vc.app.speech.engine
    _to_fee(kiosk, taps)
    taps(screen(kiosk).tiles[None])
    pay = screen(kiosk)
    assert pay.name == "fee_pay" and pay.amount.text() == "5.000 ₫"
    assert pay.transfer.isVisible() and pay.cash.isVisible()
    assert pay.transfer.size() == pay.cash.size()  # equal choices
    assert engine.spoken[-1].key == "fees.pay.prompt"  # the amount itself is on screen
    taps(pay.transfer)
    review = screen(kiosk)
    assert review.name == "review"
    taps(review.confirm)
    qr = screen(kiosk)
    assert qr.name == "fee_qr"
    [row] = dossiers(kiosk)
    [payload] = _decode(qr.qr)
    parsed = parse_payload(payload)
    assert (parsed.bank_bin, parsed.account, parsed.amount) == ("970405", "3500205000123", 5000)
    assert parsed.purpose == row.receipt_code
    assert qr.qr.width() >= 400  # large on screen
    spoken = engine.spoken[-1]
    assert spoken.key == "fees.qr.prompt" and "5.000 ₫" in spoken.text
    assert "Agribank" in spoken.text
    assert "chờ xác nhận" in qr.waiting.text()
    taps(qr.done_button)
    assert screen(kiosk).name == "done"
    payment = kiosk.vc.app.payments.active(row.id)
    assert (payment.status, payment.method) == ("due", TRANSFER)  # never claimed as paid


def test_cash_is_an_equal_choice_and_can_be_taken_on_the_qr_screen(kiosk, qtbot):
    taps = Taps(qtbot)
    _to_fee(kiosk, taps)
    taps(screen(kiosk).tiles[None])
    taps(screen(kiosk).transfer)
    taps(screen(kiosk).confirm)
    qr = screen(kiosk)
    assert qr.name == "fee_qr"
    taps(qr.cash_button)
    assert screen(kiosk).name == "done"
    [row] = dossiers(kiosk)
    payment = kiosk.vc.app.payments.active(row.id)
    assert (payment.status, payment.method) == ("due", CASH)


def test_without_a_fee_account_the_kiosk_offers_cash_only_and_says_so(cash_only, qtbot):
    taps = Taps(qtbot)
    _to_fee(cash_only, taps)
    taps(screen(cash_only).tiles[None])
    pay = screen(cash_only)
    assert not pay.transfer.isVisible() and pay.cash.isVisible()
    assert pay.note.text() == cash_only.vc.tr("fees.pay.cash_only")
    taps(pay.cash)
    taps(screen(cash_only).confirm)
    assert screen(cash_only).name == "done"  # no QR screen


def test_quantity_screen_counts_pages_and_copies(kiosk, qtbot):
    taps = Taps(qtbot)
    win = kiosk
    win.show_sample("fee_quantity")
    s = screen(win)
    win.vc.app.journey.session.fee_step.set_quantity(3, 2)  # as the answers would give
    s.retranslate()
    assert s.values["quantity"].text() == "3" and s.values["copies"].text() == "2"
    assert s.amount.text().endswith("10.000 ₫")  # (2000 + 2000 + 1000) x 2
    taps(s.buttons["quantity"][1])
    assert s.amount.text().endswith("12.000 ₫")
    taps(s.buttons["copies"][0])
    assert s.amount.text().endswith("6.000 ₫")
    taps(s.buttons["copies"][0])  # never below 1
    assert s.values["copies"].text() == "1"


def test_fee_step_order_is_data_driven():
    catalogue = load_default_catalogue()
    copy = FeeStep(catalogue.get("2.000815").fee_rule(), None, {"page_count": 4})
    assert copy.first() == QUANTITY and copy.next_after(QUANTITY) == PAY
    assert copy.next_after(PAY) == AFTER and copy.amount == 6000
    with pytest.raises(FeeStepError):
        copy.choose_method(TRANSFER)  # no fee account: cash only
    with pytest.raises(FeeStepError):
        copy.set_quantity(0)
    business = FeeStep(catalogue.get("1.001612").fee_rule(), object(), {})
    assert business.first() == EXEMPTION and business.next_after(EXEMPTION) == PAY
    business.choose_ground("disability")
    assert business.next_after(EXEMPTION) == AFTER and business.complete
    assert business.choice().method == "exempt" and business.choice().fee_vnd == 100000
    business.choose_ground(None)
    assert not business.complete and business.next_after(EXEMPTION) == PAY
