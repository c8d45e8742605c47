"""The local demo: a demo clinician and a demo tag, so a newcomer can try the flow.

Never runs in production (`TAGSERVICE_ENV=production`), where the demo account,
if an instance still holds one, is refused (clinicians.demo_refused).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

from flask import current_app

from tagservice import audit, clock, crypto, keys, tag_digits
from tagservice.accounts import credentials
from tagservice.accounts.clinicians import (
    DEMO_ACCOUNT,
    DEMO_EMAIL,
    DEMO_PASSWORD,
    add_clinician,
    find_clinician,
)
from tagservice.audit import EventKind
from tagservice.store import tags


@dataclass(frozen=True)
class DemoCredentials:
    email: str
    password: str
    otpauth_uri: str
    created: bool


def demo_summary() -> dict:
    return json.loads(resources.files("tagservice").joinpath("data/demo-summary.json").read_text())


def ensure_demo_tag() -> str:
    """The demo tag URL, issued once per instance and reused while it still verifies."""
    settings = current_app.config["TAGSERVICE"]
    if settings.production:
        raise RuntimeError("no demo tag in production")
    path = settings.home / "demo-tag.txt"
    keyset = keys.load_keyset(settings)
    if path.exists():
        url = path.read_text().strip()
        try:
            header = crypto.verify_tag(url, keyset)
            if url.startswith(settings.base_url.upper()) and tags.tag_status(
                header.tag_id_hex, clock.utcnow().date()
            ) in ("active", "superseded"):
                return url
        except crypto.InvalidTag:
            pass
    now = clock.utcnow()
    tag = crypto.seal(demo_summary(), keyset, now)
    header = crypto.verify_tag(tag, keyset)
    tags.register_tag(
        header.tag_id_hex, header.issuer_kid.hex(), header.reader_kid.hex(), now, None
    )
    audit.record_event(
        EventKind.TAG_ISSUED,
        outcome="success",
        actor_type="system",
        tag_id=header.tag_id_hex,
        demo=True,
    )
    url = tag_digits.tag_url(settings.base_url, tag)
    keys.write_private(path, url + "\n")
    return url


def ensure_demo_clinician() -> DemoCredentials | None:
    """Create the demo paramedic for `make run`; None in production or with demo off.

    If the account exists already its TOTP secret is decrypted (it is stored
    encrypted like every other) so the otpauth URI can be printed again; the
    password is the documented demo-only constant.
    """
    settings = current_app.config["TAGSERVICE"]
    if settings.production or not settings.demo:
        return None
    clinician = find_clinician(DEMO_EMAIL)
    if clinician is not None:
        uri = credentials.otpauth_uri(clinician)
        return DemoCredentials(DEMO_EMAIL, DEMO_PASSWORD, uri, created=False)
    _, _, uri = add_clinician(*DEMO_ACCOUNT, password=DEMO_PASSWORD, client="demo")
    return DemoCredentials(DEMO_EMAIL, DEMO_PASSWORD, uri, created=True)
