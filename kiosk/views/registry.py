"""The one screen registry.

Every screen registers itself with a name, its audience and a way to show it with
sample data. Screenshots, the accessibility audit and the self-test walk this registry,
so a new screen is covered everywhere at once. Screens are discovered from the modules
of kiosk.views.screens.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
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
    import kiosk.views.screens as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"{pkg.__name__}.{info.name}")


def screens() -> list[ScreenSpec]:
    discover()
    return sorted(_REGISTRY.values(), key=lambda s: (s.audience, s.name))


def spec(name: str) -> ScreenSpec:
    discover()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"no screen named {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None
