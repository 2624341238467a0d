"""Admin settings: kiosk identity, portal and its credentials, camera, printer, languages,
idle timeout, retention. Saved into the TOML file the kiosk reads at start
(KIOSK_CONFIG, else kiosk.config.default_config_path()); changes apply on restart.

Secrets (the portal token and the signing secret) are never shown again once saved: the
screen shows '••••' and a field to replace them. Every change is audited by the
setting's name (and, for non-secrets, the new value) — never a secret's value.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from kiosk.config import SettingsError, default_config_path, write_settings_file
from kiosk.services.i18n import LANGUAGES
from kiosk.views.registry import register
from kiosk.views.screens.clerk_common import ClerkScreen
from kiosk.views.screens.clerk_samples import sample_login
from kiosk.views.widgets import BigButton, Note, Text

log = logging.getLogger(__name__)

SECRETS = ("portal_token", "secret")
TEXT_SETTINGS = (
    "kiosk_id",
    "portal_url",
    "printer_target",
    "fee_account_number",
    "fee_account_name",
)
INT_SETTINGS = ("camera_index", "idle_timeout_s", "retention_days")
PRINTERS = ("pdf", "system", "escpos")
MASK = "••••"


# --- the settings file (plain functions, no widgets) -------------------------------------


def settings_path(env: dict[str, str] | None = None) -> Path:
    """The file the kiosk reads its settings from (kiosk.config's rule)."""
    env = os.environ if env is None else env
    return Path(env["KIOSK_CONFIG"]) if env.get("KIOSK_CONFIG") else default_config_path()


def save_settings(path: Path, changes: dict[str, Any]) -> None:
    """Merge `changes` into the settings file as the kiosk will read it (SettingsError
    names a wrong setting; the old file then stays as it was)."""
    write_settings_file(
        path,
        changes,
        "Kiosk settings (see kiosk/config.py). Written by the "
        "admin settings screen;\nedits by hand are kept, comments are not.",
    )


def changed_settings(current: Any, form: dict[str, Any]) -> dict[str, Any]:
    """The form's values that differ from the running settings; an empty secret means
    'keep the saved one'."""
    out = {}
    for name, value in form.items():
        if name in SECRETS:
            if value:
                out[name] = value
        elif value != getattr(current, name):
            out[name] = value
    return out


def audit_detail(name: str, value: Any) -> str:
    if name in SECRETS:
        return f"{name} replaced"
    return f"{name} = {value!r}"[:200]


# --- the screen ------------------------------------------------------------------------


class Preview(QLabel):
    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("cameraPreview")
        self.setMinimumSize(320, 180)
        self.setMaximumSize(480, 270)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)
        self.setStyleSheet("background: #1a1a1a; color: #ffffff; border-radius: 12px;")

    def show_frame(self, image: QImage) -> None:
        self.setPixmap(
            QPixmap.fromImage(image).scaled(
                self.size(),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.FastTransformation,
            )
        )


def _sample(vc) -> dict:
    sample_login(vc, admin=True)
    return {}


