"""Layout checks on a screen as the kiosk really shows it (in its window, at its size).

What a citizen cannot reach or read is a fault even when every widget is big and has good
contrast: a button pushed past the edge of the window or cut by its parent, a field the
keyboard hides, a scroll area inside another one, two touch targets on top of each other,
text cut short ("…" in a table cell), a window that grew past the screen.

All geometry is measured in the window's coordinates from the widgets' real positions, so
the same checks work offscreen and on a real X server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractScrollArea,
    QApplication,
    QHeaderView,
    QLabel,
    QLineEdit,
    QStyle,
    QWidget,
)

SLACK = 1  # px: rounding of fractional layouts


def window_rect(widget: QWidget, window: QWidget) -> QRect:
    return QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())


def _is_viewport(widget: QWidget) -> bool:
    parent = widget.parentWidget()
    return isinstance(parent, QAbstractScrollArea) and parent.viewport() is widget


def visible_part(widget: QWidget, window: QWidget, scrolled: bool = True) -> tuple[QRect, str]:
    """The part of `widget` that can be seen, and what cuts the rest ("" when nothing does).

    A scroll area's viewport may hide a widget above or below it (the citizen scrolls to
    it) unless `scrolled` is False; anything else that cuts a widget, including sideways
    in a scroll area (there is no sideways scrolling), hides it for good.
    """
    rect = window_rect(widget, window)
    cut = ""
    parent = widget.parentWidget()
    while parent is not None:
        outer = window_rect(parent, window) if parent is not window else window.rect()
        viewport = _is_viewport(parent)
        if viewport and scrolled:
            sideways = rect.left() < outer.left() - SLACK or rect.right() > outer.right() + SLACK
            if sideways and not cut:
                cut = _name(parent.parentWidget())
            rect = rect.intersected(QRect(rect.left(), outer.top(), rect.width(), outer.height()))
            if rect.isEmpty():
                return QRect(), cut  # scrolled out of view: the citizen scrolls to it
        else:
            if not _inside(rect, outer) and not cut:
                cut = "the window" if parent is window else _name(parent)
        rect = rect.intersected(outer)
        if parent is window:
            break
        parent = parent.parentWidget()
    return rect, cut


def _inside(rect: QRect, outer: QRect) -> bool:
    return (
        rect.left() >= outer.left() - SLACK
        and rect.top() >= outer.top() - SLACK
        and rect.right() <= outer.right() + SLACK
        and rect.bottom() <= outer.bottom() + SLACK
    )


def _name(widget: QWidget | None) -> str:
    if widget is None:
        return "-"
    text = widget.text() if hasattr(widget, "text") and callable(widget.text) else ""
    label = f" {text[:30]!r}" if isinstance(text, str) and text else ""
    return f"{type(widget).__name__}#{widget.objectName() or '-'}{label}"


def _has_text(widget: QWidget) -> bool:
    if isinstance(widget, QLabel):
        return bool(widget.text().strip())
    if isinstance(widget, QAbstractButton):
        return bool(widget.text().strip()) or not widget.icon().isNull()
    return False


def _target(widget: QWidget) -> bool:
    return isinstance(widget, QAbstractButton | QLineEdit) and widget.isEnabled()


def _shown(widget: QWidget, window: QWidget) -> bool:
    return widget.isVisibleTo(window) and widget.width() > 0 and widget.height() > 0


def audit_layout(
    window: QWidget,
    root: QWidget,
    add: Callable[[str, QWidget | str, str], None],
    target: QSize | None = None,
    keyboard: QWidget | None = None,
) -> None:
    """Report every layout fault of `root` (a screen, or the whole window) through
    `add(rule, widget, detail)`."""
    _window_size(window, add, target)
    widgets = [w for w in [root, *root.findChildren(QWidget)] if _shown(w, window)]
    kb = keyboard if keyboard is not None and _shown(keyboard, window) else None
    kb_rect = window_rect(kb, window) if kb is not None else QRect()
    targets: list[tuple[QWidget, QRect]] = []
    for w in widgets:
        if not (_target(w) or _has_text(w)):
            continue
        part, cut = visible_part(w, window)
        if cut:
            add("outside", w, f"cut by {cut}")
        in_keyboard = kb is not None and (w is kb or kb.isAncestorOf(w))
        if kb is not None and not in_keyboard and part.intersects(kb_rect):
            add("under-keyboard", w, "hidden under the on-screen keyboard")
        if _target(w) and not part.isEmpty():
            targets.append((w, part))
        main_action = w.objectName() == "primary" and not w.property("selection")
        if _target(w) and main_action and not cut:
            whole, _ = visible_part(w, window, scrolled=False)
            if whole.size() != w.size():
                add("primary-hidden", w, "the screen's main action is not wholly in view")
    _overlaps(targets, add)
    _nested_scroll(widgets, window, add)
    _elided_cells(widgets, add)
    focused = QApplication.focusWidget()
    if focused is not None and root.isAncestorOf(focused) and _shown(focused, window):
        part, cut = visible_part(focused, window, scrolled=False)
        if cut:
            add("focus-hidden", focused, f"the field being typed into is cut by {cut}")
        elif kb is not None and part.intersects(kb_rect):
            add("focus-hidden", focused, "the field being typed into is under the keyboard")


def _window_size(window: QWidget, add, target: QSize | None) -> None:
    size = window.size()
    if target is not None and (size.width() > target.width() or size.height() > target.height()):
        add(
            "window-size",
            window,
            f"{size.width()}x{size.height()} is larger than the screen "
            f"{target.width()}x{target.height()}",
        )
    screen = window.screen()
    if screen is not None and QApplication.platformName() != "offscreen":
        avail = screen.geometry()
        frame = window.frameGeometry()
        if frame.width() > avail.width() or frame.height() > avail.height():
            add(
                "window-size",
                window,
                f"{frame.width()}x{frame.height()} is larger than the screen "
                f"{avail.width()}x{avail.height()}",
            )


def _overlaps(targets: list[tuple[QWidget, QRect]], add) -> None:
    for i, (a, ra) in enumerate(targets):
        for b, rb in targets[i + 1 :]:
            if a.isAncestorOf(b) or b.isAncestorOf(a):
                continue
            common = ra.adjusted(SLACK, SLACK, -SLACK, -SLACK).intersected(rb)
            if not common.isEmpty():
                add("overlap", a, f"overlaps {_name(b)} by {common.width()}x{common.height()} px")


def _nested_scroll(widgets: Iterable[QWidget], window: QWidget, add) -> None:
    for w in widgets:
        if not isinstance(w, QAbstractScrollArea) or not _scrolls(w):
            continue
        parent = w.parentWidget()
        while parent is not None and parent is not window:
            if isinstance(parent, QAbstractScrollArea):
                add("nested-scroll", w, f"a scroll area inside {_name(parent)}")
                break
            parent = parent.parentWidget()


def _scrolls(area: QAbstractScrollArea) -> bool:
    """One that can move: a list, table or chart showing all it has does not count."""
    if isinstance(area, QHeaderView):
        return False  # part of its table
    bars = (area.verticalScrollBar(), area.horizontalScrollBar())
    return any(bar.maximum() > bar.minimum() for bar in bars)


def _elided_cells(widgets: Iterable[QWidget], add) -> None:
    """Item views cut long cell texts with '…': a clerk cannot read what is cut."""
    for view in widgets:
        if not isinstance(view, QAbstractItemView) or view.model() is None:
            continue
        if (
            getattr(view, "wordWrap", lambda: False)()
            and view.textElideMode() == Qt.TextElideMode.ElideNone
        ):
            continue
        model, fm = view.model(), view.fontMetrics()
        viewport = view.viewport().rect()
        for row in range(min(model.rowCount(), 200)):
            for col in range(model.columnCount()):
                index = model.index(row, col)
                text = index.data(Qt.ItemDataRole.DisplayRole)
                rect = view.visualRect(index)
                if not isinstance(text, str) or not text or not rect.intersects(viewport):
                    continue
                lines = text.split("\n")
                room = rect.width() - 2 * (
                    view.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, view)
                    + 1
                )
                font = index.data(Qt.ItemDataRole.FontRole)
                metrics = fm if font is None else type(fm)(font)
                if getattr(view, "wordWrap", lambda: False)():
                    box = QRect(0, 0, max(room, 1), 100000)
                    flags = int(Qt.TextFlag.TextWordWrap)
                    cut = metrics.boundingRect(box, flags, text).height() > rect.height() + SLACK
                else:
                    cut = any(metrics.horizontalAdvance(line) > room for line in lines) or (
                        metrics.lineSpacing() * len(lines) > rect.height() + SLACK
                    )
                if cut:
                    add("elided", view, f"cell ({row}, {col}) {text[:30]!r} is cut")
