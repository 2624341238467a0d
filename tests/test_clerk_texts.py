"""The clerk reads sentences in their language: field labels, not field paths; no outcome
names, status codes or English on a Vietnamese screen; a screen that fails to draw says so."""

from __future__ import annotations

import logging
import re

import pytest
from PySide6.QtWidgets import QLabel

from kiosk.qt import stage
from kiosk.qt.tasks import TaskRunner
from kiosk.services.i18n import Translator
from kiosk.views import clerk_texts as texts

ENGLISH = re.compile(
    r"\b(delivered|transient|needs_clerk|auth_blocked|rejected|required|must|invalid|"
    r"signature|image/jpeg|True|False|None)\b"
)


@pytest.fixture
def window(kiosk_qapp, tmp_path):
    from kiosk.config import load_settings
    from kiosk.context import build_context

    settings = load_settings(
        env={}, config_path=tmp_path / "none.toml", data_dir=str(tmp_path), demo="true"
    )
    ctx = build_context(settings)
    tasks = TaskRunner()
    tasks.inline = True
    win = stage.build_window(ctx, tasks, 1280, 800, speech=False)
    yield win
    win.close()
    win.deleteLater()
    stage.settle()
    ctx.close()


def _shown_text(screen) -> str:
    return "\n".join(
        label.text() for label in screen.findChildren(QLabel) if label.isVisibleTo(screen)
    )


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_dossier_detail_reads_as_sentences(window, lang):
    screen = stage.stage(window, "clerk_dossier", lang, keyboard=False)
    shown = _shown_text(screen)
    tr = window.vc.tr
    # The portal's complaint names the field by its label, in a sentence.
    proc = window.vc.app.catalogue.get("2.000815")  # the sample dossier's procedure
    label = next(f.label(lang) for f in proc.fields if f.key == "phone")
    assert tr("screens.clerk.problem.other", field=label) in shown.splitlines()
    assert "fields." not in shown and "applicant." not in shown
    assert not re.search(r"\b(4\d\d|5\d\d)\b", shown), "an HTTP status on the screen"
    if lang == "vi":
        assert not ENGLISH.search(shown), ENGLISH.search(shown).group(0)
    # The sample dossier has a document photo, listed by the document's name.
    doc = proc.required_documents[0].title(lang)
    assert any(line.startswith(f"{doc}: ") for line in shown.splitlines())
    assert tr("screens.clerk.attempt.needs_clerk", time="").strip(": ") in shown


def test_each_outcome_and_problem_has_a_sentence():
    translator = Translator.from_resources()
    for lang in ("vi", "en"):

        def tr(key, lang=lang, **values):
            return translator.tr(key, lang, **values)

        for outcome in (*texts.OUTCOMES, "something new"):
            line = texts.attempt_line(outcome, "08:00", tr)
            assert line.startswith("08:00: ") and "screens." not in line
        for message in ("required", "must match ^0", "must be a date YYYY-MM-DD", "odd"):
            (line,) = texts.portal_error_lines(
                [{"field": "fields.phone", "message": message}], {"phone": "Số điện thoại"}, tr
            )
            assert line.startswith("Số điện thoại: ") and message not in line
    assert not translator.missing


def test_a_screen_that_fails_to_draw_tells_the_clerk_and_logs(window, monkeypatch, caplog):
    from kiosk.views.screens.clerk_dossiers import ClerkDossierScreen

    def broken(self, detail):
        raise TypeError("boom")

    monkeypatch.setattr(ClerkDossierScreen, "_show", broken)
    with caplog.at_level(logging.ERROR):
        screen = stage.stage(window, "clerk_dossier", "vi", keyboard=False)
    assert screen.render_error.isVisibleTo(screen)
    assert screen.render_error.text() == window.vc.tr("screens.clerk.render_failed")
    assert any("could not be drawn: TypeError" in r.getMessage() for r in caplog.records)


