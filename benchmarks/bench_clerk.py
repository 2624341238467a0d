"""The clerk's desk on 100 000 dossiers: one page of the dossier list (filtered, searched)
and the dashboard numbers, on SQLite and on PostgreSQL.

    .venv/bin/python benchmarks/bench_clerk.py [--rows 100000] [--pg-url URL | --no-pg]

The store is filled with realistic rows: AES-GCM encrypted applicant, answers and request
body, blind indexes of the ID number and of every folded name word (NameToken rows),
receipt codes, outbox states, delivery attempts, ratings and today's queue. Without
--pg-url a throw-away PostgreSQL 15 server is started on 127.0.0.1 (initdb/pg_ctl, as the
postgres user when run as root). Targets: a page <= 50 ms, the dashboard <= 300 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text  # noqa: E402

from kiosk.services.crypto import DataCipher, KeyRing  # noqa: E402
from kiosk.services.dossier_search import Cursor, DossierSearch, SearchQuery  # noqa: E402
from kiosk.services.dossiers import (  # noqa: E402
    ANSWERS_CTX,
    APPLICANT_CTX,
    BODY_CTX,
    row_ctx,
    utcnow,
)
from kiosk.services.models import Attempt, Dossier, NameToken, QueueTicket, Rating  # noqa: E402
from kiosk.services.queue import QueueService, load_groups  # noqa: E402
from kiosk.services.receipt_code import make_code  # noqa: E402
from kiosk.services.reports import Reports  # noqa: E402
from kiosk.services.store import Store  # noqa: E402

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PAGE_TARGET_MS, DASHBOARD_TARGET_MS = 50, 300

FAMILY = [
    ("Nguyễn", 38),
    ("Trần", 11),
    ("Lê", 9),
    ("Phạm", 7),
    ("Hoàng", 5),
    ("Phan", 4),
    ("Vũ", 4),
    ("Đặng", 2),
    ("Bùi", 2),
    ("Đỗ", 1.5),
    ("Hồ", 1.3),
    ("Ngô", 1.3),
    ("Dương", 1),
    ("Lò", 1),
    ("Nông", 1),
    ("Hà", 1),
    ("Sầm", 0.5),
    ("Vi", 0.5),
    ("Giàng", 0.5),
    ("Thào", 0.5),
    ("Lục", 0.3),
    ("Sùng", 0.3),
    ("Lý", 0.5),
]
MIDDLE_F = [
    ("Thị", 60),
    ("Thu", 6),
    ("Hồng", 6),
    ("Ngọc", 6),
    ("Kim", 4),
    ("Thanh", 6),
    ("Minh", 4),
    ("Xuân", 4),
    ("Thị Hồng", 4),
]
MIDDLE_M = [
    ("Văn", 60),
    ("Đức", 8),
    ("Minh", 8),
    ("Quang", 6),
    ("Hữu", 6),
    ("Thanh", 6),
    ("Công", 4),
    ("Xuân", 2),
]
GIVEN_F = [
    "Nhung",
    "Lan",
    "Hương",
    "Hà",
    "Trang",
    "Thảo",
    "Mai",
    "Hoa",
    "Linh",
    "Ánh",
    "Huyền",
    "Ngân",
    "Phương",
    "Yến",
    "Dung",
    "Hạnh",
    "Loan",
    "Thủy",
    "Vân",
    "Quỳnh",
    "Hằng",
    "Giang",
    "Liên",
    "Nga",
    "Tâm",
    "Chi",
    "Diệp",
    "Oanh",
    "Thư",
    "Xuyến",
]
GIVEN_M = [
    "Nam",
    "Quý",
    "Hùng",
    "Dũng",
    "Tuấn",
    "Minh",
    "Hải",
    "Long",
    "Sơn",
    "Thắng",
    "Cường",
    "Quân",
    "Huy",
    "Phúc",
    "Khánh",
    "Tùng",
    "Đạt",
    "Hiếu",
    "Lực",
    "Toàn",
    "Bình",
    "Chiến",
    "Thành",
    "Trung",
    "Vinh",
    "Lâm",
    "Quỳnh",
    "Tài",
    "Kiên",
    "Phong",
]
PROCEDURES = [
    ("1.001193", 25),
    ("2.000815", 20),
    ("2.000884", 12),
    ("1.004873", 10),
    ("1.000656", 5),
    ("1.000894", 6),
    ("1.004222", 6),
    ("2.000635", 5),
    ("1.001612", 4),
    ("2.000720", 2),
    ("1.001776", 3),
    ("LOCAL-001", 1),
    ("LOCAL-002", 1),
]
STATES = [
    ("delivered", 90),
    ("queued", 3),
    ("needs_clerk", 1),
    ("auth_blocked", 0.5),
    ("handled", 1),
    ("sending", 0.2),
]


def pick(rng: random.Random, weighted):
    names, weights = zip(*weighted, strict=True)
    return rng.choices(names, weights)[0]


def person(rng: random.Random) -> tuple[str, str, str]:
    female = rng.random() < 0.5
    middle = pick(rng, MIDDLE_F if female else MIDDLE_M)
    given = rng.choice(GIVEN_F if female else GIVEN_M)
    name = f"{pick(rng, FAMILY)} {middle} {given}"
    return name, f"{rng.randrange(10**11, 10**12):012d}", "female" if female else "male"


# --- filling -----------------------------------------------------------------------------


def fill(store: Store, cipher: DataCipher, rows: int, seed: int = 7) -> dict:
    """Bulk insert `rows` dossiers with encrypted values and name tokens; returns samples."""
    rng = random.Random(seed)
    now = utcnow().replace(microsecond=0)
    samples: dict = {"names": [], "ids": [], "codes": []}
    batch = 5000
    dossier_id, attempt_id = 0, 0
    with store.engine.begin() as conn:
        for start in range(0, rows, batch):
            d_rows, t_rows, a_rows = [], [], []
            for _ in range(min(batch, rows - start)):
                dossier_id += 1
                name, id_number, sex = person(rng)
                proc = pick(rng, PROCEDURES)
                state = pick(rng, STATES)
                confirmed = now - timedelta(seconds=rng.randrange(0, 365 * 86400))
                client_ref = str(uuid.UUID(int=rng.getrandbits(128)))
                code = make_code("QN01", dossier_id)
                applicant = {
                    "id_number": id_number,
                    "old_id_number": None,
                    "full_name": name,
                    "date_of_birth": f"19{rng.randrange(40, 99)}-0{rng.randrange(1, 9)}-1{rng.randrange(0, 9)}",
                    "sex": sex,
                    "address": "Thôn Nà Pò, xã Đồng Văn, huyện Bình Liêu",
                    "phone": f"09{rng.randrange(10**7, 10**8)}",
                    "id_source": "qr_scan",
                }
                answers = {
                    "phone": applicant["phone"],
                    "copy_count": rng.randrange(1, 5),
                    "document_name": "Giấy khai sinh",
                }
                body = json.dumps(
                    {
                        "client_ref": client_ref,
                        "kiosk_id": "K1",
                        "procedure_code": proc,
                        "procedure_version": 1,
                        "submitted_at": confirmed.isoformat() + "Z",
                        "language": "vi",
                        "assisted_by": None,
                        "applicant": applicant,
                        "fields": answers,
                        "attachments": [],
                        "consent": {
                            "given_at": confirmed.isoformat() + "Z",
                            "text_version": "consent-2026-1",
                        },
                    },
                    ensure_ascii=False,
                ).encode()
                d_rows.append(
                    {
                        "id": dossier_id,
                        "client_ref": client_ref,
                        "receipt_code": code,
                        "kiosk_id": "K1",
                        "procedure_code": proc,
                        "procedure_version": 1,
                        "language": "vi",
                        "assisted_by": "mai" if rng.random() < 0.1 else None,
                        "confirmed_at": confirmed,
                        "consent_version": "consent-2026-1",
                        "consent_given_at": confirmed,
                        "id_source": "qr_scan",
                        "applicant_enc": cipher.encrypt_json(
                            applicant, row_ctx(APPLICANT_CTX, client_ref)
                        ),
                        "answers_enc": cipher.encrypt_json(
                            answers, row_ctx(ANSWERS_CTX, client_ref)
                        ),
                        "body_enc": cipher.encrypt(body, row_ctx(BODY_CTX, client_ref)),
                        "body_sha256": "0" * 64,
                        "id_index": cipher.id_index(id_number),
                        "state": state,
                        "next_attempt_at": None
                        if state in ("delivered", "handled", "needs_clerk")
                        else confirmed,
                        "waiting_since": confirmed,
                        "attempt_count": 1,
                        "dossier_code": f"QN-2026-{dossier_id:06d}"
                        if state == "delivered"
                        else None,
                        "delivered_at": confirmed + timedelta(minutes=2)
                        if state == "delivered"
                        else None,
                        "receipt_printed": rng.random() < 0.97,
                    }
                )
                t_rows += [
                    {"dossier_id": dossier_id, "token_index": t} for t in cipher.name_indexes(name)
                ]
                for _ in range(1 if state == "delivered" else rng.randrange(1, 4)):
                    attempt_id += 1
                    failed = state != "delivered"
                    a_rows.append(
                        {
                            "id": attempt_id,
                            "dossier_id": dossier_id,
                            "at": confirmed + timedelta(minutes=1),
                            "outcome": "failed" if failed else "delivered",
                            "status_code": 503 if failed else 201,
                            "error": "503 portal unavailable" if failed else None,
                            "worker": "K1",
                        }
                    )
                if rng.random() < 0.001:
                    samples["names"].append(name)
                    samples["ids"].append(id_number)
                    samples["codes"].append(code)
            conn.execute(insert(Dossier), d_rows)
            conn.execute(insert(NameToken), t_rows)
            conn.execute(insert(Attempt), a_rows)
        ratings = [
            {
                "day": (now - timedelta(days=rng.randrange(0, 365))).date(),
                "at": now,
                "procedure_code": pick(rng, PROCEDURES),
                "face": rng.choice((1, 2, 3, 3, 4, 4, 4)),
                "language": "vi",
            }
            for _ in range(rows // 5)
        ]
        conn.execute(insert(Rating), ratings)
        today = date.today()
        tickets = []
        for i in range(300):
            issued = now - timedelta(minutes=300 - i)
            called = issued + timedelta(minutes=rng.randrange(2, 40)) if i < 250 else None
            tickets.append(
                {
                    "day": today,
                    "service_group": "civil_status",
                    "number": f"A{i + 1:03d}",
                    "priority": None,
                    "language": "vi",
                    "issued_at": issued,
                    "state": "done" if called else "waiting",
                    "called_at": called,
                    "counter": "1" if called else None,
                }
            )
        conn.execute(insert(QueueTicket), tickets)
        if store.engine.dialect.name == "postgresql":
            # The explicit ids above did not advance the sequences.
            for table in ("dossiers", "attempts"):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
    return samples


# --- a throw-away PostgreSQL -----------------------------------------------------------------


def _as_postgres(args: list[str]) -> None:
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    subprocess.run(args, check=True, capture_output=True, text=True)


@contextmanager
def throwaway_postgres():
    base = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    os.chmod(base, 0o777)
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = base / "data"
    _as_postgres(
        [
            str(PG_BIN / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]
    )
    _as_postgres(
        [
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(data),
            "-w",
            "-l",
            str(base / "pg.log"),
            "-o",
            f"-c listen_addresses=127.0.0.1 -p {port} -k {base} -c fsync=off "
            "-c shared_buffers=256MB",
            "start",
        ]
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"])
        shutil.rmtree(base, ignore_errors=True)


def fresh_pg_database(server_url: str) -> str:
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(
        server_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True
    ) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + "/" + name


# --- measuring -----------------------------------------------------------------------------


def timed(fn, repeat: int = 7) -> tuple[float, object]:
    fn()  # warm-up: first use of a statement and the page cache
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), result


def measure(label: str, url: str, rows: int) -> list[tuple[str, str, float, int | None, float]]:
    store = Store(url)
    cipher = DataCipher(KeyRing.generate())
    t0 = time.perf_counter()
    samples = fill(store, cipher, rows)
    fill_s = time.perf_counter() - t0
    # The state a store is in after months of use: the bulk load checkpointed out of
    # SQLite's write-ahead log, PostgreSQL's statistics gathered by autovacuum.
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if store.engine.dialect.name == "postgresql":
            conn.execute(text("VACUUM ANALYZE"))
        else:
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    print(f"[{label}] filled {rows} dossiers in {fill_s:.1f} s", flush=True)

    search = DossierSearch(store, cipher)
    queue = QueueService(store, load_groups())
    reports = Reports(store, queue)
    today = date.today()
    month = SearchQuery(date_from=today - timedelta(days=29), date_to=today)
    common_name = next(
        (n for n in samples["names"] if n.startswith("Nguyễn Thị")), "Nguyễn Thị Lan"
    )
    rare_name = next(
        (n for n in samples["names"] if n.split()[0] in ("Lò", "Sầm", "Giàng")),
        samples["names"][-1],
    )

    def page_n(query: SearchQuery, n: int):
        cursor: Cursor | None = None
        for _ in range(n - 1):
            cursor = search.page(query, cursor).next_cursor
        t0 = time.perf_counter()
        page = search.page(query, cursor)
        return (time.perf_counter() - t0) * 1000, page

    cases = [
        ("list page 1, no filter", lambda: search.page(SearchQuery())),
        (
            "state=queued, procedure, 30 days",
            lambda: search.page(
                SearchQuery(
                    state="queued",
                    procedure_code="1.001193",
                    date_from=month.date_from,
                    date_to=today,
                )
            ),
        ),
        (
            "receipt not printed, 30 days",
            lambda: search.page(
                SearchQuery(not_printed=True, date_from=month.date_from, date_to=today)
            ),
        ),
        ("state=needs_clerk (rare)", lambda: search.page(SearchQuery(state="needs_clerk"))),
        (f"name '{common_name}'", lambda: search.page(SearchQuery(common_name))),
        (f"name '{rare_name}'", lambda: search.page(SearchQuery(rare_name))),
        ("name 'nguyen thi' (very common)", lambda: search.page(SearchQuery("nguyen thi"))),
        (
            "name 'van' + 30 days",
            lambda: search.page(SearchQuery("van", date_from=month.date_from, date_to=today)),
        ),
        (
            "name 'nguyen van' + state=handled",
            lambda: search.page(SearchQuery("nguyen van", state="handled")),
        ),
        ("ID number", lambda: search.page(SearchQuery(samples["ids"][0]))),
        ("receipt code", lambda: search.page(SearchQuery(samples["codes"][0].lower()))),
    ]
    out = []
    for name, fn in cases:
        ms, page = timed(fn)
        out.append((label, name, ms, len(page.rows), PAGE_TARGET_MS))
    times = [page_n(SearchQuery(), 10)[0] for _ in range(5)]
    out.append((label, "list page 10 (keyset)", statistics.median(times), 20, PAGE_TARGET_MS))
    ms, _ = timed(lambda: reports.dashboard(14), repeat=5)
    out.append((label, "dashboard numbers (14 days)", ms, None, DASHBOARD_TARGET_MS))
    ms, _ = timed(lambda: reports.daily(today), repeat=5)
    out.append((label, "daily report numbers", ms, None, DASHBOARD_TARGET_MS))
    store.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--pg-url", default="", help="an empty PostgreSQL database to fill")
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    results = []
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory(prefix="bench-clerk-") as tmp:
            results += measure("sqlite", f"sqlite:///{tmp}/kiosk.db", args.rows)
    if not args.no_pg:
        if args.pg_url:
            results += measure("postgres", args.pg_url, args.rows)
        elif (PG_BIN / "initdb").exists():
            with throwaway_postgres() as server:
                results += measure("postgres", fresh_pg_database(server), args.rows)
        else:
            print("PostgreSQL 15 not installed: skipped (give --pg-url)", file=sys.stderr)
    print()
    print(f"{'backend':9} {'what':52} {'median ms':>10} {'rows':>5} {'target':>7}")
    worst = True
    for label, name, ms, n, target in results:
        ok = ms <= target
        worst = worst and ok
        print(
            f"{label:9} {name[:52]:52} {ms:10.1f} {'' if n is None else n:>5} "
            f"{'≤' + str(target):>7} {'ok' if ok else 'SLOW'}"
        )
    return 0 if worst else 1


if __name__ == "__main__":
    sys.exit(main())
