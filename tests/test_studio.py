"""The language studio end to end: an admin grants roles, a translator translates and records
with the (simulated) microphone, a second person approves, the work is exported as a pack,
imported into a second kiosk, and a citizen's journey there shows the translation on every
screen and plays the recordings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from kiosk.config import load_settings
from kiosk.context import build_context
from kiosk.hardware.microphone import SimulatedMicrophone
from kiosk.paths import resource
from kiosk.qt.speech_bridge import install_speech
from kiosk.qt.tasks import TaskRunner
from kiosk.services.clerks import NotAllowed
from kiosk.services.langpacks import PackStore, read_pack, source_hash
from kiosk.services.models import Translation
from kiosk.services.studio import APPROVED, DRAFT, STALE, Studio, StudioError
from kiosk.views.screens.clerk_common import desk
from kiosk.views.shell import MainWindow

ROOT = Path(__file__).resolve().parent.parent
LANG = "tyz"
ADMIN, LAN, HOA = ("admin", "482913"), ("lan", "2468"), ("hoa", "1357")
VOICE = resource("samples", "voice", "sample.wav")


def tày(vi: str) -> str:
    return f"[tyz] {vi}"


class Taps:
    def __init__(self, qtbot) -> None:
        self.qtbot = qtbot

    def __call__(self, widget) -> None:
        QApplication.processEvents()
        assert widget.isVisible() and widget.isEnabled(), f"{widget.objectName()} not tappable"
        self.qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def make_window(data_dir: Path, qtbot):
    settings = load_settings(
        env={},
        config_path=data_dir / "none.toml",
        data_dir=str(data_dir),
        speech="mock",
        microphone="simulated",
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


def login(win, taps, who) -> None:
    win.nav.go("clerk_login")
    screen = win.current_screen()
    screen.username.setText(who[0])
    screen.pin.setText(who[1])
    taps(screen.login)
    assert win.current_screen().name == "clerk_home"


def logout(win, taps) -> None:
    taps(win.current_screen().logout_button)


@pytest.fixture
def commune(kiosk_qapp, tmp_path, qtbot):
    made = []

    def start(name: str):
        folder = tmp_path / name
        folder.mkdir()
        win, ctx = make_window(folder, qtbot)
        made.append(ctx)
        return win, ctx

    yield start
    for ctx in made:
        ctx.close()


def test_studio_translate_record_approve_export_import_and_a_citizen_journey(commune, qtbot):
    taps = Taps(qtbot)
    win, ctx = commune("commune-a")
    clerks = desk(ctx).clerks
    clerks.create(ADMIN[0], "Nguyễn Văn Quản", "admin", ADMIN[1])
    clerks.create(LAN[0], "Lò Thị Lan", "clerk", LAN[1])
    clerks.create(HOA[0], "Hoàng Văn Hoà", "clerk", HOA[1])

    # The admin grants the roles on the roles screen.
    login(win, taps, ADMIN)
    assert not win.current_screen().tiles["studio"].isVisible()
    taps(win.current_screen().tiles["roles"])
    roles = win.current_screen()
    assert roles.name == "studio_roles"
    taps(roles.toggles[("lan", "translator")])
    taps(roles.toggles[("hoa", "reviewer")])
    logout(win, taps)

    # The translator: home title typed and the home prompt recorded, on the widgets.
    login(win, taps, LAN)
    taps(win.current_screen().tiles["studio"])
    studio_screen = win.current_screen()
    assert studio_screen.name == "studio"
    taps(studio_screen.lang_buttons[LANG])
    assert studio_screen.rows[0].startswith("i18n:")  # home texts first
    items = ctx.studio.items()
    assert all(not it.item.startswith("i18n:clerk.") for it in items)
    for key in ("home.title", "home.prompt"):
        studio_screen = win.current_screen()
        row = studio_screen.rows.index(f"i18n:{key}")
        studio_screen.open_row(row)
        item = win.current_screen()
        assert item.name == "studio_item" and item.source.text() == ctx.translator.tr(key, "vi")
        assert not item.approve_button.isVisible()  # a translator does not review
        item.text.setText(tày(item.source.text()))
        taps(item.record_button)
        item.recorder.microphone._started -= 3  # three seconds spoken into the simulated microphone
        taps(item.record_button)
        assert item.take is not None, item.message.text()
        taps(item.play_button)
        played = ctx.speech.engine.spoken[-1]
        assert played.source == "recording" and played.key == "recording.playback"
        taps(item.save_button)
        assert ctx.studio.entries(LANG)[f"i18n:{key}"].state == DRAFT
        taps(item.list_button)

    # Everything else the citizens meet, through the same service the screen calls.
    lan = clerks.verify(*LAN)
    take = VOICE.read_bytes()
    for it in items:
        if it.item in ("i18n:home.title", "i18n:home.prompt"):
            continue
        recording = take if it.item.endswith(".prompt") else None
        ctx.studio.save_draft(LANG, it.item, tày(it.source), lan, recording)
    with pytest.raises(NotAllowed):
        ctx.studio.review(LANG, "i18n:home.hint", lan, approve=True)
    logout(win, taps)

    # Nothing reaches citizens before review.
    assert ctx.translator.tr("home.title", LANG) == ctx.translator.tr("home.title", "vi")

    # The reviewer approves on the widgets, the rest through the service.
    login(win, taps, HOA)
    taps(win.current_screen().tiles["studio"])
    taps(win.current_screen().lang_buttons[LANG])
    screen = win.current_screen()
    screen.open_row(screen.rows.index("i18n:home.title"))
    item = win.current_screen()
    assert item.approve_button.isVisible() and not item.save_button.isVisible()
    taps(item.approve_button)
    assert ctx.studio.entries(LANG)["i18n:home.title"].state == APPROVED
    # Approved work reaches citizens at once.
    assert ctx.translator.tr("home.title", LANG) == tày(ctx.translator.tr("home.title", "vi"))
    hoa = clerks.verify(*HOA)
    for it in items:
        if ctx.studio.entries(LANG)[it.item].state == DRAFT:
            ctx.studio.review(LANG, it.item, hoa, approve=True)
    logout(win, taps)

    # Exported as a pack, imported into another commune's kiosk.
    pack = ctx.settings.data_dir.parent / "tay.zip"
    exported = cli(ctx.settings.data_dir, "export", "--lang", LANG, "--out", str(pack))
    assert exported.returncode == 0, exported.stderr
    contents = read_pack(pack)
    assert contents.manifest["translators"] == ["lan"] and contents.manifest["reviewers"] == ["hoa"]
    assert "home.prompt" in contents.recordings
    other = ctx.settings.data_dir.parent / "commune-b"
    other.mkdir()
    imported = cli(other, "import", str(pack))
    assert imported.returncode == 0, imported.stderr

    # A citizen at the second kiosk, in Tày: every screen's title translated, every
    # screen's prompt played from the pack's recordings.
    win_b, ctx_b = make_window(other, qtbot)
    try:
        walk_in_tay(win_b, ctx_b, taps)
    finally:
        ctx_b.close()


def walk_in_tay(win, ctx, taps) -> None:
    from tests.test_journey import MARITAL, answer_marital, start_procedure, type_manual

    engine = ctx.speech.engine
    seen: list[tuple[str, str]] = []

    def look() -> None:
        screen = win.current_screen()
        if screen.title_key and screen.title.isVisible():
            seen.append((screen.name, screen.title.text()))

    taps(win.top.lang_buttons[LANG])
    look()

    original_go = win.nav.go

    def go_and_look(name, **state):
        original_go(name, **state)
        look()

    win.nav.go = go_and_look
    start_procedure(win, taps, MARITAL)
    look()
    taps(win.current_screen().manual_button)
    look()
    type_manual(win, taps)
    look()
    answer_marital(win, taps)
    look()
    taps(win.current_screen().confirm)
    look()
    assert win.current_screen().name == "done"
    vi = ctx.translator.catalogues["vi"]
    names = {name for name, _ in seen}
    assert {"home", "procedures", "consent", "review", "done"} <= names, names
    for name, text in seen:
        assert text.startswith("[tyz] "), (name, text)
    prompts = [s for s in engine.spoken if s.lang == LANG and s.key.endswith(".prompt")]
    assert len({s.key for s in prompts}) >= 6
    packs = str(ctx.settings.language_packs_dir)
    for spoken in prompts:
        assert spoken.source == "recording", spoken
        assert spoken.path is not None and str(spoken.path).startswith(packs), spoken
    assert ctx.catalogue.get(MARITAL).title(LANG) == tày(ctx.catalogue.get(MARITAL).title("vi"))
    assert vi["home.title"] != ctx.translator.tr("home.title", LANG)


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
    env.update(KIOSK_DATA_DIR=str(data_dir), KIOSK_CONFIG="", QT_QPA_PLATFORM="offscreen")
    return subprocess.run(
        [sys.executable, "-m", "kiosk", "language-pack", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


# ---------------------------------------------------------------------- service rules


@pytest.fixture
def studio(app_ctx):
    clerks = desk(app_ctx).clerks
    admin = clerks.create("admin", "Quản", "admin", "482913")
    lan = clerks.create("lan", "Lan", "clerk", "2468")
    lan = clerks.set_role("lan", "translator", True, admin)
    hoa = clerks.set_role(
        clerks.create("hoa", "Hoà", "clerk", "1357").username, "reviewer", True, admin
    )
    return app_ctx.studio, lan, hoa, app_ctx


def test_a_translator_cannot_approve_their_own_work(studio):
    s, lan, _hoa, ctx = studio
    both = desk(ctx).clerks.set_role(
        "lan", "reviewer", True, desk(ctx).clerks.verify("admin", "482913")
    )
    s.save_draft(LANG, "i18n:home.title", "Khảm pây", both)
    with pytest.raises(StudioError) as err:
        s.review(LANG, "i18n:home.title", both, approve=True)
    assert err.value.key == "studio.err.own_work"
    del lan


def test_a_changed_vietnamese_source_sends_the_item_back_to_vietnamese(studio):
    s, lan, hoa, ctx = studio
    s.save_draft(LANG, "i18n:home.title", "Khảm pây", lan)
    s.review(LANG, "i18n:home.title", hoa, approve=True)
    assert s.approved().strings[LANG]["home.title"] == "Khảm pây"
    changed = dict(ctx.translator.catalogues["vi"], **{"home.title": "Chào mừng bạn!"})
    later = Studio(ctx.store, changed, ctx.catalogue, ctx.settings.data_dir)
    assert later.entries(LANG)["i18n:home.title"].state == STALE
    assert "home.title" not in later.approved().strings.get(LANG, {})


def test_a_bad_take_is_refused_and_nothing_is_saved(studio):
    s, lan, _hoa, ctx = studio
    from kiosk.services.recording import TakeRefused

    silent = SimulatedMicrophone(VOICE.read_bytes()[:44] + b"\0" * 32000)
    silent.start()
    with pytest.raises(TakeRefused) as err:
        s.save_draft(LANG, "i18n:home.prompt", "Khảm pây", lan, silent.stop())
    assert err.value.key in ("recording.err.empty", "recording.err.unreadable")
    rows = ctx.store.read(lambda x: x.query(Translation).count())
    assert rows == 0


def test_roles_are_needed_and_granted_by_admins_only(studio):
    s, lan, hoa, ctx = studio
    with pytest.raises(NotAllowed):
        s.save_draft(LANG, "i18n:home.title", "x", hoa)
    with pytest.raises(NotAllowed):
        desk(ctx).clerks.set_role("hoa", "translator", True, lan)


def test_items_are_ordered_by_how_often_citizens_meet_them(studio):
    s, *_ = studio
    groups = [it.group for it in s.items()]
    assert groups[0] == "home" and groups.index("identify") < groups.index("questions")
    assert any(it.item.startswith("proc:") for it in s.items())
    assert source_hash("a") != source_hash("b")


def test_the_studio_screens_show_the_sample(commune, qtbot):
    win, _ctx = commune("sample")
    for name in ("studio", "studio_item", "studio_roles"):
        screen = win.show_sample(name)
        assert screen.isVisible()


def test_export_refuses_when_nothing_is_approved(tmp_path):
    result = cli(tmp_path, "export", "--lang", "tyz", "--out", str(tmp_path / "x.zip"))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert PackStore(tmp_path / "language-packs").languages() == []
