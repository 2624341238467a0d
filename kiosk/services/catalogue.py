"""The procedure catalogue: JSON files under resources/procedures/, validated when loaded.

Each file holds one procedure in the portal's Procedure shape (see docs/portal-api.yaml) plus a
few kiosk-only keys (`category`, `verified`, `source`, `order`, `keywords`, and per-field
`max_today`, `min`, `max`, `max_length`, `decimals`). A broken file stops the loader with
a `CatalogueFileError` naming the file and the field, so a bad edit is caught at start-up
and in CI rather than in front of a citizen.

The portal can update the catalogue (GET /procedures?since=): `Catalogue.merge_remote`
folds its answer in, `save_overlay`/`load_overlay` keep the merged state across restarts.
`validate_value` checks and converts what a citizen typed into a form field.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from kiosk.files import write_atomic
from kiosk.services.fees import FeeRule, FeeRuleError, flat_rule, merge_fee, parse_fee
from kiosk.services.i18n import FALLBACK, LANGUAGES
from kiosk.services.text import fold, nfc, strip_invisible, tokens

log = logging.getLogger(__name__)

FIELD_TYPES: tuple[str, ...] = (
    "text",
    "date",
    "choice",
    "phone",
    "number",
    "id_number",
    "checkbox",
)
PREFILL_NAMES: tuple[str, ...] = (
    "full_name",
    "id_number",
    "date_of_birth",
    "sex",
    "address",
    "old_id_number",
    "issue_date",
    # From the card's chip only (DG13), when it was read in this visit.
    "ethnicity",
    "religion",
    "place_of_origin",
    "father_name",
    "mother_name",
    "spouse_name",
)
LEVELS: tuple[str, ...] = ("commune", "district", "province")
CATEGORIES: tuple[str, ...] = ("civil_status", "certification", "business", "social", "agriculture")
OTHER_CATEGORY = "other"  # procedures the portal adds that no local file describes
GENERIC_PICTOGRAM = "procedure_generic"
FALLBACK_LANG = FALLBACK
OVERLAY_FORMAT = 1

# Which field types a card value can fill: a date of birth cannot prefill a phone field.
# What the QR code of any card gives (the chip's fields need the card's own holder).
_CARD_NAMES = ("full_name", "id_number", "date_of_birth", "sex", "address", "old_id_number")
_PREFILL_TYPES: dict[str, tuple[str, ...]] = {
    "full_name": ("text",),
    "id_number": ("id_number", "text"),
    "old_id_number": ("text",),  # 9 digits that may start with 0: never a number
    "date_of_birth": ("date",),
    "issue_date": ("date",),
    "sex": ("choice",),
    "address": ("text",),
    "ethnicity": ("text",),
    "religion": ("text",),
    "place_of_origin": ("text",),
    "father_name": ("text",),
    "mother_name": ("text",),
    "spouse_name": ("text",),
}

# Province-local procedures shipped under a placeholder code now carry the portal's local
# form; dossiers made before keep their old code and still find their procedure.
RENAMED = {"LOCAL-001": "QNI-L001", "LOCAL-002": "QNI-L002"}
_KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_CODE_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]*$")
_TOP_KEYS = frozenset(
    {
        "code", "version", "updated_at", "title", "summary", "legal_basis", "pictogram",
        "withdrawn", "level", "fee_vnd", "fee", "processing_days", "required_documents", "fields",
        # kiosk-only additions
        "category", "verified", "source", "order", "keywords", "_comment",
    }
)  # fmt: skip
_FIELD_KEYS = frozenset(
    {
        "key", "type", "required", "label", "choices", "prefill",
        "max_today", "min", "max", "max_length", "decimals", "hint",
        # kiosk-only: how the answer is given on the screen; a value from another
        # person's card (the partner's), scanned on the question
        "input", "prefill_other",
    }
)  # fmt: skip
_DOC_KEYS = frozenset({"key", "title", "required"})
INPUTS = ("place",)  # a text field's other ways of answering
_CHOICE_KEYS = frozenset({"key", "label"})

# Error keys returned by validate_value (texts in resources/i18n/<lang>/catalogue.json).
ERR_REQUIRED = "catalogue.err.required"
ERR_DATE_INVALID = "catalogue.err.date_invalid"
ERR_DATE_FUTURE = "catalogue.err.date_future"
ERR_DATE_TOO_EARLY = "catalogue.err.date_too_early"
ERR_DATE_TOO_LATE = "catalogue.err.date_too_late"
ERR_PHONE_INVALID = "catalogue.err.phone_invalid"
ERR_ID_NUMBER_INVALID = "catalogue.err.id_number_invalid"
ERR_NUMBER_INVALID = "catalogue.err.number_invalid"
ERR_NUMBER_TOO_SMALL = "catalogue.err.number_too_small"
ERR_NUMBER_TOO_LARGE = "catalogue.err.number_too_large"
ERR_CHOICE_INVALID = "catalogue.err.choice_invalid"
ERR_TEXT_TOO_LONG = "catalogue.err.text_too_long"
ERR_MUST_CHECK = "catalogue.err.must_check"
ERR_CATALOGUE_BROKEN = "catalogue.err.catalogue_broken"

DEFAULT_TEXT_MAX = 200


def pick_text(texts: Mapping[str, str], lang: str) -> str:
    """The text in `lang`, else Vietnamese, else empty."""
    return texts.get(lang) or texts.get(FALLBACK_LANG) or ""


# ----------------------------------------------------------------------------- errors


class CatalogueFileError(ValueError):
    """A procedure file (or remote entry) is not valid. The message names file and field."""

    key = ERR_CATALOGUE_BROKEN

    def __init__(self, source: str, where: str, problem: str) -> None:
        self.source = source
        self.where = where
        self.problem = problem
        self.detail = f"{source}: {where}: {problem}" if where else f"{source}: {problem}"
        super().__init__(self.detail)


class _Invalid(Exception):
    """Raised inside the parser; the loader adds the file name."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


