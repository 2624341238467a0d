"""Items 3, 4, 5 and 10 of the security review (issue 14), against real HTTP servers on
127.0.0.1 that misbehave on purpose (tests/hostile_portal.py): a portal cannot hang the
sync worker, fill its memory, poison the group commit with one bad answer, or get the
token and personal data sent in clear."""

from __future__ import annotations

import gzip
import hashlib
import json
import time
import tracemalloc
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from kiosk.services.delivery import Delivery, Outcome, default_worker_id
from kiosk.services.delivery_kinds import AttachmentKind, DossierKind
from kiosk.services.i18n import Translator
from kiosk.services.models import DELIVERED, QUEUED, SENDING, Dossier
from kiosk.services.outbox import drain_all
from kiosk.services.portal_client import (
    JSON_LIMIT,
    Delivered,
    InsecureURL,
    Permanent,
    PortalClient,
    Transient,
)
from kiosk.services.portal_link import PortalLink
from tests.hostile_portal import (
    HostilePortal,
    answer,
    compressed,
    declared,
    drip,
    endless,
    gzip_bomb,
    per_request,
    raw,
    truncated,
)
from tests.outbox_helpers import (
    DRAIN_FAST,
    KIOSK_ID,
    SECRET,
    TOKEN,
    all_dossiers,
    counts,
    drain_env,
    fast_outbox,
    finish_drain,
    open_kiosk,
    portal_config,
    seed,
    start_drain,
)

MIB = 1024 * 1024


@pytest.fixture
def hostile():
    server = HostilePortal()
    yield server
    server.stop()


@pytest.fixture
def kiosk(tmp_path):
    k = open_kiosk(tmp_path / "data")
    yield k
    k.close()


def client(url: str, connect: float = 0.5, read: float = 1.0) -> PortalClient:
    return PortalClient(url, KIOSK_ID, SECRET, TOKEN, connect_timeout=connect, read_timeout=read)


def receipt(code: str, **changes: Any) -> dict[str, Any]:
    payload = {
        "dossier_code": code,
        "received_at": "2026-11-23T05:00:00Z",
        "expected_result_date": "2026-11-26",
        "status": "received",
    }
    payload.update(changes)
    return payload


# --- item 3: one deadline per request -------------------------------------------------------
@pytest.mark.parametrize("headers_too", [False, True], ids=["body", "headers"])
def test_item_3_slow_drip_cannot_block_submit_dossier(hostile, headers_too):
    hostile.on("POST", "/dossiers", drip(interval=0.2, headers_too=headers_too))
    c = client(hostile.url, connect=0.5, read=1.0)  # each byte comes well within 1 s
    start = time.monotonic()
    with pytest.raises(Transient) as caught:
        c.submit_dossier(b"{}", "ref-1")
    elapsed = time.monotonic() - start
    c.close()
    assert elapsed < 1.5 + 0.6, f"took {elapsed:.1f} s for a 1.5 s budget"
    assert caught.value.ambiguous  # it may have reached the portal: replay, never change


def test_item_3_a_deadline_set_by_the_caller_cuts_a_request_short(hostile):
    hostile.on("GET", "/procedures", drip(interval=0.1))
    c = client(hostile.url, connect=1.0, read=5.0)
    c.deadline = time.monotonic() + 0.7
    start = time.monotonic()
    with pytest.raises(Transient):
        c.procedures()
    assert time.monotonic() - start < 1.3
    c.deadline = time.monotonic() - 1  # already over: nothing is sent at all
    before = len(hostile.requests)
    with pytest.raises(Transient, match="no time left"):
        c.procedures()
    assert len(hostile.requests) == before
    c.close()


def test_item_3_outbox_drain_timeout_ends_on_time_and_leaves_nothing_sending(
    hostile, kiosk, tmp_path
):
    seed(kiosk, 3)
    hostile.on("POST", "/dossiers", drip(interval=0.3))
    env = drain_env(kiosk, hostile.url)  # connect 0.5 s, read 1.5 s: each byte in time
    timeout = 4.0
    final = finish_drain(start_drain(env, "--timeout", str(timeout), *DRAIN_FAST), timeout=90)
    assert final["elapsed"] <= timeout + 1.0, final
    assert final["counts"][SENDING] == 0 and final["returncode"] == 1
    rows = all_dossiers(kiosk)
    assert {d.state for d in rows} == {QUEUED}
    assert all(d.lease_owner is None for d in rows)
    tried = [d for d in rows if d.attempts]
    assert tried and all(a.outcome == "transient" for d in tried for a in d.attempts)


def test_item_3_an_answer_cut_short_is_a_transient_error(hostile):
    hostile.on("POST", "/dossiers", truncated())
    c = client(hostile.url)
    with pytest.raises(Transient, match="broken off") as caught:
        c.submit_dossier(b"{}", "ref-1")
    assert caught.value.ambiguous
    c.close()


# --- item 4: answers read with a cap ---------------------------------------------------------
def _peak_while(fn) -> tuple[BaseException | None, int]:
    tracemalloc.start()
    try:
        fn()
    except Exception as exc:  # the test looks at it
        error: BaseException | None = exc
    else:
        error = None
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return error, peak


