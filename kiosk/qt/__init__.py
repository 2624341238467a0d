"""Qt glue between services and views.

Importing this package loads PySide6 and takes back Python's import statement from it.
PySide6 puts its own function in front of `import` (for `from __feature__ import
snake_case`, which the kiosk does not use) that, after every module imported, reads that
module's whole source (inspect.getsource, kept for good in linecache) to see whether it
mentions PySide6. In the kiosk that is every module loaded after Qt (SQLAlchemy, numpy,
reportlab, the screens...): slower start-up, slower first use of each screen, and some
25 MB of source text held in memory for nothing. PySide6's own lazy loading of its
modules, which sits behind that function, is kept.
"""

from __future__ import annotations

import builtins
import linecache

import PySide6.QtCore  # noqa: F401 (puts PySide6's import function in place)


def plain_imports() -> bool:
    """Let `import` skip PySide6's source scan (idempotent). True if it was in place."""
    current = builtins.__import__
    behind = getattr(builtins, "__orig_import__", None)
    if behind is None or getattr(current, "__name__", "") != "__feature_import__":
        return False
    builtins.__import__ = behind
    linecache.clearcache()  # the sources it read while PySide6 loaded
    return True


plain_imports()
