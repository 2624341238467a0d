"""Every pictogram is a valid SVG that QtSvg renders without complaint and draws
something visible; every name the screens and the catalogue use is shipped."""

from __future__ import annotations

import os
import re
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from catalogue_helpers import PICTOGRAMS, PROCEDURES
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

from kiosk.services.catalogue import CATEGORIES, GENERIC_PICTOGRAM, load_catalogue

REQUIRED = {
    # home tiles
    "submit_dossier", "check_status", "queue_ticket", "learn_procedure", "rate_service", "language",
    # wizard steps
    "consent", "identify_card", "manual_entry", "form_field", "review", "confirm", "done",
    "print_receipt", "document_photo", "camera_missing", "warning", "help_clerk",
    # dossier states
    "received", "processing", "needs_info", "completed", "rejected", "waiting_to_send",
    # satisfaction and reasons
    "face_very_happy", "face_happy", "face_unhappy", "face_very_unhappy",
    "reason_waiting_time", "reason_staff", "reason_kiosk_hard", "reason_fees",
    # navigation
    "back", "cancel", "repeat_audio", "volume", "keyboard",
    GENERIC_PICTOGRAM, *CATEGORIES,
}  # fmt: skip

ALL = sorted(PICTOGRAMS.glob("*.svg"))


def test_every_needed_name_is_shipped():
    names = {p.stem for p in ALL}
    assert names >= REQUIRED, sorted(REQUIRED - names)
    used = {p.pictogram for p in load_catalogue(PROCEDURES, PICTOGRAMS)}
    assert used <= names
    assert len(used) == len(list(PROCEDURES.glob("*.json"))), "one pictogram per procedure"


@pytest.mark.parametrize("path", ALL, ids=[p.stem for p in ALL])
def test_pictogram_is_valid_and_plain(path: Path):
    text = path.read_text(encoding="utf-8")
    assert 'viewBox="0 0 128 128"' in text
    assert "<text" not in text, "no words in a pictogram"
    assert "<image" not in text and "href" not in text, "self-contained"
    colours = {c.upper() for c in re.findall(r"#[0-9A-Fa-f]{6}", text)} - {"#FFFFFF", "#1B2A41"}
    assert len(colours) <= 3, f"flat colours only: {sorted(colours)}"
    assert QSvgRenderer(str(path)).isValid()


@pytest.mark.parametrize("path", ALL, ids=[p.stem for p in ALL])
def test_pictogram_renders_without_warnings(qapp, qtlog, path: Path):
    renderer = QSvgRenderer(str(path))
    assert renderer.isValid()
    image = QImage(64, 64, QImage.Format.Format_ARGB32)
    image.fill(QColor(0, 0, 0, 0))
    painter = QPainter(image)
    renderer.render(painter, QRectF(0, 0, 64, 64))
    painter.end()
    assert not [r.message for r in qtlog.records if "svg" in r.message.lower()]
    # something visible, neither a speck nor a filled square
    opaque = sum(
        1 for y in range(0, 64, 2) for x in range(0, 64, 2) if image.pixelColor(x, y).alpha() > 128
    )
    assert 0.08 < opaque / (32 * 32) < 0.95, opaque
    # the dark outline colour is present: contrast against the light screen background
    dark = sum(
        1
        for y in range(64)
        for x in range(64)
        if (c := image.pixelColor(x, y)).alpha() > 200 and c.lightness() < 80
    )
    assert dark > 40


def test_a_broken_svg_is_detected(qapp, tmp_path: Path):
    """The check above can fail: a truncated file is not valid."""
    bad = tmp_path / "bad.svg"
    bad.write_text(ALL[0].read_text(encoding="utf-8")[:120], encoding="utf-8")
    assert not QSvgRenderer(str(bad)).isValid()


def test_a_renderer_warning_would_be_seen(qapp, qtlog, tmp_path: Path):
    """The warning check above can fail: QtSvg's complaints reach qtlog."""
    odd = tmp_path / "odd.svg"
    odd.write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 128 128">'
        '<circle cx="64" cy="64" r="20" fill="url(#missing)"/></svg>',
        encoding="utf-8",
    )
    QSvgRenderer(str(odd))
    assert [r.message for r in qtlog.records if "svg" in r.message.lower()]


def test_the_business_lines_each_have_a_pictogram():
    """A category chosen from a list (the household business's line of trade) is drawn,
    so a citizen who reads little can pick it."""
    import json

    from kiosk.paths import resource

    pictos = json.loads(resource("choice_pictograms.json").read_text("utf-8"))
    proc = json.loads(
        resource("procedures", "household_business_registration.json").read_text("utf-8")
    )
    [field] = [f for f in proc["fields"] if f["key"] == "business_line"]
    keys = [c["key"] for c in field["choices"]]
    assert len(keys) >= 5
    assert [k for k in keys if k not in pictos] == []
    for key in keys:
        assert resource("pictograms", f"{pictos[key]}.svg").is_file()