@register("clerk_settings", audience="clerk", sample=_sample)
class ClerkSettingsScreen(ClerkScreen):
    title_key = "clerk.settings.title"
    admin_only = True

    def __init__(self, vc) -> None:
        super().__init__(vc)
        self.note = Text("", "hint")
        self.body.addWidget(self.note)
        inner = QWidget()
        grid = QGridLayout(inner)
        grid.setColumnStretch(1, 1)
        self.labels: dict[str, Text] = {}
        self.edits: dict[str, QLineEdit] = {}
        self.secret_state: dict[str, Text] = {}
        row = 0

        def add(name: str, widget) -> None:
            nonlocal row
            label = Text("")
            self.labels[name] = label
            grid.addWidget(label, row, 0, Qt.AlignmentFlag.AlignTop)
            if isinstance(widget, QWidget):
                grid.addWidget(widget, row, 1)
            else:
                grid.addLayout(widget, row, 1)
            row += 1

        for name in ("kiosk_id", "portal_url"):
            edit = QLineEdit()
            edit.setObjectName(f"setting_{name}")
            self.edits[name] = edit
            add(name, edit)
        for name in SECRETS:
            line = QHBoxLayout()
            state = Text("")
            state.setObjectName(f"secret_{name}")
            edit = QLineEdit()
            edit.setObjectName(f"setting_{name}")
            edit.setEchoMode(QLineEdit.EchoMode.Password)
            line.addWidget(state)
            line.addWidget(edit, 1)
            self.secret_state[name], self.edits[name] = state, edit
            add(name, line)

        camera = QVBoxLayout()
        cam_row = QHBoxLayout()
        self.edits["camera_index"] = QLineEdit()
        self.edits["camera_index"].setObjectName("setting_camera_index")
        self.edits["camera_index"].setProperty("keyboard", "number")
        self.edits["camera_index"].setFixedWidth(140)
        self.preview_button = BigButton("")
        self.preview_button.setObjectName("toggle")
        self.preview_button.setCheckable(True)
        self.preview_button.toggled.connect(self._preview)
        cam_row.addWidget(self.edits["camera_index"], 0, Qt.AlignmentFlag.AlignTop)
        cam_row.addWidget(self.preview_button, 0, Qt.AlignmentFlag.AlignTop)
        cam_row.addStretch(1)
        self.preview = Preview()
        camera.addLayout(cam_row)
        camera.addWidget(self.preview)  # under its button: the button keeps its words
        add("camera_index", camera)

        printer = QHBoxLayout()
        self.printer = QComboBox()
        self.printer.setObjectName("setting_printer")
        for kind in PRINTERS:
            self.printer.addItem(kind, kind)
        self.edits["printer_target"] = QLineEdit()
        self.edits["printer_target"].setObjectName("setting_printer_target")
        self.test_button = BigButton("", pictogram="print_receipt")
        self.test_button.clicked.connect(self.test_print)
        printer.addWidget(self.printer)
        printer.addWidget(self.edits["printer_target"], 1)
        printer.addWidget(self.test_button)
        add("printer", printer)

        langs = QGridLayout()  # three to a row: the names never squeeze each other
        self.lang_buttons: dict[str, BigButton] = {}
        for i, lang in enumerate(LANGUAGES):
            button = BigButton(vc.app.translator.tr("lang.self", lang))
            button.setObjectName("toggle")
            button.setCheckable(True)
            button.setEnabled(lang != "vi")  # Vietnamese is always offered
            langs.addWidget(button, i // 3, i % 3)
            self.lang_buttons[lang] = button
        add("languages", langs)

        self._add_fee_account(add)

        for name in ("idle_timeout_s", "retention_days"):
            edit = QLineEdit()
            edit.setObjectName(f"setting_{name}")
            edit.setProperty("keyboard", "number")
            edit.setFixedWidth(200)
            self.edits[name] = edit
            add(name, edit)
        self.body.addWidget(inner, 1)
        self.message = Note("")
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.hide()
        self.footer.addWidget(self.message)
        buttons = QHBoxLayout()
        self.back_button = BigButton("", pictogram="back")
        self.back_button.clicked.connect(self.vc.nav.back)
        self.save_button = BigButton("", "primary")
        self.save_button.setObjectName("primary")
        self.save_button.clicked.connect(self.save)
        buttons.addWidget(self.back_button)
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        self.footer.addLayout(buttons)
        self.bridge = None
        self.preview_key = "clerk.settings.preview_off"
        self.saved_secrets: set[str] = set()

    def _add_fee_account(self, add) -> None:
        """The commune's fee account: bank (from the shipped list), number, holder."""
        from kiosk.services.banks import default_banks

        self.fee_bank = QComboBox()
        self.fee_bank.setObjectName("setting_fee_bank_bin")
        self.fee_bank.addItem("", "")
        for bank in default_banks().values():
            self.fee_bank.addItem(f"{bank.short_name} ({bank.bin})", bank.bin)
        add("fee_bank_bin", self.fee_bank)
        for name in ("fee_account_number", "fee_account_name"):
            edit = QLineEdit()
            edit.setObjectName(f"setting_{name}")
            if name == "fee_account_number":
                edit.setProperty("keyboard", "number")
            self.edits[name] = edit
            add(name, edit)
        self.fee_state = Text("", "hint")
        self.fee_state.setObjectName("fee_state")
        add("fee_state", self.fee_state)

    # Showing ---------------------------------------------------------------
    def enter(self, state) -> None:
        super().enter(state)
        if self.desk.clerk is None or not self.desk.clerk.is_admin:
            return
        s = self.vc.app.settings
        for name in TEXT_SETTINGS:
            self.edits[name].setText(str(getattr(s, name)))
        self.fee_bank.setCurrentIndex(max(0, self.fee_bank.findData(s.fee_bank_bin)))
        for name in INT_SETTINGS:
            self.edits[name].setText(str(getattr(s, name)))
        for name in SECRETS:
            self.edits[name].clear()
        self.saved_secrets = {n for n in SECRETS if getattr(s, n)}
        self.printer.setCurrentIndex(max(0, self.printer.findData(s.printer)))
        for lang, button in self.lang_buttons.items():
            button.setChecked(lang in s.languages or lang == "vi")
        self.message.clear()
        self._preview(False)
        self.retranslate()

    def leave(self) -> None:
        self.preview_button.setChecked(False)
        self._stop_preview()

    def retranslate(self) -> None:
        super().retranslate()
        self.note.setText(self.tr("clerk.settings.restart", path=str(settings_path())))
        for name, label in self.labels.items():
            label.setText(self.tr(f"clerk.settings.{name}"))
        for name in SECRETS:
            self.secret_state[name].setText(
                MASK if name in self.saved_secrets else self.tr("clerk.settings.not_set")
            )
            self.edits[name].setPlaceholderText(self.tr("clerk.settings.replace"))
        self.edits["printer_target"].setPlaceholderText(self.tr("clerk.settings.printer_target"))
        self.fee_bank.setItemText(0, self.tr("fees.settings.no_bank"))
        self.fee_state.setText(
            self.tr(
                "fees.settings.cash_only"
                if self.vc.app.settings.fee_account is None
                else "fees.settings.vietqr_on"
            )
        )
        self.preview_button.setText(self.tr("clerk.settings.preview"))
        self.test_button.setText(self.tr("clerk.settings.test_print"))
        self.back_button.setText(self.tr("nav.back"))
        self.save_button.setText(self.tr("clerk.settings.save"))
        if self.bridge is None:
            self.preview.setText(self.tr(self.preview_key))

    # Camera preview ----------------------------------------------------------
    def _preview(self, on: bool) -> None:
        self._stop_preview()
        self.preview.clear()
        if not on:
            self._preview_text("clerk.settings.preview_off")
            return
        factory = self.vc.app.camera
        if factory is None:
            self._preview_text("clerk.settings.no_camera")
            return
        try:
            self.bridge = factory(self)
        except Exception as exc:  # a camera that cannot open is reported, not fatal
            log.warning("camera preview: %s", exc)
            self._preview_text("clerk.settings.no_camera")
            return
        self.bridge.frame.connect(self.preview.show_frame)
        self.bridge.failed.connect(lambda _key, _detail: self._camera_failed())
        self.bridge.start()

    def _preview_text(self, key: str) -> None:
        self.preview_key = key
        self.preview.setText(self.tr(key))

    def _camera_failed(self) -> None:
        self._stop_preview()
        self.preview.clear()
        self._preview_text("clerk.settings.no_camera")

    def _stop_preview(self) -> None:
        if self.bridge is not None:
            self.bridge.stop()
            self.bridge.deleteLater()
            self.bridge = None

    # Acting ------------------------------------------------------------------
    def form(self) -> dict[str, Any]:
        values: dict[str, Any] = {name: self.edits[name].text().strip() for name in TEXT_SETTINGS}
        for name in SECRETS:
            values[name] = self.edits[name].text().strip()
        for name in INT_SETTINGS:
            text = self.edits[name].text().strip()
            values[name] = int(text) if text.isdigit() else text
        values["printer"] = self.printer.currentData()
        values["fee_bank_bin"] = self.fee_bank.currentData()
        values["languages"] = [lang for lang, b in self.lang_buttons.items() if b.isChecked()]
        return values

    def save(self) -> None:
        settings, d = self.vc.app.settings, self.desk
        form = self.form()
        bad = [n for n in INT_SETTINGS if not isinstance(form[n], int)]
        if bad:
            self.message.setText(
                self.tr(
                    "clerk.settings.invalid",
                    detail=", ".join(self.tr(f"clerk.settings.{n}") for n in bad),
                )
            )
            return
        from kiosk.services.banks import fee_account_problems

        problems = fee_account_problems(
            form["fee_bank_bin"], form["fee_account_number"], form["fee_account_name"]
        )
        if problems:
            self.message.setText("\n".join(self.tr(key) for _name, key in problems))
            return
        changes = changed_settings(settings, form)
        if not changes:
            self.message.setText(self.tr("clerk.settings.nothing"))
            return
        path = settings_path()

        def work():
            save_settings(path, changes)
            for name, value in changes.items():
                d.audit("settings.change", detail=audit_detail(name, value))
            return sorted(changes)

        self.vc.tasks.run(work, self._saved, self._failed)

    def _saved(self, names: list[str]) -> None:
        for name in SECRETS:
            if name in names:
                self.saved_secrets.add(name)
            self.edits[name].clear()
        self.retranslate()
        self.message.setText(self.tr("clerk.settings.saved", names=", ".join(names)))

    def _failed(self, error: Exception) -> None:
        if isinstance(error, SettingsError):
            # The message names the setting and what is allowed; it never holds a secret
            # unless the secret itself was refused, so secrets are masked out.
            detail = str(error)
            for name in SECRETS:
                value = self.edits[name].text()
                if value:
                    detail = detail.replace(value, MASK)
            self.message.setText(self.tr("clerk.settings.invalid", detail=detail))
        else:
            log.error("settings not saved: %s", type(error).__name__, exc_info=error)
            self.message.setText(self.tr("clerk.settings.failed"))

    def test_print(self) -> None:
        from kiosk.services.receipts import build_receipt_pdf, sample_receipt

        app, d = self.vc.app, self.desk
        kind, target = self.printer.currentData(), self.edits["printer_target"].text().strip()

        def work():
            try:
                printer = app.printers(kind, target)
                pdf = build_receipt_pdf(
                    sample_receipt(app.session.lang), app.settings.paper, app.translator
                )
                printer.print_pdf(pdf, "test-print")
            except Exception as exc:
                d.audit(
                    "settings.test_print.failed",
                    detail=f"{kind}: {getattr(exc, 'detail', exc)}"[:200],
                )
                raise
            d.audit("settings.test_print", detail=kind)

        def failed(error: Exception) -> None:
            key = getattr(error, "key", None)
            self.message.setText(
                self.tr(key) if key else self.tr("clerk.settings.test_failed", detail=str(error))
            )

        self.message.setText(self.tr("clerk.detail.printing"))
        self.vc.tasks.run(
            work, lambda _: self.message.setText(self.tr("clerk.settings.test_ok")), failed
        )

    def wipe(self) -> None:
        super().wipe()
        for name in SECRETS:
            self.edits[name].clear()
        self._stop_preview()
