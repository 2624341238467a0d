"""Language packs: a language's texts and recordings, made by the commune's own people and
shared between kiosks (contract 1.1, `docs/portal-api.yaml`: /language-packs).

A pack is a zip:

    manifest.json                 language, its own name, version, base_catalogue_version,
                                  translators, reviewers, created_at, publisher, and the
                                  sha256 of every other file ("files"); optionally "sources":
                                  the sha256 of the Vietnamese text each item translates
    i18n/<lang>/*.json            key -> text, as resources/i18n/<lang>/*.json
    procedures/<code>.json        this language's texts of one procedure (see PROCEDURE_KEYS)
    audio/<lang>/<key>.wav        recorded prompts (mono 16-bit PCM WAV)
    language/<lang>.json          optional: the keyboard's extra letters and the number kit's
                                  word order (kiosk.services.language_data; the manifest may
                                  carry the same as "keyboard" and "number_kit" entries)

Import is all or nothing: the pack is checked whole (hashes, paths, sizes, JSON, WAV,
glyphs the shipped fonts can draw) before a byte of it is installed; what was installed
before stays until the new version is switched on by one atomic write. Installed packs live
in the data folder (`<data>/language-packs/<lang>/<version>/`), outside the program, so an
upgrade keeps them; the previous version stays and can be restored.

Keys this kiosk does not know are skipped and reported (a newer pack must not break an
older kiosk), and an item whose Vietnamese source changed since it was translated is left
out (shown in Vietnamese) until it is translated again.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import re
import shutil
import wave
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from kiosk.files import fsync_dir, write_atomic
from kiosk.services.text import nfc

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_FILES = 5000
MAX_PACK_BYTES = 100 * 1024 * 1024  # contract 1.1 limit for a pack
MANIFEST = "manifest.json"
FORMAT = 1
LANG_TAG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
KEY_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,120}$")
CODE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
# The texts of a procedure a pack may carry, in procedures/<code>.json:
#   {"title": s, "summary": s, "legal_basis": s,
#    "fields": {key: {"label": s, "hint": s, "choices": {value: s}}},
#    "documents": {key: s}}
PROCEDURE_KEYS = frozenset({"title", "summary", "legal_basis", "fields", "documents"})


class PackError(ValueError):
    """The pack is refused whole. `file` names the file at fault ("" for the pack itself);
    `kind` picks the sentence shown to people (`langpack.err.<kind>` in the catalogues);
    `problem` is the detail, for IT and the log."""

    def __init__(self, file: str, problem: str, kind: str = "invalid") -> None:
        self.file, self.problem, self.kind = file, problem, kind
        super().__init__(f"{file}: {problem}" if file else problem)


@dataclass
class Pack:
    """A checked pack's contents, in memory."""

    language: str
    name: str
    version: int
    base_catalogue_version: str
    manifest: dict
    strings: dict[str, str] = field(default_factory=dict)  # i18n key -> text
    procedures: dict[str, dict] = field(default_factory=dict)  # code -> texts
    recordings: dict[str, bytes] = field(default_factory=dict)  # prompt key -> WAV bytes
    profile: dict = field(default_factory=dict)  # language/<lang>.json and the manifest's

    @property
    def sources(self) -> dict[str, str]:
        return dict(self.manifest.get("sources") or {})


@dataclass
class ImportReport:
    language: str
    version: int
    strings: int
    procedures: int
    recordings: int
    unknown_keys: list[str]  # skipped: this kiosk does not know them
    stale: list[str]  # skipped: the Vietnamese text changed since translation
    replaced: int | None  # the version that was active before, if any


# ----------------------------------------------------------------------------- hashing


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def source_hash(vietnamese: str) -> str:
    """What an item remembers of the Vietnamese text it translates."""
    return sha256(nfc(vietnamese).encode("utf-8"))[:16]


def catalogue_version(vi_strings: Mapping[str, str]) -> str:
    """The Vietnamese catalogue's version: a hash of every Vietnamese string."""
    blob = json.dumps(dict(sorted(vi_strings.items())), ensure_ascii=False).encode("utf-8")
    return sha256(blob)[:12]


# ------------------------------------------------------------------------------ checks


