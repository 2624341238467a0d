"""What the clerk reads about a dossier, as sentences in the clerk's language.

The outbox, the portal and the printers record what happened in their own terms (an
outcome name, an HTTP status, an English validation message, a field path such as
`fields.phone`). None of that is for a clerk: each record becomes one sentence, and a
field path becomes the field's label. No Qt here: plain functions of a translator.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

Tr = Callable[..., str]

OUTCOMES = ("delivered", "transient", "needs_clerk", "auth_blocked", "attachment_missing")

# The reference portal's validation messages (portal-api.yaml: details[].message), by the
# start of the message; anything else is "not accepted".
_PROBLEMS = (
    ("required", "required"),
    ("must not be empty", "required"),
    ("must match", "format"),
    ("must be a date", "date"),
    ("must be an RFC 3339", "date"),
    ("must be a number", "number"),
    ("must be an integer", "number"),
    ("must be a non-negative integer", "number"),
    ("must be one of", "choice"),
    ("must be true or false", "choice"),
    ("unknown attachment", "attachment"),
    ("does not match the uploaded attachment", "attachment"),
)


def problem_key(message: str) -> str:
    text = (message or "").strip().lower()
    for start, key in _PROBLEMS:
        if text.startswith(start):
            return key
    return "other"


def field_label(path: str, labels: dict[str, str], tr: Tr) -> str:
    """`fields.phone` → the procedure's label for it; `applicant.full_name` → 'Họ và tên';
    `attachments[0].size` → 'Ảnh giấy tờ'."""
    if path in labels:
        return labels[path]
    key = path.split(".", 1)[1] if "." in path else path
    if key in labels:
        return labels[key]
    if re.match(r"attachments(\[\d+\])?", path):
        return tr("screens.clerk.field.attachments")
    return tr("screens.clerk.field.other")


def portal_error_lines(errors: Iterable[dict], labels: dict[str, str], tr: Tr) -> list[str]:
    return [
        tr(
            f"screens.clerk.problem.{problem_key(str(e.get('message', '')))}",
            field=field_label(str(e.get("field", "")), labels, tr),
        )
        for e in errors
    ]


def attempt_line(outcome: str, when: str, tr: Tr) -> str:
    kind = outcome if outcome in OUTCOMES else "other"
    return tr(f"screens.clerk.attempt.{kind}", time=when)


def last_problem(attempts: list, tr: Tr) -> str:
    """The latest failed attempt as a sentence (no time), or '' when the last one went out."""
    for attempt in reversed(attempts):
        if attempt.outcome == "delivered":
            return ""
        kind = attempt.outcome if attempt.outcome in OUTCOMES else "other"
        return tr(f"screens.clerk.problem_now.{kind}")
    return ""


def print_line(ok: bool, when: str, clerk: str | None, tr: Tr) -> str:
    key = "screens.clerk.print.ok" if ok else "screens.clerk.print.failed"
    line = tr(key, time=when)
    if clerk:
        line += " " + tr("screens.clerk.by", clerk=clerk)
    return line


def audit_line(
    action: str, when: str, clerk: str | None, tr: Tr, known: Callable[[str], bool]
) -> str:
    key = f"screens.clerk.audit.{action}"
    line = tr(key, time=when) if known(key) else tr("screens.clerk.audit.other", time=when)
    if clerk:
        line += " " + tr("screens.clerk.by", clerk=clerk)
    return line


def attachment_line(title: str, content_type: str, kb: int, uploaded: bool, tr: Tr) -> str:
    kind = "photo" if content_type.startswith("image/") else "file"
    sent = "sent" if uploaded else "not_sent"
    return tr(f"screens.clerk.attachment.{kind}.{sent}", document=title, kb=kb)
