"""Key management: encryption at rest, init, rotation, retirement, trust list."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tagservice import crypto, keys
from tagservice.config import ConfigError, load_settings

NOW = datetime(2026, 11, 27, tzinfo=UTC)
TYPICAL = Path(__file__).parent / "fixtures" / "summary-typical.json"


@pytest.fixture
def home(tmp_path):
    return tmp_path / "inst"


@pytest.fixture
def local(home):
    settings = load_settings({"TAGSERVICE_HOME": str(home)})
    keys.init_instance(settings, NOW)
    return settings


def test_secret_sealed_at_rest_opens_only_with_the_same_kek_and_label():
    kek = keys.parse_kek(keys.generate_kek())
    token = keys.encrypt_at_rest(kek, b"totp secret", "totp:1")
    assert b"totp secret" not in token.encode()
    assert keys.decrypt_at_rest(kek, token, "totp:1") == b"totp secret"
    with pytest.raises(keys.KeyStoreError):
        keys.decrypt_at_rest(kek, token, "totp:2")
    with pytest.raises(keys.KeyStoreError):
        keys.decrypt_at_rest(keys.parse_kek(keys.generate_kek()), token, "totp:1")


@pytest.mark.parametrize("bad", ["", "short", "A" * 44])
def test_kek_of_the_wrong_size_is_refused(bad):
    with pytest.raises(keys.KeyStoreError):
        keys.parse_kek(bad)


def test_init_creates_owner_only_files_and_one_key_per_role(local):
    for path in (local.secret_key_file, local.kek_file, local.keyring_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    keyring = keys.load_keyring(local)
    assert sorted(r.role for r in keyring.records) == ["issuer", "reader"]
    raw = local.keyring_file.read_text()
    for record in json.loads(raw)["keys"]:
        assert record["private"].startswith("v1.")


def test_init_is_idempotent(local):
    before = local.keyring_file.read_text()
    assert keys.init_instance(local, NOW) == []
    assert local.keyring_file.read_text() == before


def test_kek_from_the_environment_is_used_instead_of_a_file(home):
    kek = keys.generate_kek()
    settings = load_settings({"TAGSERVICE_HOME": str(home), "TAGSERVICE_KEK": kek})
    keys.init_instance(settings, NOW)
    assert not settings.kek_file.exists()
    assert keys.load_keyset(settings).signing is not None


def test_world_readable_keyring_is_refused(local):
    os.chmod(local.keyring_file, 0o644)
    keys._cache.clear()
    with pytest.raises(ConfigError, match="chmod 600"):
        keys.load_keyset(local)


def test_world_readable_kek_file_is_refused(local):
    os.chmod(local.kek_file, 0o640)
    keys._cache.clear()
    with pytest.raises(ConfigError, match="readable by other users"):
        keys.load_kek(local)


def test_wrong_kek_cannot_open_the_keyring(local):
    keys.write_private(local.kek_file, keys.generate_kek())
    with pytest.raises(keys.KeyStoreError, match="wrong key-encryption key"):
        keys.load_keyring(local).keyset(keys.load_kek(local))


def test_rotation_issues_with_the_new_key_and_still_reads_old_tags(local, tmp_path):
    summary = json.loads(TYPICAL.read_text())
    old_tag = crypto.seal(summary, keys.load_keyset(local), NOW)
    kek = keys.load_kek(local)
    keyring = keys.load_keyring(local)
    keyring, new_issuer = keyring.add(keys.ISSUER, kek, NOW)
    keyring, new_reader = keyring.add(keys.READER, kek, NOW)
    keys.save_keyring(local, keyring)
    keyset = keys.load_keyset(local)  # cache notices the file changed
    new_tag = crypto.seal(summary, keyset, NOW)
    assert crypto.verify_tag(new_tag, keyset).issuer_kid.hex() == new_issuer.kid
    assert crypto.verify_tag(new_tag, keyset).reader_kid.hex() == new_reader.kid
    assert crypto.open_tag(old_tag, keyset, NOW).summary["identity"]["name"] == "Jane Smith"


def test_retired_key_refuses_its_tags_with_a_clear_reason(local):
    summary = json.loads(TYPICAL.read_text())
    tag = crypto.seal(summary, keys.load_keyset(local), NOW)
    keyring = keys.load_keyring(local)
    old_issuer = keyring.newest(keys.ISSUER).kid
    keyring, _ = keyring.add(keys.ISSUER, keys.load_kek(local), NOW)
    keys.save_keyring(local, keyring.retire(old_issuer, NOW))
    with pytest.raises(crypto.RetiredKey, match="retired"):
        crypto.open_tag(tag, keys.load_keyset(local), NOW)


def test_the_only_active_key_of_a_role_cannot_be_retired_without_force(local):
    keyring = keys.load_keyring(local)
    kid = keyring.newest(keys.READER).kid
    with pytest.raises(keys.KeyStoreError, match="only active"):
        keyring.retire(kid, NOW)
    assert keyring.retire(kid, NOW, force=True).newest(keys.READER) is None


def test_jwks_lists_okp_public_keys_with_id_use_and_status_and_no_private_parts(local):
    jwks = keys.load_keyring(local).jwks()
    assert {k["use"] for k in jwks["keys"]} == {"sig", "enc"}
    for key in jwks["keys"]:
        assert key["kty"] == "OKP" and key["status"] == "active" and len(key["kid"]) == 8
        assert set(key) >= {"crv", "x", "kid", "use", "alg"}
        assert "d" not in key and "private" not in json.dumps(key)


def test_keyset_is_cached_until_the_keyring_file_changes(local):
    first = keys.load_keyset(local)
    assert keys.load_keyset(local) is first
    keyring, _ = keys.load_keyring(local).add(keys.READER, keys.load_kek(local), NOW)
    keys.save_keyring(local, keyring)
    assert keys.load_keyset(local) is not first