def _safe_name(name: str) -> str:
    if not name or "\\" in name or name.startswith("/") or "\x00" in name:
        raise PackError(name, "the path is not allowed in a pack", kind="path")
    path = PurePosixPath(name)
    if path.is_absolute() or any(part in ("..", "", ".") for part in path.parts):
        raise PackError(name, "the path points outside the pack", kind="path")
    if re.match(r"^[A-Za-z]:", name):
        raise PackError(name, "the path points outside the pack", kind="path")
    return name


def _json_object(name: str, data: bytes) -> dict:
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PackError(name, f"not valid JSON ({exc})", kind="json") from exc
    if not isinstance(value, dict):
        raise PackError(name, "must be a JSON object", kind="json")
    return value


def check_wav(name: str, data: bytes) -> None:
    try:
        with wave.open(io.BytesIO(data)) as w:
            if w.getcomptype() != "NONE" or w.getsampwidth() != 2:
                raise PackError(name, "the recording must be 16-bit PCM WAV", kind="wav")
            if w.getnchannels() != 1:
                raise PackError(name, "the recording must be mono", kind="wav")
            if w.getnframes() == 0:
                raise PackError(name, "the recording is empty", kind="wav")
    except (wave.Error, EOFError) as exc:
        raise PackError(name, f"not a WAV recording ({exc})", kind="wav") from exc


def _shipped_glyphs() -> set[int]:
    from reportlab.pdfbase.ttfonts import TTFontFile  # only when a pack is checked

    from kiosk.paths import resource

    glyphs: set[int] = set()
    for path in sorted(resource("fonts").glob("*.ttf")):
        glyphs.update(TTFontFile(str(path)).charToGlyph)
    return glyphs


def _check_drawable(name: str, texts: Iterable[str], glyphs: set[int]) -> None:
    for text in texts:
        for ch in nfc(text):
            if not ch.isspace() and ord(ch) not in glyphs:
                raise PackError(
                    name, f"the letter {ch!r} (U+{ord(ch):04X}) cannot be drawn", kind="glyph"
                )


def _check_profile(name: str, obj: dict, glyphs: set[int]) -> None:
    from kiosk.services.language_data import LanguageDataError, parse_profile, profile_texts

    try:
        profile = parse_profile(name, obj)
    except LanguageDataError as exc:
        raise PackError(name, exc.problem if exc.where == name else str(exc), kind="json") from exc
    _check_drawable(name, profile_texts(profile), glyphs)


def profile_of(obj: dict, manifest_part: Mapping | None = None) -> dict:
    """A pack's language profile: the file's entries, else the manifest's."""
    merged = dict(manifest_part or {})
    merged.update({k: v for k, v in obj.items() if k in ("keyboard", "number_kit")})
    return merged


def _texts(value: object) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _texts(v)


def _procedure_texts(name: str, obj: dict) -> dict:
    unknown = set(obj) - PROCEDURE_KEYS
    if unknown:
        raise PackError(name, f"unknown entries {sorted(unknown)}", kind="json")
    for key in ("title", "summary", "legal_basis"):
        if key in obj and not isinstance(obj[key], str):
            raise PackError(name, f"{key} must be a text", kind="json")
    fields = obj.get("fields", {})
    if not isinstance(fields, dict):
        raise PackError(name, "fields must be an object", kind="json")
    for fkey, f in fields.items():
        if not isinstance(f, dict) or set(f) - {"label", "hint", "choices"}:
            raise PackError(name, f"fields.{fkey} must hold label, hint, choices", kind="json")
        if any(not isinstance(f.get(k, ""), str) for k in ("label", "hint")):
            raise PackError(name, f"fields.{fkey}: label and hint must be texts", kind="json")
        choices = f.get("choices", {})
        if not isinstance(choices, dict) or not all(isinstance(v, str) for v in choices.values()):
            raise PackError(name, f"fields.{fkey}.choices must map values to texts", kind="json")
    docs = obj.get("documents", {})
    if not isinstance(docs, dict) or not all(isinstance(v, str) for v in docs.values()):
        raise PackError(name, "documents must map keys to texts", kind="json")
    return obj


