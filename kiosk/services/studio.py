"""The language studio: commune staff translate and record the kiosk's texts in their own
language, on the kiosk itself; a second person reviews; approved work reaches citizens and
can be shared with the province as a language pack.

Every citizen-facing text is an item: `i18n:<key>` (a string of resources/i18n/vi) or
`proc:<code>:<path>` (a procedure's title, summary, question, choice or document). Items are
grouped by the screen where citizens meet them and ordered by how often they do
(resources/studio.json). A translation remembers the Vietnamese text it was made from: when
that text changes the item goes back to draft and citizens see Vietnamese until a new
translation is approved.

Precedence on screen: this kiosk's approved work, then the province's pack, then the texts
the portal's catalogue carries (kiosk.context builds it in that order).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from kiosk.files import write_atomic
from kiosk.services.dossiers import utcnow
from kiosk.services.langpacks import (
    KEY_NAME,
    Overlay,
    build_pack,
    catalogue_version,
    procedure_vi_texts,
    sha256,
    source_hash,
)
from kiosk.services.models import Translation
from kiosk.services.text import nfc

if TYPE_CHECKING:  # the clerk code and numpy load when a clerk records, not at start
    from kiosk.services.clerks import ClerkInfo

DRAFT, APPROVED, RETURNED = "draft", "approved", "returned"
MISSING, STALE = "missing", "stale"  # shown states that no row stores
MAX_TEXT = 2000


class StudioError(ValueError):
    """`key` is a catalogue key for the clerk (studio.err.*)."""

    def __init__(self, key: str, detail: str = "") -> None:
        self.key, self.detail = key, detail
        super().__init__(f"{key}: {detail}" if detail else key)


@dataclass(frozen=True)
class Group:
    name: str
    screen: str
    pictogram: str
    prefixes: tuple[str, ...]


@dataclass(frozen=True)
class StudioItem:
    item: str
    source: str  # the Vietnamese text
    group: str
    screen: str  # the registered screen where citizens meet it
    pictogram: str
    rank: int  # 0 = met most often

    @property
    def key(self) -> str:
        """A name fit for a recording's file: the i18n key, or the item with ':' as '.'."""
        return self.item[5:] if self.item.startswith("i18n:") else self.item.replace(":", ".")

    @property
    def spoken(self) -> bool:
        return self.item.endswith(".prompt") or self.item.startswith("proc:")


@dataclass(frozen=True)
class Entry:
    item: str
    state: str  # missing, draft, approved, returned, stale
    text: str
    translator: str = ""
    reviewer: str = ""
    note: str = ""
    recording: str = ""  # sha256 of the kept WAV, "" for none


def load_groups(path: Path | None = None) -> tuple[list[Group], tuple[str, ...]]:
    if path is None:
        from kiosk.paths import resource

        path = resource("studio.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    groups = [
        Group(g["group"], g["screen"], g["pictogram"], tuple(g["prefixes"])) for g in data["groups"]
    ]
    return groups, tuple(data["not_for_citizens"])


