"""Every released schema (one fixture each under tests/fixtures/schema/) migrates to head
and its dossiers read back."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kiosk.services.crypto import DataCipher, load_or_create_keyring
from kiosk.services.dossiers import DossierService, read_attachment_file
from kiosk.services.store import Store, head_revision

FIXTURES = sorted((Path(__file__).parent / "fixtures" / "schema").iterdir())


def test_there_is_a_fixture_for_the_first_released_schema():
    assert [f.name for f in FIXTURES][:1] == ["0001"]


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.name)
def test_released_schema_migrates_and_reads_back(fixture: Path, tmp_path: Path):
    work = tmp_path / fixture.name
    shutil.copytree(fixture, work)
    cipher = DataCipher(load_or_create_keyring(work / "data.key", create=False))
    old_files = sorted(p.name for p in (work / "attachments").iterdir())
    store = Store(
        f"sqlite:///{work / 'kiosk.db'}", cipher=cipher, attachments_dir=work / "attachments"
    )
    try:
        assert store.revision() == head_revision()
        # The files were re-encrypted under new names and the old ones removed.
        assert not set(old_files) & {p.name for p in (work / "attachments").iterdir()}
        service = DossierService(store, cipher, "KIOSK-FIXTURE", "FX01", work / "attachments")
        names = []
        for seq in (1, 2, 3):
            dossier = service.by_receipt_code(_code(seq))
            assert dossier is not None and dossier.state == "queued"
            names.append(service.applicant(dossier).full_name)
            assert read_attachment_file(
                work / "attachments", cipher, dossier.attachments[0].file_name
            )
        assert names == ["Nguyễn Thị Hồng Nhung", "Đặng Văn Quỳnh", "Lò Thị Mai"]
        # The queue goes on where it was: the next receipt number follows.
        from tests.store_helpers import draft

        assert service.confirm(draft()).receipt_code == _code(4)
    finally:
        store.close()


def _code(seq: int) -> str:
    from kiosk.services.receipt_code import make_code

    return make_code("FX01", seq)


def test_models_and_migrations_agree(db_url):
    """A model change without its migration (or the reverse) is caught here."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from kiosk.services.models import Base

    store = Store(db_url)
    try:
        with store.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    finally:
        store.close()
