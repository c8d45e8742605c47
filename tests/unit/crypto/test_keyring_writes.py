"""The key ring and the KEK are written durably: a crash never loses the printed cards' keys."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tagservice import keys
from tagservice.config import load_settings

NOW = datetime(2026, 11, 27, tzinfo=UTC)


@pytest.fixture
def local(tmp_path):
    settings = load_settings({"TAGSERVICE_HOME": str(tmp_path / "inst")})
    keys.init_instance(settings, NOW)
    return settings


def _path_of(fd: int) -> Path:
    return Path(os.readlink(f"/proc/self/fd/{fd}"))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to name an fd")
def test_saving_the_ring_fsyncs_the_new_file_before_the_rename_and_the_folder_after(
    local, monkeypatch
):
    # Given os.fsync and os.replace that record what they were called on
    calls = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        calls.append(("fsync", _path_of(fd)))
        real_fsync(fd)

    def replace(src, dst):
        calls.append(("replace", Path(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    ring, _ = keys.load_keyring(local).add(keys.READER, keys.load_kek(local), NOW)
    # When the ring is saved
    keys.save_keyring(local, ring)
    # Then the new text is on disk before it replaces the old file, and the rename is
    # on disk before save_keyring returns
    ring_file = local.keyring_file.resolve()
    (_, synced_file), replaced, (_, synced_folder) = calls
    assert synced_file.parent == ring_file.parent and synced_file.name.endswith(".tmp")
    assert replaced == ("replace", local.keyring_file)
    assert synced_folder == ring_file.parent
    assert keys.load_keyring(local) == ring


def test_a_failed_replace_leaves_the_old_ring_intact_and_no_temporary_file(local, monkeypatch):
    before = local.keyring_file.read_bytes()
    ring, _ = keys.load_keyring(local).add(keys.ISSUER, keys.load_kek(local), NOW)

    def disk_full(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OSError):
        keys.save_keyring(local, ring)
    assert local.keyring_file.read_bytes() == before
    assert sorted(p.name for p in local.home.iterdir() if p.name.endswith(".tmp")) == []


def test_a_crash_between_writing_and_replacing_leaves_the_old_ring_that_still_opens(local):
    # Given a process that dies (no clean-up, no exception handlers) right after the new
    # ring is written and synced, before it replaces keys.json
    before = local.keyring_file.read_bytes()
    crash = f"""
import os
from datetime import UTC, datetime
from tagservice import keys
from tagservice.config import load_settings
settings = load_settings({{"TAGSERVICE_HOME": {str(local.home)!r}}})
ring, _ = keys.load_keyring(settings).add("issuer", keys.load_kek(settings), datetime.now(UTC))
os.replace = lambda src, dst: os._exit(9)
keys.save_keyring(settings, ring)
"""
    died = subprocess.run([sys.executable, "-c", crash], capture_output=True, check=False)
    assert died.returncode == 9, died.stderr.decode()[-2000:]
    # Then keys.json is the old ring, byte for byte, and every key in it still opens
    assert local.keyring_file.read_bytes() == before
    keys.load_keyring(local).keyset(keys.load_kek(local))
    # And the next save works and replaces it
    ring, _ = keys.load_keyring(local).add(keys.ISSUER, keys.load_kek(local), NOW)
    keys.save_keyring(local, ring)
    assert len(keys.load_keyring(local).records) == 3


def test_the_kek_and_secret_key_files_are_written_the_same_durable_way(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    settings = load_settings({"TAGSERVICE_HOME": str(tmp_path / "fresh")})
    keys.init_instance(settings, NOW)
    # secret key, KEK, key ring: each its file and its folder
    assert len(synced) == 6
