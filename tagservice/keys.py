"""Key management: generation, encryption at rest, rotation and the public trust list.

Private keys never touch disk in the clear: each is sealed with AES-256-GCM
under a key-encryption key (KEK) that comes from `TAGSERVICE_KEK` or from a
0600 file that `tagservice init` writes. The keyring is a small JSON file in
the instance folder; processes cache it and reload only when it changes, so
the unlock path never re-reads or re-decrypts keys.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import threading
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag as _AeadFailure
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tagservice import clock, crypto
from tagservice.config import ConfigError, Settings, check_private_file

KEK_BYTES = 32
ISSUER = "issuer"
READER = "reader"
ROLES = {ISSUER: "sig", READER: "enc"}
DESTROYED = "destroyed"
_AT_REST_PREFIX = "v1."


class KeyStoreError(ConfigError):
    """The keyring or key-encryption key is missing, unreadable or wrong."""


class WrongKek(KeyStoreError):  # noqa: N818 - reads as keys.WrongKek
    """A sealed secret does not open with this key-encryption key."""


# ------------------------------------------------------------ encryption at rest


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def generate_kek() -> str:
    return _b64(secrets.token_bytes(KEK_BYTES))


def parse_kek(text: str) -> bytes:
    try:
        kek = _unb64(text.strip())
    except ValueError:
        kek = b""
    if len(kek) != KEK_BYTES:
        raise KeyStoreError("the key-encryption key must be 32 bytes in base64url")
    return kek


def load_kek(settings: Settings) -> bytes:
    """The KEK from TAGSERVICE_KEK, else from the instance's 0600 `kek` file."""
    if settings.kek:
        return parse_kek(settings.kek)
    path = settings.kek_file
    if not path.exists():
        raise KeyStoreError(
            f"no key-encryption key: set TAGSERVICE_KEK or run `tagservice init` (looked in {path})"
        )
    check_private_file(path)
    return parse_kek(path.read_text())


def encrypt_at_rest(kek: bytes, data: bytes, label: str) -> str:
    """Seal a secret for storage; `label` binds it to its purpose (e.g. a key id)."""
    nonce = secrets.token_bytes(12)
    return _AT_REST_PREFIX + _b64(nonce + AESGCM(kek).encrypt(nonce, data, label.encode()))


def decrypt_at_rest(kek: bytes, token: str, label: str) -> bytes:
    if not token.startswith(_AT_REST_PREFIX):
        raise KeyStoreError("stored secret has an unknown format")
    try:
        raw = _unb64(token[len(_AT_REST_PREFIX) :])
        return AESGCM(kek).decrypt(raw[:12], raw[12:], label.encode())
    except (ValueError, _AeadFailure):
        raise WrongKek(
            "a stored secret could not be decrypted: wrong key-encryption key?"
        ) from None


# ------------------------------------------------------------ the keyring


@dataclass(frozen=True)
class KeyRecord:
    kid: str
    role: str
    public: str
    private: str
    created: str
    status: str = "active"  # active, retired, or destroyed (private key removed)
    retired: str | None = None
    destroyed: str | None = None

    @property
    def active(self) -> bool:
        return self.status == "active"