STATUS_WORDS = re.compile(
    r"\b(queued|sending|delivered|needs_clerk|auth_blocked|handled|received|forwarded|"
    r"answered|closed|recorded|pending|draft|approved|returned|exempt|cash|vietqr_transfer)\b"
)


def _all_text(screen) -> str:
    from PySide6.QtWidgets import QAbstractButton, QTableWidget

    parts = [label.text() for label in screen.findChildren(QLabel) if label.isVisibleTo(screen)]
    parts += [b.text() for b in screen.findChildren(QAbstractButton) if b.isVisibleTo(screen)]
    for table in screen.findChildren(QTableWidget):
        for row in range(table.rowCount()):
            for col in range(table.columnCount()):
                item = table.item(row, col)
                parts.append(item.text() if item is not None else "")
    return "\n".join(parts)


def test_no_clerk_screen_shows_a_status_code_in_vietnamese(window):
    """Every clerk screen with its sample data, in Vietnamese: the states of dossiers,
    payments, feedback and translations read as words, never as their code names."""
    from kiosk.views import registry

    found = {}
    for name in sorted(n for n in registry.names() if n.startswith(("clerk_", "studio"))):
        shown = _all_text(stage.stage(window, name, "vi", keyboard=False))
        hit = STATUS_WORDS.search(shown)
        if hit:
            found[name] = hit.group(0)
    assert found == {}


def test_the_studio_item_names_its_screen_in_words(window):
    from kiosk.views import registry

    screen = stage.stage(window, "studio_item", "vi", keyboard=False)
    placeholder = screen.thumbnail.text()
    if screen.thumbnail.pixmap().isNull():
        assert placeholder and placeholder not in registry.names()


def test_the_clerk_bar_follows_the_language(window):
    """The clerk bar speaks the screen's language as soon as the language changes, not
    only at the next news from the sync worker."""
    bar = window.clerk_bar
    stage.stage(window, "clerk_home", "vi", keyboard=False)
    vi = bar.waiting.text()
    stage.stage(window, "clerk_home", "en", keyboard=False)
    assert bar.waiting.text() != vi
    assert bar.waiting.text() == window.vc.app.translator.tr("outbox.bar.none_waiting", "en")


def test_the_studio_keeps_the_vietnamese_text_in_view_while_typing(window):
    """At 1280×800 the keyboard covers the item's header: the text being translated is
    repeated above the buttons for as long as the keyboard is up."""
    screen = stage.stage(window, "studio_item", "vi", keyboard=True)
    assert window.keyboard.isVisible()
    reminder = screen.source_reminder
    assert reminder.isVisible() and screen.source.text() in reminder.text()
    top = reminder.mapTo(window, reminder.rect().topLeft()).y()
    assert (
        top + reminder.height()
        <= window.keyboard.mapTo(window, window.keyboard.rect().topLeft()).y()
    )
    assert not screen.list_button.isVisible()  # its room, while typing
    stage.stage(window, "studio_item", "vi", keyboard=False)
    window.keyboard.hide()
    stage.settle()
    assert not screen.source_reminder.isVisible() and screen.list_button.isVisible()


@pytest.mark.parametrize(
    "screen_name, field",
    [("clerk_fees", "amount"), ("clerk_login", "pin"), ("clerk_queue", "counter")],
)
def test_number_fields_get_the_digit_pad_without_a_slash(window, screen_name, field):
    """An amount, a PIN or a counter number has no "/": the pad does not offer one."""
    screen = stage.stage(window, screen_name, "vi", keyboard=False)
    if screen_name == "clerk_login":
        screen = window.screen_widget("clerk_login")
    edit = getattr(screen, field)
    edit.setFocus()
    window.keyboard_ctl.follow(edit)
    stage.settle()
    kb = window.keyboard
    assert kb.isVisible() and kb.mode == "numeric"
    assert not kb.num_keys["/"].isVisible()
