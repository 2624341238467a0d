"""Write tests/fixtures/schema/<revision>/: a SQLite store at that schema with sample data.

Run once per released schema (`python scripts/make_schema_fixture.py 0001`) and commit the
result; tests/test_migrations.py opens every fixture with the current code, which must
migrate it and read every dossier back.
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alembic import command  # noqa: E402

from kiosk.services.crypto import DataCipher, load_or_create_keyring  # noqa: E402
from kiosk.services.dossiers import DossierService  # noqa: E402
from kiosk.services.store import Store, alembic_config, make_engine  # noqa: E402
from tests.store_helpers import draft  # noqa: E402


def main(revision: str) -> None:
    out = ROOT / "tests" / "fixtures" / "schema" / revision
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    url = f"sqlite:///{out / 'kiosk.db'}"
    engine = make_engine(url, writer=True)
    with engine.begin() as conn:
        cfg = alembic_config(url)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    engine.dispose()
    store = Store(url, migrate=False)
    cipher = DataCipher(load_or_create_keyring(out / "data.key", create=True))
    service = DossierService(store, cipher, "KIOSK-FIXTURE", "FX01", out / "attachments")
    for name in ("Nguyễn Thị Hồng Nhung", "Đặng Văn Quỳnh", "Lò Thị Mai"):
        service.confirm(draft(name=name))
    store.close()
    with sqlite3.connect(out / "kiosk.db") as conn:  # one self-contained file to commit
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")
    for leftover in out.glob("kiosk.db-*"):
        leftover.unlink()
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "head")