class Studio:
    def __init__(self, store, vi_strings: Mapping[str, str], catalogue, data_dir: Path) -> None:
        self.store = store
        self.vi = dict(vi_strings)
        self.catalogue = catalogue
        self.folder = data_dir / "studio"
        self.groups, self.hidden = load_groups()
        self._items: list[StudioItem] | None = None

    # -- what there is to translate
    def items(self) -> list[StudioItem]:
        if self._items is None:
            self._items = self._collect()
        return self._items

    def _group_of(self, key: str) -> tuple[int, Group] | None:
        for i, group in enumerate(self.groups):
            if any(key.startswith(p) for p in group.prefixes):
                return i, group
        return None

    def _collect(self) -> list[StudioItem]:
        out: list[StudioItem] = []
        for key, text in self.vi.items():
            if key.startswith(self.hidden):
                continue
            found = self._group_of(key)
            if found is None:
                continue
            rank, g = found
            out.append(StudioItem(f"i18n:{key}", text, g.name, g.screen, g.pictogram, rank))
        by_name = {g.name: (i, g) for i, g in enumerate(self.groups)}
        for item, text in procedure_vi_texts(self.catalogue).items():
            if not text:
                continue
            code = item.split(":")[1]
            proc = self.catalogue.get(code)
            name = "procedures" if item.endswith((":title", ":summary")) else "questions"
            rank, g = by_name[name]
            picto = proc.pictogram if proc is not None else g.pictogram
            out.append(StudioItem(item, text, g.name, g.screen, picto, rank))
        out.sort(key=lambda it: (it.rank, it.item))
        return out

    def item(self, item: str) -> StudioItem:
        found = next((it for it in self.items() if it.item == item), None)
        if found is None:
            raise StudioError("studio.err.unknown_item", item)
        return found

    # -- state
    def entries(self, lang: str) -> dict[str, Entry]:
        rows = self.store.read(
            lambda s: list(s.scalars(select(Translation).where(Translation.lang == lang)))
        )
        by_item = {r.item: r for r in rows}
        out: dict[str, Entry] = {}
        for it in self.items():
            row = by_item.get(it.item)
            if row is None:
                out[it.item] = Entry(it.item, MISSING, "")
                continue
            state = row.state
            if row.source_hash != source_hash(it.source):
                state = STALE
            out[it.item] = Entry(
                it.item,
                state,
                row.text or "",
                row.translator,
                row.reviewer or "",
                row.note or "",
                row.recording or "",
            )
        return out

    def progress(self, lang: str) -> list[tuple[str, int, int]]:
        """Per group, in the order citizens meet them: (group, approved, total)."""
        entries = self.entries(lang)
        counts: dict[str, list[int]] = {g.name: [0, 0] for g in self.groups}
        for it in self.items():
            counts[it.group][1] += 1
            counts[it.group][0] += entries[it.item].state == APPROVED
        return [(g.name, *counts[g.name]) for g in self.groups if counts[g.name][1]]

    # -- work
    def save_draft(
        self, lang: str, item: str, text: str, by: ClerkInfo, recording: bytes | None = None
    ) -> Entry:
        """A translator's draft; `recording` (a take) is checked and kept, else the last one
        stays. Raises StudioError, or TakeRefused for a take that cannot be used."""
        if not by.has("translator"):
            from kiosk.services.clerks import NotAllowed

            raise NotAllowed("the translator role is needed")
        if lang == "vi":
            raise StudioError("studio.err.vietnamese")
        it = self.item(item)
        text = nfc(text).strip()
        if len(text) > MAX_TEXT:
            raise StudioError("studio.err.too_long", f"{len(text)} characters")
        sha = None
        if recording is not None:
            from kiosk.services.recording import process_take

            take = process_take(recording, max_seconds=60)
            sha = sha256(take.wav)
            write_atomic(self._recording_file(sha), take.wav)
        if not text and sha is None and not self._row(lang, item):
            raise StudioError("studio.err.empty")

        def write(s) -> None:
            row = s.scalars(
                select(Translation).where(Translation.lang == lang, Translation.item == item)
            ).first()
            if row is None:
                row = Translation(lang=lang, item=item)
                s.add(row)
            row.text = text or row.text
            row.recording = sha or row.recording
            row.source_hash = source_hash(it.source)
            row.state = DRAFT
            row.translator = by.username
            row.reviewer = None
            row.note = None
            row.updated_at = utcnow()

        self.store.write_sync(write)
        return self.entries(lang)[item]

    def _row(self, lang: str, item: str) -> Translation | None:
        return self.store.read(
            lambda s: s.scalars(
                select(Translation).where(Translation.lang == lang, Translation.item == item)
            ).first()
        )

    def review(self, lang: str, item: str, by: ClerkInfo, approve: bool, note: str = "") -> Entry:
        """A reviewer approves, or sends back with a note; never their own work."""
        if not by.has("reviewer"):
            from kiosk.services.clerks import NotAllowed

            raise NotAllowed("the reviewer role is needed")
        it = self.item(item)
        row = self._row(lang, item)
        if row is None:
            raise StudioError("studio.err.nothing_to_review")
        if row.translator == by.username:
            raise StudioError("studio.err.own_work")
        if row.source_hash != source_hash(it.source):
            raise StudioError("studio.err.stale")

        def write(s) -> None:
            r = s.get(Translation, row.id)
            r.state = APPROVED if approve else RETURNED
            r.reviewer = by.username
            r.note = None if approve else (nfc(note).strip() or None)
            r.updated_at = utcnow()

        self.store.write_sync(write)
        if approve and row.recording and it.item.startswith("i18n:"):
            self._publish_recording(lang, it, row.recording)
        return self.entries(lang)[item]

    # -- recordings
    def _recording_file(self, sha: str) -> Path:
        return self.folder / "recordings" / f"{sha}.wav"

    def recording(self, sha: str) -> Path | None:
        path = self._recording_file(sha)
        return path if sha and path.is_file() else None

    @property
    def approved_audio(self) -> Path:
        """Approved recordings laid out as the speech engine reads them: <lang>/<key>.wav."""
        return self.folder / "approved-audio"

    def _publish_recording(self, lang: str, it: StudioItem, sha: str) -> None:
        source = self.recording(sha)
        if source is not None and KEY_NAME.match(it.key):
            write_atomic(self.approved_audio / lang / f"{it.key}.wav", source.read_bytes())

    # -- the keyboard's letters (kiosk.services.language_data)
    def _profile_path(self, lang: str) -> Path:
        return self.folder / "language" / f"{lang}.json"

    def profiles(self) -> dict[str, dict]:
        """The language profiles made in the studio, by language."""
        out: dict[str, dict] = {}
        for path in sorted((self.folder / "language").glob("*.json")):
            try:
                out[path.stem] = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                continue
        return out

    def keyboard_text(self, lang: str) -> str:
        """The letters the studio added for `lang`, as the clerk typed them."""
        kb = self.profiles().get(lang, {}).get("keyboard", {})
        return " ".join([k["key"] for k in kb.get("keys", [])] + kb.get("marks", []))

    def save_keyboard(self, lang: str, text: str, by: ClerkInfo) -> list[str]:
        """Keep the letters (and combining marks) `text` lists, space-separated, as keys of
        `lang`'s keyboard; an empty text removes them. Refused (StudioError) when a token is
        not one letter with its marks, when there are too many, or when the shipped fonts
        cannot draw one."""
        from kiosk.services.langpacks import LANG_TAG, PackError, _check_drawable, _shipped_glyphs
        from kiosk.services.language_data import (
            MAX_KEYS,
            LanguageDataError,
            parse_profile,
            profile_texts,
            split_keys,
            studio_profile,
        )

        if not LANG_TAG.match(lang) or lang == "vi":
            raise StudioError("studio.err.language_tag")
        if not (by.has("translator") or by.has("reviewer")):
            from kiosk.services.clerks import NotAllowed

            raise NotAllowed("the translator or reviewer role is needed")
        try:
            keys, marks = split_keys(text)
        except LanguageDataError as exc:
            raise StudioError("studio.err.key", exc.where) from exc
        if len(keys) + len(marks) > MAX_KEYS:
            raise StudioError("studio.err.too_many_keys")
        obj = studio_profile(keys, marks, by.username, utcnow().date().isoformat())
        try:
            profile = parse_profile(lang, obj)
        except LanguageDataError as exc:
            raise StudioError("studio.err.key", str(exc)) from exc
        try:
            _check_drawable(lang, profile_texts(profile), _shipped_glyphs())
        except PackError as exc:
            raise StudioError("studio.err.no_glyph", exc.problem) from exc
        path = self._profile_path(lang)
        if not keys and not marks:
            path.unlink(missing_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, json.dumps(obj, ensure_ascii=False, indent=1).encode("utf-8"))
        return keys + marks

    # -- what reaches citizens
    def approved(self, langs: list[str] | None = None) -> Overlay:
        rows = self.store.read(
            lambda s: list(s.scalars(select(Translation).where(Translation.state == APPROVED)))
        )
        overlay = Overlay()
        if not rows:
            return overlay  # nothing approved: no need to list what there is to translate
        items = {it.item: it for it in self.items()}
        for row in rows:
            it = items.get(row.item)
            if it is None or row.source_hash != source_hash(it.source) or not row.text:
                continue
            if langs is not None and row.lang not in langs:
                continue
            if row.item.startswith("i18n:"):
                overlay.strings.setdefault(row.lang, {})[row.item[5:]] = row.text
            else:
                _, code, path = row.item.split(":", 2)
                _put(
                    overlay.procedures.setdefault(row.lang, {}).setdefault(code, {}), path, row.text
                )
        for lang in overlay.strings:
            if (self.approved_audio / lang).is_dir():
                overlay.audio_dirs[lang] = self.approved_audio
        return overlay

    def export_pack(
        self, lang: str, out: Path, version: int, *, name: str | None = None, publisher=None
    ) -> Path:
        """The approved work of `lang` as a language pack (sources hashed, people named)."""
        rows = self.store.read(
            lambda s: list(
                s.scalars(
                    select(Translation).where(
                        Translation.lang == lang, Translation.state == APPROVED
                    )
                )
            )
        )
        items = {it.item: it for it in self.items()}
        rows = [r for r in rows if r.item in items]
        if not rows:
            raise StudioError("studio.err.nothing_approved")
        with tempfile.TemporaryDirectory(prefix="kiosk-studio-") as tmp:
            src = Path(tmp)
            strings: dict[str, str] = {}
            procs: dict[str, dict] = {}
            sources: dict[str, str] = {}
            for r in rows:
                it = items[r.item]
                if r.source_hash != source_hash(it.source):
                    continue
                sources[r.item] = r.source_hash
                if r.text and r.item.startswith("i18n:"):
                    strings[r.item[5:]] = r.text
                elif r.text:
                    _, code, path = r.item.split(":", 2)
                    _put(procs.setdefault(code, {}), path, r.text)
                wav = self.recording(r.recording or "")
                if wav is not None and KEY_NAME.match(it.key):
                    target = src / "audio" / lang / f"{it.key}.wav"
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(wav, target)
            (src / "i18n" / lang).mkdir(parents=True)
            (src / "i18n" / lang / "studio.json").write_text(
                json.dumps(strings, ensure_ascii=False, indent=1), encoding="utf-8"
            )
            profile = self.profiles().get(lang)
            if profile:
                (src / "language").mkdir()
                (src / "language" / f"{lang}.json").write_text(
                    json.dumps(profile, ensure_ascii=False, indent=1), encoding="utf-8"
                )
            for code, texts in procs.items():
                (src / "procedures").mkdir(exist_ok=True)
                (src / "procedures" / f"{code}.json").write_text(
                    json.dumps(texts, ensure_ascii=False, indent=1), encoding="utf-8"
                )
            return build_pack(
                src,
                lang,
                version,
                out,
                name=name or strings.get("lang.self") or lang,
                base_catalogue_version=catalogue_version(self.vi),
                translators=sorted({r.translator for r in rows}),
                reviewers=sorted({r.reviewer for r in rows if r.reviewer}),
                publisher=publisher,
                sources=sources,
                # The work's own date, not the export's: the same work is the same pack.
                now=max(r.updated_at for r in rows).replace(tzinfo=UTC),
            )


def _put(texts: dict, path: str, text: str) -> None:
    """Set a procedure text at `path` (title, fields.<key>.label, fields.<key>.choices.<v>,
    documents.<key>) in a pack's procedure object."""
    parts = path.split(".")
    if parts[0] in ("title", "summary", "legal_basis") and len(parts) == 1:
        texts[parts[0]] = text
    elif parts[0] == "fields" and len(parts) == 3:
        texts.setdefault("fields", {}).setdefault(parts[1], {})[parts[2]] = text
    elif parts[0] == "fields" and len(parts) == 4 and parts[2] == "choices":
        field = texts.setdefault("fields", {}).setdefault(parts[1], {})
        field.setdefault("choices", {})[parts[3]] = text
    elif parts[0] == "documents" and len(parts) == 2:
        texts.setdefault("documents", {})[parts[1]] = text
