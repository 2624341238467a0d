"""The commands as IT and tests run them, in subprocesses against the reference portal:
`outbox seed --kind feedback`, `sync --once`, `notices --json`, `feedback drain` killed
again and again (every feedback delivered exactly once) and `feedback show`."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from kiosk.portal import Faults
from tests.outbox_helpers import ROOT, drain_env, kill_loop, new_portal, open_kiosk


def kiosk_cmd(env, *argv, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "kiosk", *argv],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def last_json(out: str):
    return json.loads([line for line in out.splitlines() if line.startswith("{")][-1])


def test_seed_sync_once_and_notices_json(tmp_path):
    portal = new_portal(tmp_path)
    kiosk = open_kiosk(tmp_path / "data")
    try:
        env = drain_env(kiosk, portal.url)
        seeded = kiosk_cmd(env, "outbox", "seed", "--count", "6", "--kind", "feedback")
        assert seeded.returncode == 0, seeded.stderr
        start = datetime.now(UTC) - timedelta(minutes=5)
        portal.feedback.publish_notice(
            {
                "id": "hop-thon",
                "title": {"vi": "Họp thôn", "en": "Village meeting"},
                "body": {"vi": "Tối thứ Sáu", "en": "Friday evening"},
                "valid_from": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "priority": "urgent",
            }
        )
        done = kiosk_cmd(env, "sync", "--once", "--json")
        assert done.returncode == 0, done.stderr
        summary = last_json(done.stdout)
        assert summary["feedback"]["delivered"] == 6
        assert summary["notices"]["shown"] == 1
        bodies = [json.loads(f["body"]) for f in portal.feedback.feedbacks()]
        assert len(bodies) == 6
        assert sum(1 for b in bodies if b.get("phone")) == 2
        assert sum(1 for b in bodies if b.get("recording")) == 2
        assert all("applicant" not in b and "phone" not in b for b in bodies if b["anonymous"])
        shown = kiosk_cmd(env, "notices", "--json")
        assert shown.returncode == 0, shown.stderr
        [notice] = json.loads(shown.stdout)
        assert notice["id"] == "hop-thon" and notice["title"]["en"] == "Village meeting"
        # A second round sends nothing again.
        again = last_json(kiosk_cmd(env, "sync", "--once", "--json").stdout)
        assert again["feedback"] == {**summary["feedback"], "answers_checked": 6}
        assert len(portal.requests(method="POST", path="/api/v1/feedback")) == 6
        # Either code finds the feedback; the answer shows.
        first = portal.feedback.feedbacks()[0]
        portal.feedback.answer_feedback(first["code"], text={"vi": "Đã tiếp nhận"})
        slip = json.loads(first["body"])["slip_code"]
        for code in (slip, first["code"]):
            out = kiosk_cmd(env, "feedback", "show", code, "--json")
            assert out.returncode == 0, out.stderr
            doc = json.loads(out.stdout)
            assert doc["feedback_code"] == first["code"]
            assert doc["answer"]["text"] == {"vi": "Đã tiếp nhận"}
    finally:
        portal.stop()


@pytest.mark.slow
def test_feedback_drain_killed_again_and_again_delivers_each_exactly_once(tmp_path):
    portal = new_portal(
        tmp_path,
        faults=Faults(
            latency=0.05, drop_after_store_rate=0.05, endpoints=["attachments", "feedback"], seed=3
        ),
    )
    kiosk = open_kiosk(tmp_path / "data")
    try:
        env = drain_env(kiosk, portal.url)
        seeded = kiosk_cmd(env, "outbox", "seed", "--count", "60", "--kind", "feedback")
        assert seeded.returncode == 0, seeded.stderr
        import tests.outbox_helpers as helpers

        original = helpers.start_drain

        def start_feedback_drain(env, *args):
            return subprocess.Popen(
                [sys.executable, "-m", "kiosk", "feedback", "drain", *args],
                env=env,
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )

        helpers.start_drain = start_feedback_drain
        try:
            fast = ("--lease-seconds", "3", "--backoff-cap", "0.3")
            report = kill_loop(portal, env, 8, rng=random.Random(8), extra_args=fast)
        finally:
            helpers.start_drain = original
        assert report.kills == 8 and report.killed_while_sending >= 3
        portal.set_faults(Faults())
        final = kiosk_cmd(env, "feedback", "drain", *fast)
        assert final.returncode == 0, final.stderr[-2000:]
        assert last_json(final.stdout)["counts"] == {"delivered": 60}
        stored = portal.feedback.feedbacks()
        assert len(stored) == 60 and len({f["client_ref"] for f in stored}) == 60
        for f in stored:
            bodies = {r.body for r in portal.requests(f["client_ref"]) if r.body}
            assert bodies == {f["body"]}, "a replay sent different bytes"
    finally:
        portal.stop()