def _manifest(data: bytes) -> dict:
    m = _json_object(MANIFEST, data)
    lang = m.get("language")
    if not isinstance(lang, str) or not LANG_TAG.match(lang):
        raise PackError(
            MANIFEST, "language must be a language tag such as tyz, ium, bru", kind="manifest"
        )
    if lang == "vi":
        raise PackError(MANIFEST, "Vietnamese is the source language, not a pack", kind="manifest")
    version = m.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise PackError(MANIFEST, "version must be a whole number from 1", kind="manifest")
    for key in ("name", "base_catalogue_version", "created_at"):
        if not isinstance(m.get(key), str) or not m[key].strip():
            raise PackError(MANIFEST, f"{key} is missing", kind="manifest")
    for key in ("translators", "reviewers"):
        people = m.get(key, [])  # optional: a missing list is an empty one, not a crash
        if not isinstance(people, list) or not all(isinstance(p, str) for p in people):
            raise PackError(MANIFEST, f"{key} must be a list of names", kind="manifest")
    files = m.get("files")
    if not isinstance(files, dict) or not all(
        isinstance(v, str) and re.fullmatch(r"[0-9a-f]{64}", v) for v in files.values()
    ):
        raise PackError(MANIFEST, "files must map each file to its sha256", kind="manifest")
    sources = m.get("sources", {})
    if not isinstance(sources, dict) or not all(isinstance(v, str) for v in sources.values()):
        raise PackError(MANIFEST, "sources must map items to hashes", kind="manifest")
    return m


