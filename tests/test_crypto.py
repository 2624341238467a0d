import stat

import pytest

from kiosk.services.crypto import DataCipher, DataKeyError, KeyRing, load_or_create_keyring


def test_key_file_is_owner_only_and_reused(tmp_path):
    path = tmp_path / "keys" / "data.key"
    ring = load_or_create_keyring(path, create=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    again = load_or_create_keyring(path, create=True)
    assert again.keys == ring.keys and again.index_key == ring.index_key


def test_round_trip_and_context_binding(tmp_path):
    c = DataCipher(load_or_create_keyring(tmp_path / "k", create=True))
    blob = c.encrypt_text("Đặng Văn Quỳnh", "dossiers.applicant")
    assert "Quỳnh".encode() not in blob
    assert c.decrypt_text(blob, "dossiers.applicant") == "Đặng Văn Quỳnh"
    with pytest.raises(DataKeyError):
        c.decrypt(blob, "dossiers.answers")  # copied into another column: refused
    other = DataCipher(KeyRing.generate())
    with pytest.raises(DataKeyError, match="wrong key"):
        other.decrypt(blob, "dossiers.applicant")


def test_damaged_key_file_is_reported(tmp_path):
    path = tmp_path / "k"
    path.write_text("{not json")
    with pytest.raises(DataKeyError, match="damaged"):
        load_or_create_keyring(path, create=True)


def test_blind_indexes_fold_names_and_keep_ids_exact(tmp_path):
    c = DataCipher(load_or_create_keyring(tmp_path / "k", create=True))
    assert c.name_indexes("Nguyễn Thị Hồng Nhung") == c.name_indexes("nguyen thi hong NHUNG")
    assert c.id_index("001190012345") != c.id_index("001190012346")
    assert "001190012345" not in c.id_index("001190012345")
    other = DataCipher(KeyRing.generate())
    assert other.id_index("001190012345") != c.id_index("001190012345")  # keyed


def test_rotation_keeps_old_data_readable_and_search_stable(tmp_path):
    c = DataCipher(load_or_create_keyring(tmp_path / "k", create=True))
    old = c.encrypt_text("Lò Thị Mai", "x")
    rotated = DataCipher(c.rotate())
    assert rotated.ring.current == 2
    assert rotated.decrypt_text(old, "x") == "Lò Thị Mai"
    new = c.reencrypt(old, "x", rotated)
    assert rotated.key_id_of(new) == 2 and rotated.decrypt_text(new, "x") == "Lò Thị Mai"
    assert rotated.name_indexes("Lò Thị Mai") == c.name_indexes("Lò Thị Mai")
