"""The one screen registry.

Every screen registers itself with a name, its audience and a way to show it with
sample data. Screenshots, the accessibility audit and the self-test walk this registry,
so a new screen is covered everywhere at once. Screens are discovered from the modules
of kiosk.views.screens.

A screen's module is imported when the screen is first asked for (`spec`), not at
start: the home screen paints without the clerk screens, the receipt PDF code and the
rest. Which module holds which screen is read from the modules' sources (their
`@register("name"` lines); where the sources are not at hand (a frozen bundle), or a
name cannot be read, every module is imported as before.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SampleFn = Callable[[Any], dict[str, Any]]


@dataclass(frozen=True)
class ScreenSpec:
    name: str
    cls: type
    audience: str  # citizen, clerk, system
    sample: SampleFn


_REGISTRY: dict[str, ScreenSpec] = {}


def register(name: str, audience: str = "citizen", sample: SampleFn | None = None):
    """Class decorator: `@register("home", sample=lambda ctx: {})`."""

    def wrap(cls: type) -> type:
        if name in _REGISTRY and _REGISTRY[name].cls is not cls:
            raise ValueError(f"screen {name!r} registered twice")
        cls.name = name
        _REGISTRY[name] = ScreenSpec(name, cls, audience, sample or (lambda ctx: {}))
        return cls

    return wrap


def discover() -> None:
    """Import every screen module (screenshots, the audit and the self-test want all)."""
    import kiosk.views.screens as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"{pkg.__name__}.{info.name}")


_REGISTER = re.compile(r"""@register\(\s*(?:["']([^"']+)["']|([A-Za-z_]\w*))""")
_INDEX: dict[str, str] | None = None
_INDEX_READ = False


def source_index() -> dict[str, str] | None:
    """Screen name -> module name, read from the sources of kiosk.views.screens without
    importing them; None when a source cannot be read or a name cannot be resolved."""
    global _INDEX, _INDEX_READ
    if _INDEX_READ:
        return _INDEX
    _INDEX_READ = True
    import kiosk.views.screens as pkg

    index: dict[str, str] = {}
    for info in pkgutil.iter_modules(pkg.__path__):
        try:
            source = (Path(pkg.__path__[0]) / f"{info.name}.py").read_text(encoding="utf-8")
        except OSError:
            return None  # no sources (a frozen bundle): import everything instead
        for literal, constant in _REGISTER.findall(source):
            name = literal
            if constant:
                found = re.search(rf"""^{constant}\s*=\s*["']([^"']+)["']""", source, re.M)
                if found is None:
                    return None
                name = found.group(1)
            index[name] = f"{pkg.__name__}.{info.name}"
    _INDEX = index
    return index


def names() -> set[str]:
    """Every screen's name, without importing the screens where the sources tell."""
    index = source_index()
    if index is None:
        discover()
        return set(_REGISTRY)
    return set(index) | set(_REGISTRY)


def screens() -> list[ScreenSpec]:
    discover()
    return sorted(_REGISTRY.values(), key=lambda s: (s.audience, s.name))


def spec(name: str) -> ScreenSpec:
    if name not in _REGISTRY:
        index = source_index()
        if index is not None and name in index:
            importlib.import_module(index[name])
        if name not in _REGISTRY:
            discover()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"no screen named {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None
