"""Typed settings, read once from the instance folder and TAGSERVICE_* variables.

The only module of the service that reads the environment.

Everything an operator can change is here, in one frozen object, so a
misconfigured production start fails at boot with a message instead of at
the first scan.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

ENVIRONMENTS = ("development", "testing", "production")


class ConfigError(RuntimeError):
    """The deployment is not configured well enough to start safely."""


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"expected true or false, got {value!r}")


def _count(name: str, value: str) -> int:
    if not value.isdigit() or int(value) > 5:
        raise ConfigError(f"{name} must be a whole number from 0 to 5")
    return int(value)


@dataclass(frozen=True)
class Settings:
    home: Path
    env: str = "development"
    base_url: str = "http://127.0.0.1:8000"
    database_url: str = ""
    secret_key: str | None = None
    kek: str | None = None
    session_hours: int = 12
    ratelimit_enabled: bool = True
    ratelimit_storage_uri: str = "memory://"
    demo: bool = True
    proxy_fix: int = 0
    # /metrics: a bearer token for scraping from elsewhere; whether gunicorn's
    # workers share counts through prometheus_client's multiprocess directory.
    metrics_token: str | None = None
    metrics_multiprocess: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def secret_key_file(self) -> Path:
        return self.home / "secret_key"

    @property
    def kek_file(self) -> Path:
        return self.home / "kek"

    @property
    def keyring_file(self) -> Path:
        return self.home / "keys.json"

    def with_overrides(self, **changes) -> Settings:
        return replace(self, **changes)


def process_environment() -> Mapping[str, str]:
    """The process's environment variables: read here and nowhere else in the service."""
    return os.environ


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from the environment; the instance folder supplies defaults."""
    env = process_environment() if environ is None else environ
    home = Path(env.get("TAGSERVICE_HOME", "instance")).expanduser().resolve()
    mode = env.get("TAGSERVICE_ENV", "development")
    if mode not in ENVIRONMENTS:
        raise ConfigError(f"TAGSERVICE_ENV must be one of {', '.join(ENVIRONMENTS)}, not {mode!r}")
    database_url = env.get("DATABASE_URL") or env.get("TAGSERVICE_DATABASE_URL") or ""
    if not database_url:
        database_url = f"sqlite:///{home / 'tagservice.sqlite3'}"
    session_hours = env.get("TAGSERVICE_SESSION_HOURS", "12")
    if not session_hours.isdigit() or not 1 <= int(session_hours) <= 24:
        raise ConfigError("TAGSERVICE_SESSION_HOURS must be a whole number of hours from 1 to 24")
    return Settings(
        home=home,
        env=mode,
        base_url=env.get("TAGSERVICE_BASE_URL", "http://127.0.0.1:8000").rstrip("/"),
        database_url=database_url,
        secret_key=env.get("TAGSERVICE_SECRET_KEY") or None,
        kek=env.get("TAGSERVICE_KEK") or None,
        session_hours=int(session_hours),
        ratelimit_enabled=_bool(env.get("TAGSERVICE_RATELIMIT_ENABLED", "true")),
        ratelimit_storage_uri=env.get("TAGSERVICE_RATELIMIT_STORAGE_URI", "memory://"),
        demo=mode != "production",
        proxy_fix=_count("TAGSERVICE_PROXY_FIX", env.get("TAGSERVICE_PROXY_FIX", "0")),
        metrics_token=env.get("TAGSERVICE_METRICS_TOKEN") or None,
        metrics_multiprocess=bool(env.get("PROMETHEUS_MULTIPROC_DIR")),
    )


def read_secret_key(settings: Settings) -> str:
    """The Flask secret key: from the environment, else the file `tagservice init` wrote."""
    if settings.secret_key:
        return settings.secret_key
    path = settings.secret_key_file
    if path.exists():
        check_private_file(path)
        return path.read_text().strip()
    raise ConfigError(
        f"no secret key: set TAGSERVICE_SECRET_KEY or run `tagservice init` (looked in {path})"
    )


def check_private_file(path: Path) -> None:
    """Refuse secrets that other users on the machine could read."""
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ConfigError(
            f"{path} is readable by other users (mode {mode:o}); run `chmod 600 {path}`"
        )