# ---------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Choice:
    key: str
    labels: dict[str, str]

    def label(self, lang: str) -> str:
        return pick_text(self.labels, lang)


@dataclass(frozen=True)
class Field:
    key: str
    type: str
    required: bool
    labels: dict[str, str]
    choices: tuple[Choice, ...] = ()
    prefill: str | None = None
    hints: dict[str, str] = field(default_factory=dict)
    max_today: bool = False  # date: no later than today (a birth date, a death date)
    min: str | float | None = None  # date: "YYYY-MM-DD" or "today"; number: a number
    max: str | float | None = None
    max_length: int | None = None  # text
    decimals: int = 0  # number: 0 means whole numbers only
    input: str | None = None  # text: "place" is chosen from the lists of places
    prefill_other: str | None = None  # a card field of another person's card (the partner's)

    def label(self, lang: str) -> str:
        return pick_text(self.labels, lang)

    def hint(self, lang: str) -> str:
        return pick_text(self.hints, lang)

    def choice(self, key: str) -> Choice | None:
        return next((c for c in self.choices if c.key == key), None)


@dataclass(frozen=True)
class Document:
    key: str
    titles: dict[str, str]
    required: bool = True

    def title(self, lang: str) -> str:
        return pick_text(self.titles, lang)


@dataclass(frozen=True)
class Procedure:
    code: str
    version: int
    titles: dict[str, str]
    fields: tuple[Field, ...]
    summaries: dict[str, str] = field(default_factory=dict)
    legal_bases: dict[str, str] = field(default_factory=dict)
    pictogram: str = GENERIC_PICTOGRAM
    withdrawn: bool = False
    level: str = "commune"
    fee_vnd: int | None = None  # None: not stated
    fee: FeeRule | None = None  # contract 1.1 `fee`: tiers, cap, exemption grounds
    processing_days: int | None = None  # working days
    required_documents: tuple[Document, ...] = ()
    updated_at: str | None = None
    category: str = OTHER_CATEGORY
    verified: bool = False
    source: str = ""
    order: int = 1000
    keywords: dict[str, tuple[str, ...]] = field(default_factory=dict)
    origin: str = "local"  # "local", "remote" (portal only) or "merged"

    def title(self, lang: str) -> str:
        return pick_text(self.titles, lang)

    def summary(self, lang: str) -> str:
        return pick_text(self.summaries, lang)

    def legal_basis(self, lang: str) -> str:
        return pick_text(self.legal_bases, lang)

    def field(self, key: str) -> Field | None:
        return next((f for f in self.fields if f.key == key), None)

    @property
    def is_free(self) -> bool:
        return self.fee_vnd == 0 if self.fee is None else self.fee.is_free

    def fee_rule(self) -> FeeRule | None:
        """The fee rules: `fee` where given, else the flat fee_vnd; None: not stated."""
        if self.fee is not None:
            return self.fee
        return flat_rule(self.fee_vnd) if self.fee_vnd is not None else None


@dataclass(frozen=True)
class SkippedEntry:
    """A remote procedure that failed validation and was left out."""

    index: int
    code: str | None
    problem: str
    superseded: bool = False  # valid, but older than the version the kiosk already has


@dataclass(frozen=True)
class MergeReport:
    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    withdrawn: tuple[str, ...] = ()
    skipped: tuple[SkippedEntry, ...] = ()
    notes: tuple[str, ...] = ()  # accepted with a correction, e.g. an unknown pictogram


# ----------------------------------------------------------------------------- parser


