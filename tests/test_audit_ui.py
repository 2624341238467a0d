"""The accessibility audit: it passes on every screen, and it catches each kind of fault."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from kiosk.qa.audit import audit_widget_tree, contrast
from kiosk.services.i18n import Translator

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(900)
def test_audit_ui_passes_on_every_screen_size_and_language():
    proc = subprocess.run(
        [sys.executable, "-m", "kiosk", "--lang", "en", "audit-ui"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "0 violation(s)" in proc.stdout


def test_contrast_formula():
    from PySide6.QtGui import QColor

    assert round(contrast(QColor("black"), QColor("white")), 1) == 21.0
    assert round(contrast(QColor("#777777"), QColor("white")), 2) == 4.48


def test_each_fault_is_reported(kiosk_qapp, qtbot):
    root = QWidget()
    root.setStyleSheet("")
    layout = QVBoxLayout(root)
    tiny = QPushButton("OK")
    tiny.setStyleSheet("min-height: 30px; max-height: 30px; min-width: 30px; max-width: 30px;")
    pale = QLabel("Mờ nhạt")
    pale.setStyleSheet("color: #aaaaaa; background: #ffffff;")
    small = QLabel("Chữ nhỏ")
    small.setStyleSheet("font-size: 10pt;")
    clipped = QLabel("Một câu rất dài không thể vừa trong một nhãn hẹp như thế này")
    clipped.setFixedWidth(120)
    glyph = QLabel("中文")  # not in the shipped Noto Sans
    for w in (tiny, pale, small, clipped, glyph):
        layout.addWidget(w)
    qtbot.addWidget(root)
    root.resize(800, 600)
    root.show()
    kiosk_qapp.processEvents()
    found = audit_widget_tree(
        root, "test", "800x600", "vi", Translator.from_resources(), "Noto Sans"
    )
    rules = {(v.rule, v.widget.split(" ")[0]) for v in found}
    assert ("touch-target", "QPushButton#-") in rules
    assert any(v.rule == "contrast" and "Mờ nhạt" in v.widget for v in found)
    assert any(v.rule == "text-size" and "Chữ nhỏ" in v.widget for v in found)
    assert any(v.rule == "clipped" and "Một câu" in v.widget for v in found)
    assert any(v.rule == "glyph" for v in found)
