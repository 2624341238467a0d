"""Language packs shared through the portal (contract 1.1): the province publishes packs,
every kiosk installs the newer ones; a reviewer offers the commune's approved work.

`refresh_language_packs` is one step of a sync round and a periodic task of the sync
worker: GET /language-packs, then for each language whose published version is newer than
the installed one, GET /media/{sha256} (at most 100 MiB, checked against its hash), and an
all-or-nothing install (kiosk.services.langpacks). A withdrawn pack that is installed is
switched off. A pack that fails its checks is reported and left out; what was installed
before stays. No Qt here: the window applies installed packs between two citizens.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.services.langpacks import PackError, PackStore
from kiosk.services.portal_client import PACK_LIMIT, PortalClient, PortalError

log = logging.getLogger(__name__)

# (string keys and procedure codes this kiosk knows, Vietnamese text of every item)
KnownItems = Callable[[], tuple[set[str], dict[str, str]]]


@dataclass
class PackRefresh:
    installed: list[str] = field(default_factory=list)  # "tyz 3"
    removed: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # "tyz 4: <reason>"
    unchanged: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.installed or self.removed)

    def summary(self) -> str:
        parts = [f"installed {', '.join(self.installed)}"] if self.installed else []
        parts += [f"removed {', '.join(self.removed)}"] if self.removed else []
        parts += [f"refused {', '.join(self.refused)}"] if self.refused else []
        return "; ".join(parts) or "unchanged"


def refresh_language_packs(
    call: Callable[[Callable[[PortalClient], object]], object],
    store: PackStore,
    known: KnownItems,
) -> PackRefresh:
    """`call(fn)` runs fn with the portal client (PortalLink.call). Portal errors on the
    list propagate (the round notes it offline); a pack's own failure is reported only."""
    result = PackRefresh()
    published = call(lambda c: c.language_packs())
    for pack in published:
        current = store.installed(pack.language)
        if pack.withdrawn:
            if current is not None and current.version == pack.version:
                store.remove(pack.language)
                result.removed.append(f"{pack.language} {pack.version}")
            continue
        if current is not None and current.version >= pack.version:
            result.unchanged += 1
            continue
        try:
            data = call(lambda c, sha=pack.sha256: c.media(sha, limit=PACK_LIMIT))
        except PortalError as exc:
            result.refused.append(f"{pack.language} {pack.version}: {exc.detail}")
            continue
        try:
            with tempfile.TemporaryDirectory(prefix="kiosk-pack-") as tmp:
                path = Path(tmp) / "pack.zip"
                path.write_bytes(data)
                keys, texts = known()
                report = store.install(path, keys, texts)
        except (PackError, OSError) as exc:  # OSError: no room for the download itself
            log.warning("language pack %s %s refused: %s", pack.language, pack.version, exc)
            result.refused.append(f"{pack.language} {pack.version}: {exc}")
            continue
        if report.language != pack.language or report.version != pack.version:
            log.warning("language pack %s %s holds %s %s", pack.language, pack.version,
                        report.language, report.version)  # fmt: skip
        result.installed.append(f"{report.language} {report.version}")
    return result


def offer_contribution(call, pack_path: Path) -> bool:
    """PUT the pack to the province for review; True if it was new there."""
    import hashlib

    data = pack_path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    return bool(call(lambda c: c.offer_language_pack(sha, data)))


def language_pack_task(call, store: PackStore, known: KnownItems, done=None, interval=6 * 3600.0):
    """The sync worker's periodic task (kiosk.services.sync.Periodic) for language packs."""
    from kiosk.services.sync import Periodic

    return Periodic(
        "language packs",
        interval,
        lambda: refresh_language_packs(call, store, known),
        done,
    )