def _raw_public(key: Ed25519PublicKey | X25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _raw_private(key: Ed25519PrivateKey | X25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )


@dataclass(frozen=True)
class Keyring:
    records: tuple[KeyRecord, ...] = ()

    def by_kid(self, kid: str) -> KeyRecord:
        for record in self.records:
            if record.kid == kid:
                return record
        raise KeyStoreError(f"no key with id {kid}")

    def newest(self, role: str) -> KeyRecord | None:
        active = [r for r in self.records if r.role == role and r.active]
        return active[-1] if active else None

    def add(self, role: str, kek: bytes, now: datetime) -> tuple[Keyring, KeyRecord]:
        """A new key for `role`; it issues from now on, older keys keep verifying."""
        if role not in ROLES:
            raise ValueError(f"role must be {ISSUER} or {READER}")
        taken = {r.kid for r in self.records}
        while True:
            private = (
                Ed25519PrivateKey.generate() if role == ISSUER else X25519PrivateKey.generate()
            )
            kid = crypto.kid_of(private.public_key()).hex()
            if kid not in taken:
                break
        record = KeyRecord(
            kid=kid,
            role=role,
            public=_b64(_raw_public(private.public_key())),
            private=encrypt_at_rest(kek, _raw_private(private), f"key:{kid}"),
            created=now.isoformat(timespec="seconds"),
        )
        return Keyring(self.records + (record,)), record

    def retire(self, kid: str, now: datetime, force: bool = False) -> Keyring:
        """Retire a key: tags it signed or encrypted are refused with a clear reason."""
        record = self.by_kid(kid)
        if not record.active:
            raise KeyStoreError(f"key {kid} is already retired")
        others = [r for r in self.records if r.role == record.role and r.active and r.kid != kid]
        if not others and not force:
            raise KeyStoreError(
                f"{kid} is the only active {record.role} key; rotate first (or use --force)"
            )
        retired = replace(record, status="retired", retired=now.isoformat(timespec="seconds"))
        return Keyring(tuple(retired if r.kid == kid else r for r in self.records))

    def destroy(self, kid: str, now: datetime) -> Keyring:
        """Remove a retired key's sealed private key for good; its id and public key stay,
        so the cards made with it are refused with their own reason."""
        record = self.by_kid(kid)
        if record.status == DESTROYED:
            raise KeyStoreError(f"key {kid} is already destroyed")
        if record.active:
            raise KeyStoreError(f"key {kid} is active: retire it first (`tagservice keys retire`)")
        destroyed = replace(
            record, status=DESTROYED, private="", destroyed=now.isoformat(timespec="seconds")
        )
        return Keyring(tuple(destroyed if r.kid == kid else r for r in self.records))

    def keyset(self, kek: bytes) -> crypto.KeySet:
        """Decrypt the private keys into the form crypto.py works with.

        Each record's published public key (the JWKS `x`) must be the public half of its
        private key, and its id must be derived from it: a ring that disagrees with
        itself is refused, so the trust list never names a key the service does not use.
        """
        issuers, readers, retired, destroyed = {}, {}, set(), set()
        signing = sealing = None
        for record in self.records:
            kid = bytes.fromhex(record.kid)
            _check_public(record)
            if not record.active:
                (destroyed if record.status == DESTROYED else retired).add(kid)
                continue
            try:
                raw = decrypt_at_rest(kek, record.private, f"key:{record.kid}")
            except WrongKek:  # still a WrongKek: the service names its KEK at start
                raise WrongKek(
                    f"key {record.kid}: its private key does not open under this id: wrong "
                    "key-encryption key, or keys.json was edited (restore it from a backup)"
                ) from None
            if record.role == ISSUER:
                private = Ed25519PrivateKey.from_private_bytes(raw)
                issuers[kid] = private.public_key()
                signing = (kid, private)
            else:
                private = X25519PrivateKey.from_private_bytes(raw)
                readers[kid] = private
                sealing = (kid, private.public_key())
            if _b64(_raw_public(private.public_key())) != record.public:
                raise KeyStoreError(
                    f"key {record.kid}: the published public key is not the public half of "
                    "its private key; keyring corrupt or tampered with (restore keys.json "
                    "from a backup)"
                )
        return crypto.KeySet(
            issuers, readers, signing, sealing, frozenset(retired), frozenset(destroyed)
        )

    def jwks(self) -> dict:
        """The public trust list (RFC 7517 / RFC 8037 OKP keys)."""
        keys = []
        for r in self.records:
            sig = r.role == ISSUER
            keys.append(
                {
                    "kty": "OKP",
                    "crv": "Ed25519" if sig else "X25519",
                    "x": r.public,
                    "kid": r.kid,
                    "use": ROLES[r.role],
                    "alg": "EdDSA" if sig else "HPKE-X25519-SHA256-A256GCM",
                    "status": r.status,
                    "created": r.created,
                    **({"retired": r.retired} if r.retired else {}),
                    **({"destroyed": r.destroyed} if r.destroyed else {}),
                }
            )
        return {"keys": keys}

    def to_json(self) -> str:
        return json.dumps({"version": 1, "keys": [asdict(r) for r in self.records]}, indent=2)

    @classmethod
    def from_json(cls, text: str) -> Keyring:
        try:
            data = json.loads(text)
            if data.get("version") != 1:
                raise KeyStoreError("keyring file has an unknown version")
            return cls(tuple(KeyRecord(**r) for r in data["keys"]))
        except (ValueError, KeyError, TypeError) as e:
            raise KeyStoreError(f"keyring file is corrupt: {e.__class__.__name__}") from None


def _check_public(record: KeyRecord) -> None:
    """The record's public key is a key of its role whose id is the record's id."""
    try:
        raw = _unb64(record.public)
        public = (Ed25519PublicKey if record.role == ISSUER else X25519PublicKey).from_public_bytes(
            raw
        )
    except ValueError:
        raise KeyStoreError(f"key {record.kid}: the public key is not a valid key") from None
    if crypto.kid_of(public).hex() != record.kid:
        raise KeyStoreError(f"key {record.kid} does not match its id; keyring corrupt")


def write_private(path: Path, text: str) -> None:
    """Write a secret file atomically and durably, readable only by its owner.

    Losing keys.json or the KEK loses every printed card, so a power cut must
    leave either the old file or the new one, never an empty or half-written one:
    the new text is fsynced before it replaces the old file, and the folder is
    fsynced after, so the rename itself survives the crash.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_keyring(settings: Settings, keyring: Keyring) -> None:
    write_private(settings.keyring_file, keyring.to_json())


# ------------------------------------------------------------ cached loading

_cache_lock = threading.Lock()
_cache: dict[Path, tuple[tuple, Keyring, crypto.KeySet | None]] = {}


def _stamp(path: Path) -> tuple:
    st = path.stat()
    # ctime too: a restored keys.json copied with its old mtime must still be reloaded
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)


def load_keyring(settings: Settings) -> Keyring:
    path = settings.keyring_file
    if not path.exists():
        raise KeyStoreError(f"no keyring at {path}: run `tagservice init`")
    check_private_file(path)
    stamp = _stamp(path)
    with _cache_lock:
        hit = _cache.get(path)
        if hit and hit[0] == stamp:
            return hit[1]
        keyring = Keyring.from_json(path.read_text())
        _cache[path] = (stamp, keyring, None)
        return keyring


def load_keyset(settings: Settings) -> crypto.KeySet:
    """The decrypted key set, reloaded only when the keyring file changes."""
    keyring = load_keyring(settings)
    path = settings.keyring_file
    with _cache_lock:
        stamp, cached_ring, keyset = _cache[path]
        if keyset is not None and cached_ring is keyring:
            return keyset
    keyset = keyring.keyset(load_kek(settings))
    with _cache_lock:
        if _cache.get(path, (None, None))[1] is keyring:
            _cache[path] = (stamp, keyring, keyset)
    return keyset


def kek_source(settings: Settings) -> str:
    """Where the key-encryption key comes from, in the words an operator would look for."""
    return "TAGSERVICE_KEK" if settings.kek else f"the KEK file {settings.kek_file}"


def check_kek_opens_keyring(settings: Settings) -> None:
    """Refuse to start when the KEK cannot open the keyring: one line that names the KEK.

    Without this a service with a wrong TAGSERVICE_KEK starts and answers every scan
    with an error. Nothing to check before `tagservice init` has made a keyring.
    """
    if not settings.keyring_file.exists():
        return
    try:
        # not load_keyset: its cache holds keys opened by whatever KEK came first
        load_keyring(settings).keyset(load_kek(settings))
    except WrongKek:
        raise WrongKek(
            f"{kek_source(settings)} holds the wrong key-encryption key for "
            f"{settings.keyring_file}: it cannot open the keys sealed there. Set the key they "
            "were sealed with (or restore keys.json and its KEK from the same backup)"
        ) from None
    except KeyStoreError as e:
        raise KeyStoreError(f"{kek_source(settings)}: {e}") from None


# ------------------------------------------------------------ instance set-up


def init_instance(settings: Settings, now: datetime | None = None) -> list[str]:
    """Create what a local instance needs; idempotent. Returns what was done."""
    now = now or clock.utcnow()
    done = []
    settings.home.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not settings.secret_key and not settings.secret_key_file.exists():
        write_private(settings.secret_key_file, secrets.token_urlsafe(48))
        done.append(f"wrote a new secret key to {settings.secret_key_file}")
    if not settings.kek and not settings.kek_file.exists():
        write_private(settings.kek_file, generate_kek())
        done.append(f"wrote a new key-encryption key to {settings.kek_file} (back it up)")
    kek = load_kek(settings)
    keyring = load_keyring(settings) if settings.keyring_file.exists() else Keyring()
    changed = False
    for role in (ISSUER, READER):
        if keyring.newest(role) is None:
            keyring, record = keyring.add(role, kek, now)
            done.append(f"created {role} key {record.kid}")
            changed = True
    if changed:
        save_keyring(settings, keyring)
    keyring.keyset(kek)  # proves the KEK opens every key
    return done