def test_item_4_a_huge_json_answer_is_cut_at_the_cap(hostile):
    hostile.on("GET", "/procedures", endless(64 * MIB))
    c = client(hostile.url, read=10.0)
    error, peak = _peak_while(c.procedures)
    c.close()
    assert isinstance(error, Transient) and "answer refused" in error.detail
    assert peak < 3 * JSON_LIMIT, f"{peak / MIB:.0f} MiB held for a {JSON_LIMIT // MIB} MiB cap"


def test_item_4_an_announced_size_beyond_the_cap_is_refused_at_once(hostile):
    hostile.on("GET", "/procedures", declared(200 * MIB))
    c = client(hostile.url, read=5.0)
    start = time.monotonic()
    with pytest.raises(Transient, match="answer refused"):
        c.procedures()
    assert time.monotonic() - start < 1.0  # not waiting for 200 MiB that never come
    c.close()


def test_item_4_a_gzip_bomb_is_not_inflated_beyond_the_cap(hostile):
    bomb = gzip_bomb(1024 * MIB)  # 1 GiB of zeros in about 1 MB
    assert len(bomb) < 2 * MIB
    hostile.on("POST", "/dossiers", compressed(201, bomb))
    c = client(hostile.url, read=10.0)
    start = time.monotonic()
    error, peak = _peak_while(lambda: c.submit_dossier(b"{}", "ref-1"))
    c.close()
    assert isinstance(error, Transient) and "inflates beyond" in error.detail
    assert peak < 3 * JSON_LIMIT, f"{peak / MIB:.0f} MiB held inflating a gzip bomb"
    assert time.monotonic() - start < 5


def test_item_4_a_compressed_answer_within_the_cap_is_read(hostile):
    payload = json.dumps(receipt("QN-2026-000001")).encode()
    hostile.on("POST", "/dossiers", compressed(201, gzip.compress(payload)))
    c = client(hostile.url)
    assert c.submit_dossier(b"{}", "ref-1").dossier_code == "QN-2026-000001"
    c.close()


def test_item_4_media_are_capped_by_kind_and_checked_against_their_hash(hostile):
    recording = b"RIFF" + bytes(2 * MIB)
    sha = hashlib.sha256(recording).hexdigest()
    hostile.on("GET", f"/media/{sha}", raw(200, recording, "audio/wav"))
    c = client(hostile.url, read=5.0)
    assert c.media(sha) == recording
    with pytest.raises(Transient, match="answer refused"):
        c.media(sha, limit=1 * MIB)  # beyond the cap given for this kind of media
    other = hashlib.sha256(b"other").hexdigest()
    hostile.on("GET", f"/media/{other}", raw(200, recording, "audio/wav"))
    with pytest.raises(Transient, match="sha256 differs"):
        c.media(other)
    c.close()


# --- item 5: every answer's shape checked; one bad answer undoes nothing ----------------------
def test_item_5_malformed_expected_result_date_is_a_per_item_error(hostile, kiosk):
    seed(kiosk, 4)
    refs = [d.client_ref for d in all_dossiers(kiosk)]
    wrong = {refs[0]: 20261126, refs[1]: ["2026-11-26"], refs[2]: "26/11/2026"}

    def choose(request):
        ref = request.headers["idempotency-key"]
        code = f"QN-2026-{refs.index(ref) + 1:06d}"
        if ref in wrong:
            return answer(201, receipt(code, expected_result_date=wrong[ref]))
        return answer(201, receipt(code))

    hostile.on("POST", "/dossiers", per_request(choose))
    outbox = fast_outbox(kiosk, hostile.url)
    status = drain_all(outbox, timeout=20)
    outbox.close()
    assert status.counts[DELIVERED] == 4
    rows = {d.client_ref: d for d in all_dossiers(kiosk)}
    for ref in refs:
        d = rows[ref]
        assert d.dossier_code == f"QN-2026-{refs.index(ref) + 1:06d}"
        if ref in wrong:
            assert d.expected_result_date is None
            assert [a.outcome for a in d.attempts] == ["malformed_answer", "delivered"]
            assert d.attempts[0].error == "ignored: expected_result_date"
        else:
            assert d.expected_result_date == date(2026, 11, 26)


@pytest.mark.parametrize(
    "bad",
    [
        {},
        {"dossier_code": 12345},
        {"dossier_code": ["QN-1"]},
        {"dossier_code": "QN\n2026"},
        {"dossier_code": "Q" * 65},
        ["not", "an", "object"],
        "text",
    ],
)
def test_item_5_a_receipt_without_a_usable_dossier_code_is_retried(hostile, kiosk, bad):
    seed(kiosk, 2)
    bad_ref, good_ref = (d.client_ref for d in all_dossiers(kiosk))

    def choose(request):
        if request.headers["idempotency-key"] == bad_ref:
            return answer(201, bad)
        return answer(201, receipt("QN-2026-000002"))

    hostile.on("POST", "/dossiers", per_request(choose))
    outbox = fast_outbox(kiosk, hostile.url)
    report = outbox.run_once()
    outbox.close()
    assert report.delivered == 1 and report.transient == 1
    rows = {d.client_ref: d for d in all_dossiers(kiosk)}
    assert rows[good_ref].state == DELIVERED
    assert rows[bad_ref].state == QUEUED and "malformed answer" in rows[bad_ref].last_error
    assert rows[bad_ref].next_attempt_at is not None  # backoff, not at once forever