def _where(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _expect_obj(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Invalid(where, f"must be an object, not {_type_name(value)}")
    return value


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
            dict: "object"}.get(type(value), type(value).__name__)  # fmt: skip


def _check_keys(obj: Mapping[str, Any], allowed: frozenset[str], where: str, strict: bool) -> None:
    if not strict:
        return  # the portal may send keys a newer contract adds
    for key in obj:
        if key not in allowed:
            raise _Invalid(_where(where, key), "unknown key (misspelt?)")


def _str(obj: Mapping[str, Any], key: str, where: str, *, required: bool) -> str | None:
    if key not in obj or obj[key] is None:
        if required:
            raise _Invalid(_where(where, key), "missing")
        return None
    value = obj[key]
    if not isinstance(value, str):
        raise _Invalid(_where(where, key), f"must be a string, not {_type_name(value)}")
    value = nfc(value).strip()
    if required and not value:
        raise _Invalid(_where(where, key), "must not be empty")
    return value


def _bool(obj: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
    if key not in obj or obj[key] is None:
        return default
    value = obj[key]
    if not isinstance(value, bool):
        raise _Invalid(_where(where, key), f"must be true or false, not {_type_name(value)}")
    return value


def _int(obj: Mapping[str, Any], key: str, where: str, *, required: bool, minimum: int = 0
         ) -> int | None:  # fmt: skip
    if key not in obj or obj[key] is None:
        if required:
            raise _Invalid(_where(where, key), "missing")
        return None
    value = obj[key]
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON writers sometimes emit 5.0
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(_where(where, key), f"must be a whole number, not {_type_name(value)}")
    if value < minimum:
        raise _Invalid(_where(where, key), f"must be at least {minimum}, not {value}")
    return value


def _texts(obj: Mapping[str, Any], key: str, where: str, *, required: bool, need_en: bool
           ) -> dict[str, str]:  # fmt: skip
    """A {lang: text} object. vi is always needed when present; en too for shipped files."""
    here = _where(where, key)
    if key not in obj or obj[key] is None:
        if required:
            raise _Invalid(here, "missing")
        return {}
    value = _expect_obj(obj[key], here)
    texts: dict[str, str] = {}
    for lang, text in value.items():
        if not isinstance(text, str):
            raise _Invalid(f"{here}.{lang}", f"must be a string, not {_type_name(text)}")
        if need_en and lang not in LANGUAGES:
            raise _Invalid(f"{here}.{lang}", f"unknown language; allowed: {', '.join(LANGUAGES)}")
        text = nfc(text).strip()
        if text:
            texts[lang] = text
    if FALLBACK_LANG not in texts:
        raise _Invalid(f"{here}.vi", "missing (the Vietnamese text is always needed)")
    if need_en and "en" not in texts:
        raise _Invalid(f"{here}.en", "missing (shipped files carry English too)")
    return texts


def _date_bound(value: object, where: str) -> str | None:
    if value is None:
        return None
    if value == "today":
        return "today"
    if isinstance(value, str):
        try:
            date.fromisoformat(value)
        except ValueError:
            pass
        else:
            return value
    raise _Invalid(where, f"{value!r} is not a date YYYY-MM-DD or 'today'")


def _parse_field(raw: object, where: str, strict: bool) -> Field:
    obj = _expect_obj(raw, where)
    _check_keys(obj, _FIELD_KEYS, where, strict)
    key = _str(obj, "key", where, required=True)
    assert key is not None
    if not _KEY_RE.match(key):
        raise _Invalid(_where(where, "key"), f"{key!r} must be lower-case letters, digits, _")
    ftype = _str(obj, "type", where, required=True)
    if ftype not in FIELD_TYPES:
        raise _Invalid(_where(where, "type"), f"{ftype!r} is not one of {', '.join(FIELD_TYPES)}")
    required = _bool(obj, "required", where, default=False)
    labels = _texts(obj, "label", where, required=True, need_en=strict)
    hints = _texts(obj, "hint", where, required=False, need_en=strict)

    choices: list[Choice] = []
    raw_choices = obj.get("choices")
    if ftype == "choice":
        if not isinstance(raw_choices, list) or not raw_choices:
            raise _Invalid(_where(where, "choices"), "a choice field needs a non-empty list")
        seen: set[str] = set()
        for i, rc in enumerate(raw_choices):
            cw = f"{where}.choices[{i}]"
            co = _expect_obj(rc, cw)
            _check_keys(co, _CHOICE_KEYS, cw, strict)
            ck = _str(co, "key", cw, required=True)
            assert ck is not None
            if ck in seen:
                raise _Invalid(_where(cw, "key"), f"duplicate choice {ck!r}")
            seen.add(ck)
            choices.append(Choice(ck, _texts(co, "label", cw, required=True, need_en=strict)))
    elif raw_choices not in (None, []) and strict:
        raise _Invalid(_where(where, "choices"), f"only a choice field has choices, not {ftype}")

    prefill = _str(obj, "prefill", where, required=False) or None
    if prefill is not None:
        if prefill not in PREFILL_NAMES:
            raise _Invalid(
                _where(where, "prefill"),
                f"{prefill!r} is not a card field; one of {', '.join(PREFILL_NAMES)}",
            )
        if ftype not in _PREFILL_TYPES[prefill]:
            raise _Invalid(_where(where, "prefill"), f"{prefill!r} cannot fill a {ftype} field")
        if prefill == "sex" and {c.key for c in choices} != {"male", "female"}:
            raise _Invalid(
                _where(where, "choices"), "a field filled from sex needs keys male, female"
            )

    prefill_other = _str(obj, "prefill_other", where, required=False) or None
    if prefill_other is not None and (
        prefill_other not in _CARD_NAMES or ftype not in _PREFILL_TYPES[prefill_other]
    ):
        raise _Invalid(
            _where(where, "prefill_other"),
            f"{prefill_other!r} cannot fill a {ftype} field from a card; "
            f"one of {', '.join(_CARD_NAMES)}",
        )

    field_input = _str(obj, "input", where, required=False) or None
    if field_input is not None and (field_input not in INPUTS or ftype != "text"):
        raise _Invalid(
            _where(where, "input"),
            f"{field_input!r}: only a text field, one of {', '.join(INPUTS)}",
        )

    max_today = _bool(obj, "max_today", where, default=False)
    if max_today and ftype != "date":
        raise _Invalid(_where(where, "max_today"), "only for date fields")
    lo: str | float | None = None
    hi: str | float | None = None
    if ftype == "date":
        lo = _date_bound(obj.get("min"), _where(where, "min"))
        hi = _date_bound(obj.get("max"), _where(where, "max"))
    elif ftype == "number":
        for name in ("min", "max"):
            v = obj.get(name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
                raise _Invalid(_where(where, name), f"must be a number, not {_type_name(v)}")
        lo, hi = obj.get("min"), obj.get("max")
    elif strict and (obj.get("min") is not None or obj.get("max") is not None):
        raise _Invalid(_where(where, "min"), "min/max only for date and number fields")
    max_length = _int(obj, "max_length", where, required=False, minimum=1)
    decimals = _int(obj, "decimals", where, required=False) or 0
    if decimals and ftype != "number":
        raise _Invalid(_where(where, "decimals"), "only for number fields")
    return Field(
        key=key,
        type=ftype,
        required=required,
        labels=labels,
        choices=tuple(choices),
        prefill=prefill,
        hints=hints,
        max_today=max_today,
        min=lo,
        max=hi,
        max_length=max_length,
        decimals=decimals,
        input=field_input,
        prefill_other=prefill_other,
    )


def _parse_document(raw: object, where: str, strict: bool) -> Document:
    obj = _expect_obj(raw, where)
    _check_keys(obj, _DOC_KEYS, where, strict)
    key = _str(obj, "key", where, required=True)
    assert key is not None
    if not _KEY_RE.match(key):
        raise _Invalid(_where(where, "key"), f"{key!r} must be lower-case letters, digits, _")
    titles = _texts(obj, "title", where, required=True, need_en=strict)
    return Document(key, titles, _bool(obj, "required", where, default=True))


def _list(obj: Mapping[str, Any], key: str, *, required: bool) -> list[Any]:
    if key not in obj or obj[key] is None:
        if required:
            raise _Invalid(key, "missing")
        return []
    value = obj[key]
    if not isinstance(value, list):
        raise _Invalid(key, f"must be an array, not {_type_name(value)}")
    return value


def parse_procedure(raw: object, *, strict: bool, pictograms: frozenset[str] | None) -> Procedure:
    """Validate one Procedure object. `strict` is for shipped files: English texts, a
    category and a known pictogram are required and unknown keys are refused.
    Raises _Invalid (wrapped into CatalogueFileError by the callers)."""
    obj = _expect_obj(raw, "")
    _check_keys(obj, _TOP_KEYS, "", strict)
    code = _str(obj, "code", "", required=True)
    assert code is not None
    if not _CODE_RE.match(code):
        raise _Invalid("code", f"{code!r} is not a procedure code")
    version = _int(obj, "version", "", required=True, minimum=1)
    assert version is not None
    updated_at = _str(obj, "updated_at", "", required=False)
    if updated_at:
        try:
            datetime.fromisoformat(updated_at.replace("Z", "+00:00"))
        except ValueError:
            raise _Invalid("updated_at", f"{updated_at!r} is not a date-time") from None
    titles = _texts(obj, "title", "", required=True, need_en=strict)
    summaries = _texts(obj, "summary", "", required=strict, need_en=strict)
    legal = _texts(obj, "legal_basis", "", required=False, need_en=strict)

    pictogram = _str(obj, "pictogram", "", required=strict)
    if pictogram and pictograms is not None and pictogram not in pictograms:
        raise _Invalid("pictogram", f"no file {pictogram}.svg among the pictograms")

    level = _str(obj, "level", "", required=False) or "commune"
    if level not in LEVELS:
        raise _Invalid("level", f"{level!r} is not one of {', '.join(LEVELS)}")

    docs: list[Document] = []
    seen_docs: set[str] = set()
    for i, rd in enumerate(_list(obj, "required_documents", required=False)):
        doc = _parse_document(rd, f"required_documents[{i}]", strict)
        if doc.key in seen_docs:
            raise _Invalid(f"required_documents[{i}].key", f"duplicate document {doc.key!r}")
        seen_docs.add(doc.key)
        docs.append(doc)

    fields: list[Field] = []
    seen_fields: set[str] = set()
    for i, rf in enumerate(_list(obj, "fields", required=True)):
        fld = _parse_field(rf, f"fields[{i}]", strict)
        if fld.key in seen_fields:
            raise _Invalid(f"fields[{i}].key", f"duplicate field {fld.key!r}")
        seen_fields.add(fld.key)
        fields.append(fld)

    category = _str(obj, "category", "", required=strict)
    if category is not None and category not in CATEGORIES:
        raise _Invalid("category", f"{category!r} is not one of {', '.join(CATEGORIES)}")

    keywords: dict[str, tuple[str, ...]] = {}
    if obj.get("keywords") is not None:
        kw = _expect_obj(obj["keywords"], "keywords")
        for lang, words in kw.items():
            if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
                raise _Invalid(f"keywords.{lang}", "must be a list of strings")
            keywords[lang] = tuple(nfc(w).strip() for w in words if w.strip())

    fee = None
    if obj.get("fee") is not None:
        try:
            fee = parse_fee(obj["fee"], "fee", strict=strict)
        except FeeRuleError as exc:
            raise _Invalid(exc.where, exc.problem) from None
        for name in (fee.quantity_field, fee.copies_field):
            if name and name not in seen_fields:
                raise _Invalid("fee", f"counts the answer {name!r}, which is not a field")
        for i, ground in enumerate(fee.grounds):
            if pictograms is not None and ground.pictogram not in pictograms:
                raise _Invalid(
                    f"fee.exemption_grounds[{i}].pictogram", f"no file {ground.pictogram}.svg"
                )

    return Procedure(
        code=code,
        version=version,
        titles=titles,
        fields=tuple(fields),
        summaries=summaries,
        legal_bases=legal,
        pictogram=pictogram or GENERIC_PICTOGRAM,
        withdrawn=_bool(obj, "withdrawn", "", default=False),
        level=level,
        fee_vnd=_int(obj, "fee_vnd", "", required=False),
        fee=fee,
        processing_days=_int(obj, "processing_days", "", required=False),
        required_documents=tuple(docs),
        updated_at=updated_at,
        category=category or OTHER_CATEGORY,
        verified=_bool(obj, "verified", "", default=False),
        source=_str(obj, "source", "", required=False) or "",
        order=_int(obj, "order", "", required=False) or 1000,
        keywords=keywords,
    )


# ------------------------------------------------------------------------- catalogue


def _pictogram_names(pictogram_dir: Path) -> frozenset[str]:
    return frozenset(p.stem for p in pictogram_dir.glob("*.svg"))


def load_catalogue(folder: Path, pictogram_dir: Path, overlay: Path | None = None) -> Catalogue:
    """Load and validate every *.json in `folder`; the first problem stops with a
    CatalogueFileError. With `overlay`, the saved portal updates are applied on top."""
    pictograms = _pictogram_names(pictogram_dir)
    procedures: dict[str, Procedure] = {}
    files: dict[str, Path] = {}
    paths = sorted(folder.glob("*.json"))
    if not paths:
        raise CatalogueFileError(str(folder), "", "no procedure files (*.json)")
    for path in paths:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CatalogueFileError(str(path), "", f"not valid JSON ({exc})") from exc
        try:
            proc = parse_procedure(data, strict=True, pictograms=pictograms)
        except _Invalid as exc:
            raise CatalogueFileError(str(path), exc.where, exc.problem) from None
        if proc.code in procedures:
            raise CatalogueFileError(
                str(path), "code", f"{proc.code!r} is already used by {files[proc.code].name}"
            )
        procedures[proc.code] = proc
        files[proc.code] = path
    catalogue = Catalogue(procedures, pictogram_dir, pictograms)
    if overlay is not None:
        catalogue = catalogue.load_overlay(overlay)
    return catalogue


def load_default_catalogue(overlay: Path | None = None) -> Catalogue:
    from kiosk.paths import resource

    return load_catalogue(resource("procedures"), resource("pictograms"), overlay)


def _keep_translations(remote: Mapping[str, str], local: Mapping[str, str]) -> dict[str, str]:
    """Remote texts replace local ones; the local translations stay only while the
    Vietnamese text they translate is unchanged (else they would say something else)."""
    if not remote:
        return dict(local)
    if remote.get(FALLBACK_LANG) == local.get(FALLBACK_LANG):
        return {**local, **remote}
    return dict(remote)


def _merge_fields(remote: tuple[Field, ...], local: tuple[Field, ...]) -> tuple[Field, ...]:
    by_key = {f.key: f for f in local}
    merged = []
    for rf in remote:
        lf = by_key.get(rf.key)
        if lf is None:
            merged.append(rf)
            continue
        local_choices = {c.key: c for c in lf.choices}
        choices = tuple(
            Choice(c.key, _keep_translations(c.labels, local_choices[c.key].labels))
            if c.key in local_choices
            else c
            for c in rf.choices
        )
        merged.append(
            replace(
                rf,
                labels=_keep_translations(rf.labels, lf.labels),
                hints=_keep_translations(rf.hints, lf.hints) if rf.hints else lf.hints,
                choices=choices,
                input=rf.input or lf.input,  # kiosk-only: the portal does not send it
                prefill_other=rf.prefill_other or lf.prefill_other,
            )
        )
    return tuple(merged)


def _merge_documents(
    remote: tuple[Document, ...], local: tuple[Document, ...]
) -> tuple[Document, ...]:
    by_key = {d.key: d for d in local}
    return tuple(
        replace(d, titles=_keep_translations(d.titles, by_key[d.key].titles))
        if d.key in by_key
        else d
        for d in remote
    )


@dataclass
class Catalogue:
    procedures: dict[str, Procedure]
    pictogram_dir: Path
    pictograms: frozenset[str]
    last_as_of: str | None = None
    # The accepted portal entries as received, newest per code: the overlay file.
    remote: dict[str, dict[str, Any]] = field(default_factory=dict)
    merge_report: MergeReport = field(default_factory=MergeReport)
    # The shipped procedures, so a re-merge (overlay on a new release) starts from them.
    base: dict[str, Procedure] | None = None

    def __post_init__(self) -> None:
        if self.base is None:
            self.base = dict(self.procedures)

    # -- lookup
    def get(self, code: str) -> Procedure | None:
        """Any known procedure, withdrawn ones too (old dossiers still refer to them), also
        under a code it had before the province gave it its local code."""
        return self.procedures.get(code) or self.procedures.get(RENAMED.get(code, ""))

    def __contains__(self, code: object) -> bool:
        return code in self.procedures

    def __len__(self) -> int:
        return len(self.procedures)

    def __iter__(self) -> Iterator[Procedure]:
        return iter(self._ordered(self.procedures.values()))

    def _ordered(self, procs: Iterable[Procedure]) -> list[Procedure]:
        rank = {c: i for i, c in enumerate(CATEGORIES)}
        return sorted(
            procs, key=lambda p: (rank.get(p.category, len(rank)), p.order, fold(p.title("vi")))
        )

    def visible(self, category: str | None = None) -> list[Procedure]:
        """What the kiosk offers: not withdrawn, by category then `order`."""
        return self._ordered(
            p
            for p in self.procedures.values()
            if not p.withdrawn and (category is None or p.category == category)
        )

    def categories(self) -> list[str]:
        """Category keys that have at least one offered procedure, in display order."""
        present = {p.category for p in self.procedures.values() if not p.withdrawn}
        return [c for c in (*CATEGORIES, OTHER_CATEGORY) if c in present]

    def pictogram_path(self, name: str) -> Path:
        if name not in self.pictograms:
            name = GENERIC_PICTOGRAM
        return self.pictogram_dir / f"{name}.svg"

    # -- search
    def search(self, query: str, lang: str = FALLBACK_LANG) -> list[Procedure]:
        """Offered procedures matching every word of `query` (diacritics and case ignored;
        a word may be the start of a longer one). Matches in the title, in `lang` or in
        Vietnamese, come before matches that need the summary or keywords."""
        words = tokens(nfc(query))
        if not words:
            return self.visible()
        phrase = " ".join(words)
        ranked: list[tuple[int, int, Procedure]] = []
        for pos, proc in enumerate(self.visible()):
            langs = (lang, FALLBACK_LANG) if lang != FALLBACK_LANG else (FALLBACK_LANG,)
            title_text = " ".join(proc.titles.get(lg, "") for lg in langs)
            other_text = " ".join(
                [proc.summaries.get(lg, "") for lg in langs]
                + [w for lg in langs for w in proc.keywords.get(lg, ())]
                + [proc.code]
            )
            title_words = tokens(title_text)
            all_words = title_words + tokens(other_text)
            if f" {phrase}" in " " + " ".join(title_words):  # the phrase, from a word start
                tier = 0
            elif _all_match(words, title_words):
                tier = 1
            elif _all_match(words, all_words):
                tier = 2
            else:
                continue
            ranked.append((tier, pos, proc))
        ranked.sort(key=lambda t: (t[0], t[1]))
        return [p for _, _, p in ranked]

    # -- portal updates
    def merge_remote(self, procedures: list[dict[str, Any]], as_of: str) -> Catalogue:
        """Fold in the answer of GET /procedures?since=: a new Catalogue (this one is not
        changed). Bad entries are skipped and listed in the result's `merge_report`."""
        return self._merge(procedures, as_of, keep_previous=True)

    def _merge(self, entries: list[Any], as_of: str | None, *, keep_previous: bool) -> Catalogue:
        procs = dict(self.procedures)
        remote = dict(self.remote) if keep_previous else {}
        added: list[str] = []
        updated: list[str] = []
        withdrawn: list[str] = []
        skipped: list[SkippedEntry] = []
        notes: list[str] = []
        seen: set[str] = set()
        if not isinstance(entries, list):
            entries = []
            skipped.append(SkippedEntry(-1, None, "procedures: must be an array"))
        for i, raw in enumerate(entries):
            code = raw.get("code") if isinstance(raw, dict) else None
            code = code if isinstance(code, str) else None
            try:
                rp = parse_procedure(raw, strict=False, pictograms=None)
            except _Invalid as exc:
                skipped.append(SkippedEntry(i, code, f"{exc.where}: {exc.problem}"))
                continue
            if rp.code in seen:
                skipped.append(SkippedEntry(i, rp.code, "code: duplicate in this answer"))
                continue
            seen.add(rp.code)
            local = procs.get(rp.code)
            if local is not None and rp.version < local.version:
                skipped.append(
                    SkippedEntry(
                        i, rp.code, f"version: {rp.version} is older than {local.version}", True
                    )
                )
                continue
            pictogram_given = isinstance(raw.get("pictogram"), str) and raw["pictogram"].strip()
            if pictogram_given and rp.pictogram not in self.pictograms:
                notes.append(
                    f"{rp.code}: pictogram {rp.pictogram!r} not shipped; kept the local one"
                )
                pictogram_given = False
            if local is None:
                merged = replace(
                    rp,
                    pictogram=rp.pictogram if pictogram_given else GENERIC_PICTOGRAM,
                    origin="remote",
                    source=rp.source or "portal",
                    verified=False,
                )
                added.append(rp.code)
            else:
                fee = rp.fee_vnd if "fee_vnd" in raw else local.fee_vnd
                merged = replace(
                    rp,
                    titles=_keep_translations(rp.titles, local.titles),
                    summaries=_keep_translations(rp.summaries, local.summaries),
                    legal_bases=_keep_translations(rp.legal_bases, local.legal_bases),
                    pictogram=rp.pictogram if pictogram_given else local.pictogram,
                    level=rp.level if "level" in raw else local.level,
                    fee_vnd=fee,
                    fee=merge_fee(rp.fee, local.fee),
                    processing_days=(
                        rp.processing_days if "processing_days" in raw else local.processing_days
                    ),
                    required_documents=(
                        _merge_documents(rp.required_documents, local.required_documents)
                        if "required_documents" in raw
                        else local.required_documents
                    ),
                    fields=_merge_fields(rp.fields, local.fields),
                    category=rp.category if "category" in raw else local.category,
                    # The local check was of the shipped version: it holds only while the
                    # version and the fee are the ones that were checked.
                    verified=local.verified
                    and rp.version == local.version
                    and fee == local.fee_vnd,
                    source=local.source,
                    order=local.order,
                    keywords=rp.keywords or local.keywords,
                    origin="merged" if local.origin != "remote" else "remote",
                )
                updated.append(rp.code)
            if merged.withdrawn and (local is None or not local.withdrawn):
                withdrawn.append(rp.code)
            procs[rp.code] = merged
            remote[rp.code] = copy.deepcopy(raw)  # the caller's dict may change later
        for s in skipped:
            log.warning("portal procedure skipped: #%d %s: %s", s.index, s.code, s.problem)
        for n in notes:
            log.info("portal procedure: %s", n)
        return Catalogue(
            procedures=procs,
            pictogram_dir=self.pictogram_dir,
            pictograms=self.pictograms,
            last_as_of=as_of if as_of is not None else self.last_as_of,
            remote=remote,
            merge_report=MergeReport(
                tuple(added), tuple(updated), tuple(withdrawn), tuple(skipped), tuple(notes)
            ),
            base=self.base,
        )

    # -- persistence of portal updates
    def overlay_dict(self) -> dict[str, Any]:
        return {
            "format": OVERLAY_FORMAT,
            "as_of": self.last_as_of,
            "procedures": list(self.remote.values()),
        }

    def save_overlay(self, path: Path) -> None:
        """Write the portal updates atomically (a crash leaves the old file or the new)."""
        data = json.dumps(self.overlay_dict(), ensure_ascii=False, indent=1).encode("utf-8")
        write_atomic(path, data, mode=0o644)

    def load_overlay(self, path: Path) -> Catalogue:
        """This catalogue's shipped procedures with the saved portal updates applied.
        A missing file gives the shipped catalogue; an unreadable one too (logged): the
        next sync then asks the portal for everything again (no since=)."""
        base = Catalogue(dict(self.base or self.procedures), self.pictogram_dir, self.pictograms)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return base
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            log.warning("catalogue overlay %s unreadable, ignored: %s", path, exc)
            return base
        if (
            not isinstance(data, dict)
            or data.get("format") != OVERLAY_FORMAT
            or not isinstance(data.get("procedures"), list)
        ):
            log.warning("catalogue overlay %s has an unknown shape, ignored", path)
            return base
        as_of = data.get("as_of") if isinstance(data.get("as_of"), str) else None
        merged = base._merge(data["procedures"], as_of, keep_previous=False)
        if any(not s.superseded for s in merged.merge_report.skipped):
            # Something saved no longer applies: ask the portal for everything next time.
            merged.last_as_of = None
        return merged


def _all_match(words: list[str], text_words: list[str]) -> bool:
    return all(any(t.startswith(w) for t in text_words) for w in words)


# ------------------------------------------------------------------ form values


_DATE_RE = re.compile(r"^(\d{1,2})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{4})$")
_PHONE_STRIP = re.compile(r"[\s.\-()]")
_INT_RE = re.compile(r"^[+-]?(\d+|\d{1,3}([.,\s]\d{3})+)$")
_DEC_RE = re.compile(r"^[+-]?\d+([.,](\d+))?$")
_TRUE = frozenset({"1", "true", "yes", "on", "co", "x"})
_FALSE = frozenset({"0", "false", "no", "off", "khong", ""})


def _bound_date(bound: str | float | None, today: date) -> date | None:
    if bound is None:
        return None
    if bound == "today":
        return today
    return date.fromisoformat(str(bound))


MAX_NUMBER_CHARS = 40  # a number typed at a kiosk: digits, separators, a sign


def validate_value(
    field: Field, raw_text: str | None, lang: str = FALLBACK_LANG, today: date | None = None
) -> tuple[Any, str | None]:
    """Check what was typed into `field` and convert it to the contract's type:
    text/phone/id_number -> str, date -> 'YYYY-MM-DD', number -> int or float,
    checkbox -> bool, choice -> the choice key. Returns (value, None) or
    (None, error_key); an empty optional field gives (None, None)."""
    today = today or date.today()
    # Control and format characters (NUL, ESC, bidi, zero-width) never belong in a
    # dossier: dropped before anything else looks at the text.
    text = nfc(strip_invisible(raw_text or "")).strip()

    if field.type == "checkbox":
        folded = fold(text)
        if folded not in _TRUE and folded not in _FALSE:
            return None, ERR_CHOICE_INVALID
        checked = folded in _TRUE
        if field.required and not checked:
            return None, ERR_MUST_CHECK
        return checked, None

    if not text:
        return None, (ERR_REQUIRED if field.required else None)

    if field.type == "text":
        text = re.sub(r"\s+", " ", text)
        if len(text) > (field.max_length or DEFAULT_TEXT_MAX):
            return None, ERR_TEXT_TOO_LONG
        return text, None

    if field.type == "phone":
        digits = _PHONE_STRIP.sub("", text)
        if digits.startswith("+84"):
            digits = "0" + digits[3:]
        elif digits.startswith("84") and len(digits) == 11:
            digits = "0" + digits[2:]
        if not (len(digits) == 10 and digits.isascii() and digits.isdigit() and digits[0] == "0"):
            return None, ERR_PHONE_INVALID
        return digits, None

    if field.type == "id_number":
        digits = re.sub(r"\s", "", text)
        if not (len(digits) == 12 and digits.isascii() and digits.isdigit()):
            return None, ERR_ID_NUMBER_INVALID
        return digits, None

    if field.type == "date":
        m = _DATE_RE.match(text)
        if not m:
            return None, ERR_DATE_INVALID
        day, month, year = (int(g) for g in m.groups())
        try:
            value = date(year, month, day)
        except ValueError:
            return None, ERR_DATE_INVALID
        if not 1900 <= year <= 2100:
            return None, ERR_DATE_INVALID
        if field.max_today and value > today:
            return None, ERR_DATE_FUTURE
        lo = _bound_date(field.min, today)
        hi = _bound_date(field.max, today)
        if lo is not None and value < lo:
            return None, ERR_DATE_TOO_EARLY
        if hi is not None and value > hi:
            return None, ERR_DATE_TOO_LATE
        return value.isoformat(), None

    if field.type == "number":
        if len(text) > MAX_NUMBER_CHARS:  # int() of thousands of digits raises (and is slow)
            return None, ERR_NUMBER_INVALID
        compact = text.replace(" ", "") if field.decimals else text
        number: int | float
        if field.decimals == 0:
            if not (_INT_RE.match(text) and text.isascii()):
                return None, ERR_NUMBER_INVALID
            number = int(re.sub(r"[.,\s]", "", text))
        else:
            m = _DEC_RE.match(compact)
            if not m or not compact.isascii() or len(m.group(2) or "") > field.decimals:
                return None, ERR_NUMBER_INVALID
            number = float(compact.replace(",", "."))
            if not math.isfinite(number):
                return None, ERR_NUMBER_INVALID
            if number.is_integer():
                number = int(number)
        if field.min is not None and number < float(field.min):
            return None, ERR_NUMBER_TOO_SMALL
        if field.max is not None and number > float(field.max):
            return None, ERR_NUMBER_TOO_LARGE
        return number, None

    if field.type == "choice":
        if field.choice(text) is not None:
            return text, None
        wanted = fold(text)
        for c in field.choices:
            if wanted in (fold(c.label(lang)), fold(c.label(FALLBACK_LANG))):
                return c.key, None
        return None, ERR_CHOICE_INVALID

    raise ValueError(f"unknown field type {field.type!r}")  # parse_procedure prevents this


def to_raw_text(field: Field, value: Any) -> str:
    """The inverse of validate_value: a stored value as the text to show for editing
    (a date as DD/MM/YYYY, a checkbox as "1"/"0", a choice as its key)."""
    if value is None:
        return ""
    if field.type == "date":
        d = value if isinstance(value, date) else date.fromisoformat(str(value))
        return d.strftime("%d/%m/%Y")
    if field.type == "checkbox":
        return "1" if value else "0"
    if field.type == "number" and isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def prefill_text(field: Field, card: Mapping[str, Any]) -> str:
    """The raw text to put in `field` from the scanned card's values (keys as in
    PREFILL_NAMES; dates as date objects or YYYY-MM-DD), or "" when there is none."""
    if field.prefill is None:
        return ""
    value = card.get(field.prefill)
    if value in (None, ""):
        return ""
    try:
        return to_raw_text(field, value)
    except ValueError:
        return ""