def read_pack(path: Path, glyphs: set[int] | None = None) -> Pack:
    """Check a pack file whole and return its contents; PackError names what is wrong."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise PackError("", f"cannot read the pack ({exc.strerror})", kind="read") from exc
    if size > MAX_PACK_BYTES:
        raise PackError("", f"the pack is larger than {MAX_PACK_BYTES // 2**20} MiB", kind="size")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise PackError("", "not a language pack (not a zip file)", kind="zip") from exc
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        if len(infos) > MAX_FILES + 1:
            raise PackError("", f"more than {MAX_FILES} files", kind="count")
        names = set()
        for info in infos:
            _safe_name(info.filename)
            if info.file_size > MAX_FILE_BYTES:
                raise PackError(info.filename, "the file is larger than 20 MiB", kind="size")
            if info.filename in names:
                raise PackError(info.filename, "the file is in the pack twice", kind="unlisted")
            names.add(info.filename)
        if MANIFEST not in names:
            raise PackError(MANIFEST, "missing: this is not a language pack", kind="manifest")
        manifest = _manifest(_read(zf, MANIFEST))
        listed = dict(manifest["files"])
        for name in sorted(names - {MANIFEST}):
            if name not in listed:
                raise PackError(name, "not listed in the manifest", kind="unlisted")
        for name in sorted(listed):
            if name not in names:
                raise PackError(name, "listed in the manifest but missing", kind="unlisted")
        lang = manifest["language"]
        pack = Pack(
            lang,
            manifest["name"].strip(),
            manifest["version"],
            manifest["base_catalogue_version"],
            manifest,
        )
        glyphs = _shipped_glyphs() if glyphs is None else glyphs
        _check_drawable(MANIFEST, [pack.name], glyphs)
        in_manifest = {k: manifest[k] for k in ("keyboard", "number_kit") if k in manifest}
        if in_manifest:
            _check_profile(MANIFEST, in_manifest, glyphs)
            pack.profile = in_manifest
        for name in sorted(listed):
            data = _read(zf, name)
            if sha256(data) != listed[name]:
                raise PackError(
                    name, "its content does not match the manifest (changed?)", kind="hash"
                )
            parts = PurePosixPath(name).parts
            if len(parts) == 3 and parts[0] == "i18n" and name.endswith(".json"):
                if parts[1] != lang:
                    raise PackError(name, f"is not in the pack's language {lang}", kind="layout")
                obj = _json_object(name, data)
                for key, text in obj.items():
                    if key.startswith("_"):
                        continue
                    if not isinstance(text, str):
                        raise PackError(name, f"{key} must map to a text", kind="json")
                    if key in pack.strings:
                        raise PackError(name, f"{key} is defined twice", kind="json")
                    if text.strip():
                        pack.strings[key] = nfc(text)
                _check_drawable(name, pack.strings.values(), glyphs)
            elif len(parts) == 2 and parts[0] == "procedures" and name.endswith(".json"):
                code = parts[1][: -len(".json")]
                if not CODE_NAME.match(code):
                    raise PackError(name, "not a procedure code", kind="layout")
                obj = _procedure_texts(name, _json_object(name, data))
                _check_drawable(name, _texts(obj), glyphs)
                pack.procedures[code] = obj
            elif len(parts) == 3 and parts[0] == "audio" and name.endswith(".wav"):
                if parts[1] != lang:
                    raise PackError(name, f"is not in the pack's language {lang}", kind="layout")
                key = parts[2][: -len(".wav")]
                if not KEY_NAME.match(key):
                    raise PackError(name, "not a prompt key", kind="layout")
                check_wav(name, data)
                pack.recordings[key] = data
            elif parts == ("language", f"{lang}.json"):
                obj = _json_object(name, data)
                _check_profile(name, obj, glyphs)
                pack.profile = profile_of(obj, pack.profile)
            else:
                raise PackError(
                    name,
                    "a pack holds only i18n/, procedures/, audio/ and language/ files",
                    kind="layout",
                )
    return pack


def _read(zf: zipfile.ZipFile, name: str) -> bytes:
    with zf.open(name) as f:
        data = f.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise PackError(name, "the file is larger than 20 MiB", kind="size")
    return data


# ------------------------------------------------------------------------------- build


def build_pack(
    src: Path,
    lang: str,
    version: int,
    out: Path,
    *,
    name: str | None = None,
    base_catalogue_version: str,
    translators: list[str] | None = None,
    reviewers: list[str] | None = None,
    publisher: str | None = None,
    sources: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> Path:
    """Make a pack from a folder laid out like one (without the manifest). The language's
    own name is `name`, else the `lang.self` string of the folder's catalogue."""
    if not src.is_dir():
        raise PackError(str(src), "not a folder", kind="folder")
    files: dict[str, bytes] = {}
    for path in sorted(p for p in src.rglob("*") if p.is_file()):
        rel = path.relative_to(src).as_posix()
        if rel == MANIFEST:
            continue
        files[_safe_name(rel)] = path.read_bytes()
    strings: dict[str, str] = {}
    for rel, data in files.items():
        if rel.startswith(f"i18n/{lang}/") and rel.endswith(".json"):
            strings.update({k: v for k, v in _json_object(rel, data).items() if isinstance(v, str)})
    own_name = name or strings.get("lang.self")
    if not own_name:
        raise PackError("", "the language's own name is missing (lang.self or --name)", kind="name")
    manifest = {
        "format": FORMAT,
        "language": lang,
        "name": own_name,
        "version": version,
        "base_catalogue_version": base_catalogue_version,
        "translators": list(translators or []),
        "reviewers": list(reviewers or []),
        "created_at": (now or datetime.now(UTC)).replace(microsecond=0).isoformat(),
        "files": {rel: sha256(data) for rel, data in files.items()},
    }
    if publisher:
        manifest["publisher"] = publisher
    if sources:
        manifest["sources"] = dict(sorted(sources.items()))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        # Entries carry a fixed date: the same contents make the same bytes (and sha256),
        # so the province recognises a pack it has already been offered.
        entries = [(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2).encode())]
        for rel, data in [*entries, *files.items()]:
            info = zipfile.ZipInfo(rel, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    write_atomic(out, buf.getvalue())
    try:
        read_pack(out)  # a pack that its own kiosk would refuse is not made
    except PackError:
        out.unlink(missing_ok=True)
        raise
    return out


# ----------------------------------------------------------------------------- install


@dataclass(frozen=True)
class Installed:
    language: str
    name: str
    version: int
    previous: int | None
    folder: Path
    manifest: dict


class PackStore:
    """The installed packs of one data folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _state_path(self, lang: str) -> Path:
        return self.root / lang / "state.json"

    def _state(self, lang: str) -> dict:
        try:
            state = json.loads(self._state_path(lang).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return {}
        return state if isinstance(state, dict) else {}

    def languages(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if self._state(p.name).get("active"))

    def installed(self, lang: str) -> Installed | None:
        state = self._state(lang)
        version = state.get("active")
        if not isinstance(version, int):
            return None
        folder = self.root / lang / str(version)
        try:
            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None
        previous = state.get("previous")
        return Installed(
            lang,
            manifest.get("name", lang),
            version,
            previous if isinstance(previous, int) else None,
            folder,
            manifest,
        )

    def all_installed(self) -> list[Installed]:
        return [i for lang in self.languages() if (i := self.installed(lang)) is not None]

    def install(
        self,
        path: Path,
        known_keys: set[str],
        vi_texts: Mapping[str, str],
        *,
        allow_older: bool = False,
    ) -> ImportReport:
        """Check `path` whole, then install it; the previous version stays for restore."""
        pack = read_pack(path)
        current = self.installed(pack.language)
        if current is not None and pack.version <= current.version and not allow_older:
            raise PackError(
                "",
                f"version {pack.version} is not newer than the installed {current.version}",
                kind="version",
            )
        unknown = sorted(k for k in pack.strings if k not in known_keys)
        unknown += sorted(
            f"procedures/{c}" for c in pack.procedures if f"proc:{c}" not in known_keys
        )
        stale = sorted(
            item
            for item, h in pack.sources.items()
            if item in vi_texts and source_hash(vi_texts[item]) != h
        )
        folder = self.root / pack.language / str(pack.version)
        tmp = self.root / pack.language / f".{pack.version}.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        previous = current.version if current is not None else None
        try:
            tmp.mkdir(parents=True, mode=0o700)
            with zipfile.ZipFile(path) as zf:
                for info in zf.infolist():
                    if info.is_dir():
                        continue
                    target = tmp / info.filename
                    target.parent.mkdir(parents=True, exist_ok=True)
                    write_atomic(target, _read(zf, info.filename))
            shutil.rmtree(folder, ignore_errors=True)
            tmp.rename(folder)
            fsync_dir(folder.parent)
            self._switch(pack.language, pack.version, previous)
        except OSError as exc:  # a full disk, a read-only folder: the installed one stays
            shutil.rmtree(tmp, ignore_errors=True)
            if folder.exists() and (current is None or current.version != pack.version):
                shutil.rmtree(folder, ignore_errors=True)
            kind = "disk" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "write"
            raise PackError("", f"{exc.strerror or exc} ({self.root})", kind=kind) from exc
        except PackError:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return ImportReport(
            pack.language,
            pack.version,
            len(pack.strings),
            len(pack.procedures),
            len(pack.recordings),
            unknown,
            stale,
            previous,
        )

    def _switch(self, lang: str, active: int, previous: int | None) -> None:
        state = {"active": active, "previous": previous}
        write_atomic(self._state_path(lang), json.dumps(state).encode("utf-8"))

    def restore(self, lang: str) -> int:
        """Switch back to the version installed before; returns it."""
        current = self.installed(lang)
        if current is None or current.previous is None:
            raise PackError("", f"no earlier version of {lang} to restore", kind="version")
        if not (self.root / lang / str(current.previous) / MANIFEST).is_file():
            raise PackError(
                "", f"version {current.previous} of {lang} is no longer here", kind="version"
            )
        self._switch(lang, current.previous, None)
        return current.previous

    def remove(self, lang: str) -> None:
        """A withdrawn pack: switched off (its files stay until the next install)."""
        if self._state_path(lang).exists():
            self._state_path(lang).unlink()


# ------------------------------------------------------------------------------- apply


@dataclass
class Overlay:
    """What the installed packs add, by language, after the staleness check."""

    strings: dict[str, dict[str, str]] = field(default_factory=dict)
    procedures: dict[str, dict[str, dict]] = field(default_factory=dict)  # lang -> code -> texts
    audio_dirs: dict[str, Path] = field(default_factory=dict)  # lang -> folder of <key>.wav
    names: dict[str, str] = field(default_factory=dict)
    profiles: dict[str, dict] = field(default_factory=dict)  # lang -> language profile


def load_overlay(store: PackStore, vi_texts: Mapping[str, str]) -> Overlay:
    """Read the active installed packs; items whose Vietnamese source changed are left out.
    A broken installed pack is skipped (it was checked when installed)."""
    overlay = Overlay()
    for inst in store.all_installed():
        sources = inst.manifest.get("sources") or {}
        stale = {
            item
            for item, h in sources.items()
            if item in vi_texts and source_hash(vi_texts[item]) != h
        }
        strings: dict[str, str] = {}
        for path in sorted((inst.folder / "i18n" / inst.language).glob("*.json")):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                continue
            for key, text in data.items():
                if isinstance(text, str) and text.strip() and f"i18n:{key}" not in stale:
                    strings[key] = nfc(text)
        procs: dict[str, dict] = {}
        for path in sorted((inst.folder / "procedures").glob("*.json")):
            try:
                texts = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                continue
            code = path.stem
            procs[code] = _drop_stale(code, texts, stale)
        overlay.strings[inst.language] = strings
        overlay.procedures[inst.language] = procs
        overlay.names[inst.language] = inst.name
        profile = {k: inst.manifest[k] for k in ("keyboard", "number_kit") if k in inst.manifest}
        try:
            path = inst.folder / "language" / f"{inst.language}.json"
            profile = profile_of(json.loads(path.read_text(encoding="utf-8")), profile)
        except (OSError, json.JSONDecodeError, AttributeError):
            pass
        if profile:
            overlay.profiles[inst.language] = profile
        audio = inst.folder / "audio"
        if (audio / inst.language).is_dir():
            overlay.audio_dirs[inst.language] = audio
    return overlay


def _drop_stale(code: str, texts: dict, stale: set[str]) -> dict:
    out = {k: v for k, v in texts.items() if k in ("title", "summary", "legal_basis")}
    out = {k: v for k, v in out.items() if f"proc:{code}:{k}" not in stale}
    fields = {}
    for fkey, f in (texts.get("fields") or {}).items():
        kept = {
            k: v
            for k, v in f.items()
            if k in ("label", "hint") and f"proc:{code}:fields.{fkey}.{k}" not in stale
        }
        choices = {
            c: v
            for c, v in (f.get("choices") or {}).items()
            if f"proc:{code}:fields.{fkey}.choices.{c}" not in stale
        }
        if choices:
            kept["choices"] = choices
        fields[fkey] = kept
    out["fields"] = fields
    out["documents"] = {
        d: v
        for d, v in (texts.get("documents") or {}).items()
        if f"proc:{code}:documents.{d}" not in stale
    }
    return out


def procedure_vi_texts(catalogue) -> dict[str, str]:
    """Every Vietnamese procedure text, by item id (proc:<code>:<path>)."""
    items: dict[str, str] = {}
    for proc in catalogue:
        base = f"proc:{proc.code}"
        for key, texts in (
            ("title", proc.titles),
            ("summary", proc.summaries),
            ("legal_basis", proc.legal_bases),
        ):
            if texts.get("vi"):
                items[f"{base}:{key}"] = texts["vi"]
        for f in proc.fields:
            items[f"{base}:fields.{f.key}.label"] = f.labels.get("vi", "")
            if f.hints.get("vi"):
                items[f"{base}:fields.{f.key}.hint"] = f.hints["vi"]
            for c in f.choices:
                items[f"{base}:fields.{f.key}.choices.{c.key}"] = c.labels.get("vi", "")
        for d in proc.required_documents:
            items[f"{base}:documents.{d.key}"] = d.titles.get("vi", "")
    return items


def apply_procedure_texts(catalogue, overlay: Overlay) -> None:
    """Write the packs' procedure texts into the catalogue's text maps (a pack's text wins
    over a text the portal sent for that language; the Vietnamese is never touched)."""
    for lang, procs in overlay.procedures.items():
        for code, texts in procs.items():
            proc = catalogue.get(code)
            if proc is None:
                continue
            for key, target in (
                ("title", proc.titles),
                ("summary", proc.summaries),
                ("legal_basis", proc.legal_bases),
            ):
                if texts.get(key):
                    target[lang] = nfc(texts[key])
            for f in proc.fields:
                ft = (texts.get("fields") or {}).get(f.key) or {}
                if ft.get("label"):
                    f.labels[lang] = nfc(ft["label"])
                if ft.get("hint"):
                    f.hints[lang] = nfc(ft["hint"])
                for c in f.choices:
                    if (ft.get("choices") or {}).get(c.key):
                        c.labels[lang] = nfc(ft["choices"][c.key])
            for d in proc.required_documents:
                if (texts.get("documents") or {}).get(d.key):
                    d.titles[lang] = nfc(texts["documents"][d.key])


def known_items(translator, catalogue) -> tuple[set[str], dict[str, str]]:
    """What this kiosk can take from a pack: its string keys and procedure codes, and the
    Vietnamese text of every item (for the staleness check)."""
    vi = translator.catalogues.get("vi", {})
    keys = set(vi) | {f"proc:{p.code}" for p in catalogue}
    texts = {f"i18n:{k}": v for k, v in vi.items()} | procedure_vi_texts(catalogue)
    return keys, texts


def apply_installed(store: PackStore, translator, catalogue) -> Overlay:
    """Put the installed packs' texts into the translator and the catalogue."""
    overlay = load_overlay(store, known_items(translator, catalogue)[1])
    translator.add_pack_strings(overlay.strings)
    apply_procedure_texts(catalogue, overlay)
    return overlay
