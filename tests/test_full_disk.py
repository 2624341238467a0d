"""A full disk under the data folder (a real, small tmpfs): a language pack import is
refused whole with a message that says what to do, the installed version stays, and
nothing half-written is left behind."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest

from kiosk.services.langpacks import PackStore, build_pack
from tests.test_langpacks import cli, pack_folder, wav_bytes


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=6m,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"a small disk cannot be mounted here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path, leave: int) -> Path:
    """A file that takes all the free space of `folder`'s disk but `leave` bytes."""
    filler = folder / "filler"
    free = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
    with open(filler, "wb") as f:
        f.write(b"\0" * max(0, free - leave))
    return filler


def test_a_pack_import_on_a_full_disk_is_refused_whole(tmp_path, small_disk):
    data = small_disk / "data"
    data.mkdir()
    v1 = build_pack(
        pack_folder(tmp_path / "a"), "tyz", 1, tmp_path / "v1.zip", base_catalogue_version="test"
    )
    assert cli(data, "import", str(v1)).returncode == 0
    src = pack_folder(tmp_path / "b", title="Khảm pây (2)")
    (src / "audio" / "tyz" / "home.prompt.wav").write_bytes(wav_bytes(seconds=40))  # 1.3 MB
    v2 = build_pack(src, "tyz", 2, tmp_path / "v2.zip", base_catalogue_version="test")
    filler = _fill(small_disk, leave=256 * 1024)
    refused = cli(data, "import", str(v2))
    assert refused.returncode != 0
    assert "Traceback" not in refused.stderr
    assert "ổ đĩa" in refused.stderr.lower() or "dung lượng" in refused.stderr.lower(), (
        refused.stderr
    )
    packs = PackStore(data / "language-packs")
    assert packs.installed("tyz").version == 1
    assert not list((data / "language-packs" / "tyz").glob(".*partial*"))
    filler.unlink()
    again = cli(data, "import", str(v2))
    assert again.returncode == 0, again.stderr
    assert packs.installed("tyz").version == 2
