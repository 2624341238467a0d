"""Taps from the home screen to the done screen, for every procedure.

Drives the real widgets of the kiosk window (offscreen), as a citizen would: the sample ID
card in front of the simulated camera, a sample page for each document photo, and the
shortest valid answer to each question (a choice is one tap; a date is chosen on the date
picker; a place is the kiosk's own commune, or a province and a commune from its list; a
question that may be left out is left out; typed answers go through the on-screen keyboard,
key by key; a fee is paid in cash with no exemption). Prints, per procedure, all taps, of
which on the keyboard, and of which letters of the citizen's own words (a name, what they
sell: outside the target; the "Xong" after them is counted).

    .venv/bin/python benchmarks/bench_taps.py [--only 1.001193] [--json]

Target (issue 15): every procedure in at most 25 taps plus the letters of the citizen's own
words (birth registration: of the child's name).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

TARGET = 25
CHILD_NAME = "Lò Văn Quý"  # the answer to a name question: its letters are counted apart
SHORT_TEXT = "Nà Pò"  # the answer to any other free-text question
# Free text that is the citizen's own words (beside names): its letters are counted apart.
OWN_WORDS = {"business_registration_number", "products", "shop_address"}
ANSWERS = {"phone": "0912345678", "id_number": "001190012345", "number": "2"}
PARTNER_CARD = (
    "010092004321|012345679|Lò Văn Páo|04031992|Nam|"
    "Thôn Nà Pò, xã Bản Phố, huyện Bắc Hà, tỉnh Lào Cai|10052022"
)
MARKS = {"\u0301": "acute", "\u0300": "grave", "\u0309": "hook", "\u0303": "tilde", "\u0323": "dot"}
SHAPED = {"ă": "ă", "â": "â", "đ": "đ", "ê": "ê", "ô": "ô", "ơ": "ơ", "ư": "ư"}


@dataclass
class Count:
    procedure: str
    taps: int = 0
    keyboard: int = 0
    letters: int = 0
    reached_done: bool = False
    seconds: float = 0.0


class Citizen:
    """Taps real buttons in the window and counts them."""

    def __init__(self, app, window, count: Count) -> None:
        self.app, self.window, self.count = app, window, count

    def settle(self, until=None, seconds: float = 8.0) -> None:
        deadline = time.monotonic() + seconds
        while True:
            self.app.processEvents()
            if until is None or until() or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        self.app.processEvents()

    def screen(self):
        return self.window.current_screen()

    def tap(self, button, keyboard: bool = False, letter: bool = False) -> None:
        from PySide6.QtCore import Qt
        from PySide6.QtTest import QTest

        if button is None or not button.isVisible() or not button.isEnabled():
            name = getattr(button, "objectName", lambda: "?")()
            raise RuntimeError(f"{self.count.procedure}: cannot tap {name} on {self.where()}")
        current = self.screen()
        if current is not None:
            current.show_in_view(button)
        QTest.mouseClick(button, Qt.MouseButton.LeftButton)
        self.count.taps += 1
        self.count.keyboard += keyboard
        self.count.letters += letter
        self.settle()

    def where(self) -> str:
        return self.window.nav.current or "?"

    # The on-screen keyboard -----------------------------------------------------------
    def type(self, text: str, counts_as_letters: bool = False) -> None:
        kb = self.window.keyboard
        if not kb.isVisible():
            raise RuntimeError(f"{self.count.procedure}: no keyboard on {self.where()}")
        for ch in text:
            self.type_char(kb, ch, counts_as_letters)

    def type_char(self, kb, ch: str, letters: bool) -> None:
        if ch == " ":
            self.tap(kb.button("space"), keyboard=True, letter=letters)
            return
        base, tone = ch, None
        decomposed = unicodedata.normalize("NFD", ch)
        for mark, name in MARKS.items():
            if mark in decomposed:
                tone = name
                base = unicodedata.normalize("NFC", decomposed.replace(mark, ""))
        lower = base.lower()
        if base != lower and kb.shift == 0:
            self.tap(kb.button("shift"), keyboard=True, letter=letters)
        if kb.mode == "numeric":
            self.tap(kb.button(lower), keyboard=True)
            return
        self.tap(kb.button(SHAPED.get(lower, lower)), keyboard=True, letter=letters)
        if tone:
            self.tap(kb.button(f"tone.{tone}"), keyboard=True, letter=letters)

    def done_key(self) -> None:
        self.tap(self.window.keyboard.button("done"), keyboard=True)


def walk(app, window, code: str) -> Count:
    count = Count(code)
    you = Citizen(app, window, count)
    t0 = time.perf_counter()
    window.nav.home()
    you.settle()
    you.tap(you.screen().tiles["home.submit"])
    you.tap(you.screen().tile_for(code))
    you.tap(you.screen().start)
    you.tap(you.screen().agree)
    # The card is in front of the camera: the kiosk reads it by itself.
    you.settle(lambda: window.nav.current == "identify_confirm", seconds=20)
    if window.nav.current != "identify_confirm":
        raise RuntimeError(f"{code}: the card was not read ({window.nav.current})")
    you.tap(you.screen().yes)
    proc = window.vc.app.catalogue.get(code)
    guard = 0
    while window.nav.current in STEPS and guard < 80:
        guard += 1
        STEPS[window.nav.current](you, window.current_screen())
    if window.nav.current != "review":
        raise RuntimeError(f"{code}: expected the review, got {window.nav.current}")
    you.tap(you.screen().confirm)
    you.settle(lambda: window.nav.current == "done", seconds=20)
    count.reached_done = window.nav.current == "done"
    count.seconds = time.perf_counter() - t0
    del proc
    return count


def _position(you: Citizen) -> tuple:
    """Which question is on screen (the screen's name, and the question's key)."""
    screen = you.screen()
    field = getattr(screen, "field", None) if you.window.nav.current == "form" else None
    return you.window.nav.current, field.key if field is not None else None


def own_words(field) -> bool:
    """An answer only the citizen knows, that no card, catalogue or list can give: a name
    (the child's, the business's), what they sell and where they sell it online."""
    return "name" in field.key or field.key in OWN_WORDS


def answer_question(you: Citizen, form) -> None:
    field = form.field
    before = _position(you)
    scan = getattr(form, "scan_other", None)
    if scan is not None and scan.isVisible():
        # The partner's card answers the questions about them: held to the camera.
        you.tap(scan)
        you.settle(lambda: you.window.nav.current == "form", seconds=20)
        if you.window.nav.current != "form":
            raise RuntimeError(f"{you.count.procedure}: the other card was not read")
        return
    if field.type in ("choice", "checkbox"):
        buttons = form.choice_buttons
        key = next(iter(buttons)) if field.type == "choice" else "no"
        if field.type == "checkbox" and field.required:
            key = "yes"
        you.tap(buttons[key])
    elif getattr(form, "date_picker", None) is not None and form.date_picker.isVisible():
        picker = form.date_picker
        if picker.value() is not None:
            you.tap(form.next)
        else:
            you.tap(picker.tap("day", 1))
    elif getattr(form, "place_picker", None) is not None and form.place_picker.isVisible():
        picker = form.place_picker
        if picker.suggestion_buttons:
            you.tap(picker.suggestion_buttons[0])
        else:
            if picker.province is None:
                you.tap(picker.province_buttons[next(iter(picker.province_buttons))])
            you.tap(picker.commune_buttons[picker.matches()[0]])
    else:
        edit = form.edit
        if not field.required and not edit.text():
            you.tap(form.next)  # the shortest valid answer to a question that may be left out
        elif not edit.text():
            if not you.window.keyboard.isVisible():
                # The keyboard opens with the question (the field has the focus); a window
                # offscreen gets no focus events, so it is opened as the focus would.
                you.window.keyboard_ctl.follow(edit)
                you.settle()
            if field.type == "date":
                answer = "01/01/2020"
            elif field.type == "number":
                low = field.min if isinstance(field.min, int | float) else 1
                answer = str(int(low) if float(low).is_integer() else low)
            elif field.type in ANSWERS:
                answer = ANSWERS[field.type]
            elif "name" in field.key:
                answer = CHILD_NAME
            else:
                answer = SHORT_TEXT
            you.type(answer, counts_as_letters=own_words(field))
        if _position(you) == before and you.window.keyboard.isVisible():
            you.done_key()
        if _position(you) == before:
            you.tap(form.next)
    if _position(you) == before:
        raise RuntimeError(f"{you.count.procedure}: stuck on {field.key}: {form.error.text()}")


def photograph(you: Citizen, screen) -> None:
    doc = screen.document
    if not doc.required and screen.skip_rest.isVisible():
        you.tap(screen.skip_rest)  # none of the optional papers left: one tap past them
        return
    if not doc.required and screen.skip.isVisible():
        you.tap(screen.skip)
        return
    if screen.take.isVisible():
        you.settle(lambda: screen.view.outline is not None and screen.view.outline[3], seconds=10)
        you.tap(screen.take)
        you.settle(lambda: screen.use.isVisible() or bool(screen.reason.text()), seconds=15)
        you.tap(screen.use)
        you.settle(lambda: you.window.nav.current != "document" or screen.document is not doc)
    else:
        you.tap(screen.skip)


def no_exemption(you: Citizen, screen) -> None:
    you.tap(screen.tiles[None])  # the citizen claims no exemption: the fee is due


def quantity(you: Citizen, screen) -> None:
    you.tap(screen.next_button)  # the count comes from the answers


def pay_cash(you: Citizen, screen) -> None:
    you.tap(screen.cash)


STEPS = {
    "form": answer_question,
    "document": photograph,
    "fee_exemption": no_exemption,
    "fee_quantity": quantity,
    "fee_pay": pay_cash,
}


def build(data_dir: Path):
    from kiosk.config import load_settings
    from kiosk.context import build_context
    from kiosk.hardware.camera import SimulatedCamera
    from kiosk.paths import resource
    from kiosk.qt import stage
    from kiosk.qt.app import ensure_app
    from kiosk.qt.camera_bridge import bridge_factory
    from kiosk.qt.document_bridge import document_bridge_factory
    from kiosk.qt.tasks import TaskRunner

    app = ensure_app(offscreen=True)
    settings = load_settings(
        env={}, config_path=data_dir / "none.toml", data_dir=str(data_dir), demo="true"
    )
    ctx = build_context(settings)
    card = resource("samples", "camera")
    page = resource("samples", "document")
    partner = partner_card(data_dir)
    shown: dict = {}  # the window, once built: which card is in front of the camera

    def camera():
        other = shown.get("window") is not None and shown["window"].nav.current == "identify_other"
        return SimulatedCamera(partner if other else card)

    ctx.camera = bridge_factory(camera)
    ctx.document_camera = document_bridge_factory(lambda: SimulatedCamera(page))
    tasks = TaskRunner()
    window = stage.build_window(ctx, tasks, 1280, 800, speech=False)
    window.activateWindow()
    shown["window"] = window
    return app, ctx, window


def partner_card(folder: Path) -> Path:
    """The QR code of another person's card (the partner at a marriage), as a photo."""
    import segno

    path = folder / "partner_card.png"
    segno.make(PARTNER_CARD, encoding="utf-8", error="m", micro=False).save(
        str(path), scale=6, border=6
    )
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="procedure codes (default: all)")
    parser.add_argument("--json", action="store_true", help="one JSON line per procedure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kiosk-taps-") as tmp:
        app, ctx, window = build(Path(tmp))
        codes = [p.code for p in ctx.catalogue.visible(None) if not p.withdrawn]
        if args.only:
            codes = [c for c in codes if c in args.only]
        results: list[Count] = []
        failed = 0
        try:
            for code in codes:
                try:
                    results.append(walk(app, window, code))
                except RuntimeError as exc:
                    failed += 1
                    print(f"{code}: FAILED: {exc}", file=sys.stderr)
                    window.nav.cancel()
        finally:
            window.close()
            ctx.close()
    for r in results:
        if args.json:
            print(json.dumps(r.__dict__, ensure_ascii=False))
            continue
        title = ctx.catalogue.get(r.procedure).title("vi")
        beyond = r.taps - r.letters
        mark = f"  target <= {TARGET} + letters: {'met' if beyond <= TARGET else 'NOT met'}"
        print(
            f"{r.procedure:<12} {title[:44]:<44} taps {r.taps:>3}  keyboard {r.keyboard:>3}  "
            f"own letters {r.letters:>3}  without letters {beyond:>3}"
            f"{'' if r.reached_done else '  (done screen not reached)'}{mark}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
