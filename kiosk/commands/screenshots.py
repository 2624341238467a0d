"""`python -m kiosk screenshots OUTDIR`: every registered screen, with sample data, as PNG."""

from __future__ import annotations

import tempfile
from pathlib import Path

from kiosk.clitext import cli_of


def register(subparsers) -> None:
    p = subparsers.add_parser("screenshots", help="cli.screenshots.help")
    p.add_argument("outdir", type=Path, help="cli.screenshots.outdir")
    p.add_argument("--size", default="1920x1080", help="cli.screenshots.size")
    p.add_argument("--lang", default="vi", help="cli.screenshots.lang")
    p.add_argument("--only", nargs="*", help="cli.screenshots.only")
    p.set_defaults(func=handle)


def parse_size(text: str) -> tuple[int, int] | None:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        return None
    return w, h


def handle(args) -> int:
    import shutil

    from kiosk.config import load_settings
    from kiosk.services.i18n import LANGUAGES
    from kiosk.services.langpacks import PackStore

    # The language packs installed on this kiosk are shown too (sample data stays apart).
    packs = load_settings().language_packs_dir
    known = [*LANGUAGES, *(p for p in PackStore(packs).languages() if p not in LANGUAGES)]
    langs = known if args.lang == "all" else [args.lang]
    cli = cli_of(args)
    if any(lang not in known for lang in langs):
        cli.error("cli.screenshots.bad_lang", value=args.lang, allowed=", ".join(known))
        return 2
    size = parse_size(args.size)
    if size is None:
        cli.error("cli.screenshots.bad_size", value=args.size)
        return 2
    width, height = size
    with tempfile.TemporaryDirectory(prefix="kiosk-shots-") as tmp:
        if packs.is_dir():
            shutil.copytree(packs, Path(tmp) / packs.name)
        written = render_all(Path(tmp), args.outdir, width, height, langs, args.only)
    for path in written:
        print(path)
    return 0 if written else 1


def render_all(
    data_dir: Path,
    outdir: Path,
    width: int,
    height: int,
    langs: list[str],
    only: list[str] | None = None,
) -> list[Path]:
    from kiosk.config import load_settings
    from kiosk.context import build_context
    from kiosk.qt import stage
    from kiosk.qt.app import ensure_app, system_printer
    from kiosk.qt.tasks import TaskRunner
    from kiosk.views import registry

    app = ensure_app()
    settings = load_settings(
        env={},
        config_path=data_dir / "none.toml",
        data_dir=str(data_dir),
        demo="true",
        speech="mock",
    )
    ctx = build_context(settings, system_printer)
    _sample_cameras(ctx)
    tasks = TaskRunner()
    tasks.inline = True
    written: list[Path] = []
    # One window, as in service: each screen in the same shell, keyboard open where typed.
    window = stage.build_window(ctx, tasks, width, height)
    try:
        for lang in langs:
            folder = outdir / lang if len(langs) > 1 else outdir
            folder.mkdir(parents=True, exist_ok=True)
            for spec in registry.screens():
                if only and spec.name not in only:
                    continue
                screen = stage.stage(window, spec.name, lang)
                _wait_for_camera(app, screen)
                path = folder / f"{spec.name}.png"
                if not window.grab().save(str(path)):
                    raise RuntimeError(f"could not write {path}")
                written.append(path)
                screen.leave()
    finally:
        window.close()
        window.deleteLater()
        stage.settle()
        ctx.close()
    return written


def _sample_cameras(ctx) -> None:
    """Still pictures for the camera screens: a desk with no card, a document at an angle."""
    from kiosk.hardware.camera import SimulatedCamera
    from kiosk.paths import resource
    from kiosk.qt.camera_bridge import bridge_factory
    from kiosk.qt.document_bridge import document_bridge_factory

    desk = resource("samples", "camera", "frame_00.jpg")
    page = resource("samples", "document", "page_00.jpg")
    ctx.camera = bridge_factory(lambda: SimulatedCamera(desk))
    ctx.document_camera = document_bridge_factory(lambda: SimulatedCamera(page))


def _wait_for_camera(app, screen, seconds: float = 3.0) -> None:
    """Let a camera screen receive its first frames (and outline) before the picture."""
    import time

    view = getattr(screen, "camera_view", None) or getattr(screen, "view", None)
    deadline = time.monotonic() + (seconds if view is not None else 0)
    app.processEvents()
    while view is not None and time.monotonic() < deadline:
        app.processEvents()
        ready = getattr(view, "image", None) is not None
        if ready and (not hasattr(view, "outline") or view.outline is not None):
            break
        time.sleep(0.02)
    app.processEvents()
