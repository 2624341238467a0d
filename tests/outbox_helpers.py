"""Helpers for the outbox tests: a reference portal with the shipped catalogue, the kiosk's
store and dossier service, synthetic dossiers, drain processes, and the exactly-once check."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from kiosk.commands.outbox import synthetic_draft
from kiosk.portal import ReferencePortal
from kiosk.services.crypto import DataCipher, load_or_create_keyring
from kiosk.services.dossiers import DossierService
from kiosk.services.models import DELIVERED, Dossier
from kiosk.services.outbox import Backoff, Outbox, PortalConfig
from kiosk.services.store import Store

ROOT = Path(__file__).resolve().parent.parent
KIOSK_ID = "QN01-K01"
SECRET = "bí-mật-QN01"  # non-ASCII: the HMAC key is the secret's UTF-8 bytes
TOKEN = "token-qn-outbox"


def new_portal(
    tmp_path: Path, cls: type[ReferencePortal] = ReferencePortal, **options: Any
) -> ReferencePortal:
    """A started portal that knows the shipped catalogue (so fields are checked)."""
    options.setdefault("kiosks", {KIOSK_ID: SECRET})
    options.setdefault("tokens", [TOKEN])
    portal = cls(tmp_path / f"portal-{random.randrange(10**9)}.sqlite3", **options)
    portal.start()
    return portal


@dataclass
class Kiosk:
    store: Store
    dossiers: DossierService
    data_dir: Path
    db_url: str

    def close(self) -> None:
        self.store.close()


def open_kiosk(data_dir: Path, db_url: str | None = None) -> Kiosk:
    data_dir.mkdir(parents=True, exist_ok=True)
    url = db_url or f"sqlite:///{data_dir / 'kiosk.db'}"
    store = Store(url)
    cipher = DataCipher(load_or_create_keyring(data_dir / "keys" / "data.key", create=True))
    return Kiosk(
        store,
        DossierService(store, cipher, KIOSK_ID, "QN01", data_dir / "attachments"),
        data_dir,
        url,
    )


def seed(
    kiosk: Kiosk,
    count: int,
    *,
    attachment_every: int = 0,
    seed_value: int = 7,
    **draft_changes: Any,
) -> list[int]:
    """`count` valid dossiers; every `attachment_every`-th one carries a PNG attachment."""
    rng = random.Random(seed_value)
    ids = []
    for i in range(count):
        with_file = attachment_every and i % attachment_every == 0
        draft = synthetic_draft(rng, 1 if with_file else 0)
        for name, value in draft_changes.items():
            setattr(draft, name, value)
        ids.append(kiosk.dossiers.confirm(draft).id)
    return ids


def portal_config(url: str, **changes: Any) -> PortalConfig:
    values: dict[str, Any] = {
        "url": url,
        "kiosk_id": KIOSK_ID,
        "secret": SECRET,
        "token": TOKEN,
        "connect_timeout": 0.5,
        "read_timeout": 1.0,
    }
    values.update(changes)
    return PortalConfig(**values)


def fast_outbox(kiosk: Kiosk, url: str, **options: Any) -> Outbox:
    """An outbox with short timeouts, lease and backoff, for tests."""
    portal_changes = {
        k: options.pop(k)
        for k in ("connect_timeout", "read_timeout", "token", "secret")
        if k in options
    }
    options.setdefault("lease_seconds", 5.0)
    options.setdefault("backoff", Backoff(base=0.05, cap=0.3))
    options.setdefault("auth_probe_interval", 60.0)
    return Outbox(kiosk.store, kiosk.dossiers, portal_config(url, **portal_changes), **options)


def all_dossiers(kiosk: Kiosk) -> list[Dossier]:
    return kiosk.store.read(
        lambda s: list(
            s.scalars(
                select(Dossier)
                .options(selectinload(Dossier.attempts), selectinload(Dossier.attachments))
                .order_by(Dossier.id)
            ).all()
        )
    )


def counts(kiosk: Kiosk) -> dict[str, int]:
    result: dict[str, int] = defaultdict(int)
    for d in all_dossiers(kiosk):
        result[d.state] += 1
    return dict(result)


def assert_exactly_once(portal: Any, kiosk: Kiosk, *, expect_all_delivered: bool = True) -> dict:
    """The portal stored each delivered dossier once, under its client_ref, with the frozen
    bytes; every POST it received for a key carried exactly those bytes; no 409."""
    mine = all_dossiers(kiosk)
    frozen = {d.client_ref: kiosk.dossiers.body(d) for d in mine}
    stored = portal.dossiers()
    stored_refs = [s.client_ref for s in stored]
    assert len(stored_refs) == len(set(stored_refs)), "a client_ref stored twice"
    delivered = {d.client_ref: d for d in mine if d.state == DELIVERED}
    if expect_all_delivered:
        assert set(delivered) == set(frozen), "not every dossier is delivered"
    assert set(stored_refs) == set(delivered), "portal and outbox disagree on what arrived"
    for s in stored:
        assert s.body == frozen[s.client_ref], "stored body differs from the frozen bytes"
        assert delivered[s.client_ref].dossier_code == s.code
    posts = portal.requests(path="/api/v1/dossiers", method="POST")
    per_key: dict[str, list] = defaultdict(list)
    for r in posts:
        per_key[r.idempotency_key].append(r)
        assert r.status != 409, "an idempotency conflict: a body changed between attempts"
    for key, requests in per_key.items():
        for r in requests:
            if len(r.body) < r.body_size:
                # The sender died mid-body (kill -9): the portal got a cut request, whose
                # signature does not match (401) or which does not parse (400); nothing
                # was stored and nobody read the answer. It must still be a prefix.
                assert frozen[key].startswith(r.body) and r.status in (400, 401, None)
            else:
                assert r.body == frozen[key], "a replay sent different bytes"
    return per_key


# --- drain processes ---------------------------------------------------------------------------
def drain_env(kiosk: Kiosk, url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
    env.update(
        {
            "KIOSK_DATA_DIR": str(kiosk.data_dir),
            "KIOSK_DB_URL": kiosk.db_url,
            "KIOSK_PORTAL_URL": url,
            "KIOSK_PORTAL_TOKEN": TOKEN,
            "KIOSK_ID": KIOSK_ID,
            "KIOSK_SECRET": SECRET,
            "KIOSK_RECEIPT_PREFIX": "QN01",
            "KIOSK_PORTAL_CONNECT_TIMEOUT": "0.5",
            "KIOSK_PORTAL_READ_TIMEOUT": "1.5",
            "KIOSK_CONFIG": str(kiosk.data_dir / "no-settings.toml"),
            "PYTHONPATH": str(ROOT),
            "PYTHONIOENCODING": "utf-8",
        }
    )
    env.update(extra)
    # KIOSK_CONFIG must name an existing file when set: write an empty one.
    Path(env["KIOSK_CONFIG"]).write_text("", encoding="utf-8")
    return env


DRAIN_FAST = (
    "--lease-seconds",
    "4",
    "--backoff-base",
    "0.05",
    "--backoff-cap",
    "0.3",
    "--progress",
    "0",
)


def start_drain(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "kiosk", "outbox", "drain", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish_drain(proc: subprocess.Popen, timeout: float = 90.0) -> dict[str, Any]:
    """Wait for a drain process; its last stdout line is the final JSON."""
    out, err = proc.communicate(timeout=timeout)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    assert lines, f"no final line (exit {proc.returncode}); stderr:\n{err[-3000:]}"
    final = json.loads(lines[-1])
    final["returncode"] = proc.returncode
    final["stderr"] = err
    return final


def wait_for(predicate: Any, timeout: float = 20.0, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


@dataclass
class KillReport:
    kills: int
    killed_while_sending: int
    seconds: float


def kill_loop(
    portal: Any,
    env: dict[str, str],
    kills: int,
    *,
    rng: random.Random,
    extra_args: tuple[str, ...] = DRAIN_FAST,
    on_kill: Any = None,
) -> KillReport:
    """Start `python -m kiosk outbox drain` and SIGKILL it, `kills` times: mostly at a random
    moment after it has started sending (watching the portal's request log), sometimes at
    a random moment from its start (imports, migrations, claiming)."""
    start = time.monotonic()
    done = while_sending = 0
    while done < kills:
        seen = portal.requests()
        last = seen[-1].id if seen else 0
        proc = start_drain(env, *extra_args)
        try:
            if rng.random() < 0.75:

                def sending(after: int = last, proc: subprocess.Popen = proc) -> bool:
                    return proc.poll() is not None or any(
                        r.method in ("POST", "PUT") for r in portal.requests(after=after)
                    )

                try:
                    wait_for(sending, timeout=30, interval=0.01)
                except AssertionError:
                    proc.kill()
                    out, err = proc.communicate()
                    raise AssertionError(
                        f"drain {done + 1} sent nothing in 30 s\n{out[-1000:]}\n{err[-3000:]}"
                    ) from None
                time.sleep(rng.uniform(0.0, 0.25))
                while_sending += 1
            else:
                time.sleep(rng.uniform(0.05, 1.3))
            if proc.poll() is not None:
                out, err = proc.communicate()
                raise AssertionError(
                    f"the drain finished before kill {done + 1}; give it "
                    f"more work\n{out[-500:]}\n{err[-2000:]}"
                )
            proc.kill()
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=30)
        done += 1
        if on_kill is not None:
            on_kill(done)
    return KillReport(done, while_sending, time.monotonic() - start)
