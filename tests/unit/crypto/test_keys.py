"""Key management: encryption at rest, init, rotation, retirement, trust list."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from tagservice import crypto, keys
from tagservice.config import ConfigError, load_settings
from tests.paths import FIXTURES

NOW = datetime(2026, 11, 27, tzinfo=UTC)
TYPICAL = FIXTURES / "summary-typical.json"


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


# ------------------------------------------------------------ the published key is the real one


def _tamper(local, role: str, **fields) -> None:
    ring = json.loads(local.keyring_file.read_text())
    for record in ring["keys"]:
        if record["role"] == role:
            record.update(fields)
    keys.write_private(local.keyring_file, json.dumps(ring))


def _public_and_kid_of_a_stranger(role: str) -> dict:
    private = (
        Ed25519PrivateKey.generate() if role == keys.ISSUER else X25519PrivateKey.generate()
    )
    public = private.public_key()
    return {"public": keys._b64(keys._raw_public(public)), "kid": crypto.kid_of(public).hex()}


@pytest.mark.parametrize("role", [keys.ISSUER, keys.READER])
def test_a_ring_whose_public_key_is_not_its_private_keys_is_refused_with_a_clear_message(
    local, role
):
    # Given a record whose id is derived from its public key, and whose private key is
    # sealed under the KEK for that id, but is the private half of another key
    kek = keys.load_kek(local)
    published = _public_and_kid_of_a_stranger(role)
    other = Ed25519PrivateKey.generate() if role == keys.ISSUER else X25519PrivateKey.generate()
    sealed = keys.encrypt_at_rest(kek, keys._raw_private(other), f"key:{published['kid']}")
    _tamper(local, role, private=sealed, **published)
    # Then loading the ring refuses it, says what is wrong and what to do
    with pytest.raises(keys.KeyStoreError, match="not the public half of its private key") as e:
        keys.load_keyset(local)
    assert published["kid"] in str(e.value) and "restore keys.json" in str(e.value)


def test_a_ring_naming_another_key_and_its_id_beside_our_private_key_is_refused(local):
    # the private key is sealed for its own id: moved under another id it does not open
    _tamper(local, keys.READER, **_public_and_kid_of_a_stranger(keys.READER))
    with pytest.raises(keys.KeyStoreError, match="does not open under this id") as e:
        keys.load_keyset(local)
    assert "keys.json was edited" in str(e.value)


def test_a_ring_whose_public_key_does_not_match_its_id_is_refused(local):
    stranger = _public_and_kid_of_a_stranger(keys.ISSUER)
    _tamper(local, keys.ISSUER, public=stranger["public"])
    with pytest.raises(keys.KeyStoreError, match="does not match its id"):
        keys.load_keyset(local)


def test_a_ring_whose_public_key_is_not_a_key_is_refused(local):
    _tamper(local, keys.READER, public="bm90IGEga2V5")
    with pytest.raises(keys.KeyStoreError, match="not a valid key"):
        keys.load_keyset(local)


def test_a_retired_key_is_checked_against_its_id_too(local):
    ring = keys.load_keyring(local)
    old = ring.newest(keys.READER).kid
    ring, _ = ring.add(keys.READER, keys.load_kek(local), NOW)
    keys.save_keyring(local, ring.retire(old, NOW))
    raw = json.loads(local.keyring_file.read_text())
    raw["keys"][[r["kid"] for r in raw["keys"]].index(old)]["public"] = (
        _public_and_kid_of_a_stranger(keys.READER)["public"]
    )
    keys.write_private(local.keyring_file, json.dumps(raw))
    with pytest.raises(keys.KeyStoreError, match=f"{old} does not match its id"):
        keys.load_keyset(local)


# ------------------------------------------------------------ destroying a retired key


def test_only_a_retired_key_can_be_destroyed_and_its_tags_then_say_so(local):
    summary = json.loads(TYPICAL.read_text())
    tag = crypto.seal(summary, keys.load_keyset(local), NOW)
    ring = keys.load_keyring(local)
    old = ring.newest(keys.READER).kid
    with pytest.raises(keys.KeyStoreError, match="retire it first"):
        ring.destroy(old, NOW)
    ring, _ = ring.add(keys.READER, keys.load_kek(local), NOW)
    ring = ring.retire(old, NOW).destroy(old, NOW)
    keys.save_keyring(local, ring)
    record = keys.load_keyring(local).by_kid(old)
    assert (record.status, record.private, record.destroyed) == ("destroyed", "", NOW.isoformat())
    keyset = keys.load_keyset(local)
    assert bytes.fromhex(old) in keyset.destroyed and bytes.fromhex(old) not in keyset.retired
    with pytest.raises(crypto.DestroyedKey, match="reissued"):
        crypto.open_tag(tag, keyset, NOW)
    with pytest.raises(keys.KeyStoreError, match="already destroyed"):
        ring.destroy(old, NOW)