def test_item_5_status_answers_of_the_wrong_shape_are_errors_not_crashes(hostile):
    hostile.on("GET", "/dossiers/QN-1", answer(200, {"status": 7}))
    c = client(hostile.url)
    with pytest.raises(Transient, match="malformed"):
        c.dossier_status("QN-1")
    hostile.on(
        "GET",
        "/dossiers/QN-1",
        answer(200, {"status": "completed", "updated_at": 5, "message": {"vi": ["x"], "en": "ok"}}),
    )
    status = c.dossier_status("QN-1")
    assert status.updated_at == "" and status.message == {"en": "ok"}
    c.close()


def test_item_5_a_portal_error_name_cannot_forge_a_log_line(hostile, caplog):
    hostile.on(
        "POST",
        "/dossiers",
        answer(422, {"error": "bad\n2026-11-23 INFO forged", "details": [{"field": "a\rb"}]}),
    )
    c = client(hostile.url)
    with caplog.at_level("INFO"), pytest.raises(Permanent) as caught:
        c.submit_dossier(b"{}", "ref-1")
    c.close()
    assert "\n" not in caught.value.error and "\r" not in caught.value.details[0]["field"]
    assert all("\n" not in r.getMessage() for r in caplog.records)


class _UnstorableKind(DossierKind):
    """Records an answer the database driver cannot take, for one dossier."""

    def delivered_values(self, answer, now):
        values = super().delivered_values(answer, now)
        if answer.dossier_code == "BAD":
            values["dossier_code"] = object()  # no driver binds this
        return values


def test_item_5_one_outcome_that_cannot_be_stored_does_not_undo_the_others(kiosk):
    seed(kiosk, 3)
    link = PortalLink(kiosk.store, portal_config("http://127.0.0.1:9/api/v1"), machine="t:0:")
    delivery = Delivery(
        kiosk.store,
        link,
        kiosk.dossiers,
        worker_id=default_worker_id(),
        kinds=[_UnstorableKind],
        part_kinds=[AttachmentKind],
        lease_seconds=5.0,
    )
    items = delivery.claim(3)
    outcomes = [
        Outcome(
            item.id,
            "delivered",
            answer=Delivered(
                "BAD" if n == 1 else f"QN-{n}", "2026-11-23T05:00:00Z", None, replay=False
            ),
        )
        for n, item in enumerate(items)
    ]
    delivery.record(outcomes)  # one group commit
    rows = all_dossiers(kiosk)
    assert [d.state for d in rows] == [DELIVERED, QUEUED, DELIVERED]
    assert [d.dossier_code for d in rows] == ["QN-0", None, "QN-2"]
    assert rows[1].last_error == "the answer could not be stored"
    assert rows[1].lease_owner is None
    delivery.close()


# --- item 10: https required unless loopback ---------------------------------------------------
def test_item_10_http_portal_url_is_refused_unless_loopback(kiosk):
    c = client("http://portal.example.gov.vn/api/v1")
    with pytest.raises(InsecureURL) as caught:
        c.health()  # refused before any connection is tried
    assert caught.value.key == "delivery.url.https_required"
    c.close()
    seed(kiosk, 2)
    outbox = fast_outbox(kiosk, "http://10.0.0.5/api/v1")
    report = outbox.run_once()
    assert report.auth_blocked and report.claimed == 0
    assert counts(kiosk) == {QUEUED: 2}  # nothing claimed, nothing changed
    alert = outbox.status().auth_alert
    assert alert is not None and alert.error == "insecure_url"
    assert alert.key == "delivery.url.https_required"
    outbox.set_portal(url="https://portal.example.gov.vn/api/v1")
    assert outbox.status().auth_alert is None
    outbox.close()
    translator = Translator.from_resources()
    for lang in ("vi", "en"):
        for key in ("delivery.url.https_required", "delivery.url.invalid"):
            assert translator.has(key, lang)
    assert "https://" in translator.tr("delivery.url.https_required", "vi")
    assert "https://" in translator.tr("delivery.url.https_required", "en")


def test_item_10_drain_refuses_an_http_portal_with_a_message(kiosk):
    seed(kiosk, 1)
    env = drain_env(kiosk, "http://portal.example.gov.vn/api/v1", KIOSK_LANG="vi")
    proc = start_drain(env, "--timeout", "30")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    translator = Translator.from_resources()
    assert translator.tr("delivery.url.https_required", "vi") in err
    assert translator.tr("delivery.url.https_required", "en") in err
    assert kiosk.store.read(lambda s: s.scalars(select(Dossier.state)).all()) == [QUEUED]
