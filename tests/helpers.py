"""Helpers shared by the web tests: issue tags, sign in, submit the unlock form."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

from tagservice import crypto, keys
from tagservice.accounts import clinicians
from tagservice.store.db import db
from tagservice.store.models import AuditEvent
from tagservice.web import auth

FIXTURES = Path(__file__).parent / "fixtures"
FAST_ARGON2 = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def tag_id_of(url: str, settings) -> str:
    return crypto.verify_tag(url, keys.load_keyset(settings)).tag_id_hex


def path_of(url: str) -> str:
    return url[url.index("/T/") :]


def csrf_from(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(client, app, **overrides):
    """Put a clinician's session on this client, as /signin does after the checks."""
    from tagservice.store.models import Clinician

    fields = (
        dict(
            email=f"p{time.monotonic_ns()}@example.nhs.uk",
            name="Pat Medic",
            role="paramedic",
            register="HCPC",
            registration_number="PA12345",
            organisation="Example Ambulance Service",
            status="active",
        )
        | overrides
    )
    with app.app_context():
        clinician = Clinician(**fields)
        db.session.add(clinician)
        db.session.commit()
        cid = clinician.id
    plant_clinician_session(client, app, cid)
    return cid


def plant_clinician_session(client, app, clinician_id: int) -> str:
    """Give `client` a signed-in session of this clinician, recorded on the server as
    /signin records it. Returns the session id."""
    from tagservice.accounts import sessions
    from tagservice.store.models import Clinician

    with app.app_context():
        clinician = db.session.get(Clinician, clinician_id)
        hours = app.config["TAGSERVICE"].session_hours
        sid = sessions.open_session(clinician, hours=hours)
        epoch = clinician.session_epoch
    with client.session_transaction() as s:
        s.update(sid=sid, clinician_id=clinician_id, epoch=epoch, signed_in_at=int(time.time()))
    return sid


def plant_patient_session(client, app, patient_id: int) -> str:
    """The same for a patient of the portal."""
    from tagservice.accounts import sessions
    from tagservice.store.models import Patient

    with app.app_context():
        patient = db.session.get(Patient, patient_id)
        hours = app.config["TAGSERVICE"].session_hours
        sid = sessions.open_session(patient, hours=hours)
        epoch = patient.session_epoch
    with client.session_transaction() as s:
        s.update(sid=sid, patient_id=patient_id, patient_epoch=epoch)
        s["patient_signed_in_at"] = int(time.time())
    return sid


def enable_clinician_sign_in(app, settings):
    """Cheap argon2, a KEK for TOTP secrets and the auth blueprints: clinicians can sign in."""
    app.config["ARGON2_PARAMS"] = FAST_ARGON2
    keys.write_private(settings.kek_file, keys.generate_kek())
    if "auth" not in app.blueprints:
        auth.init_app(app)
    return app


def clinician_with_totp(app, email: str, password: str) -> pyotp.TOTP:
    """Add Ann Medic, an active paramedic with this email and password; return her TOTP."""
    with app.app_context():
        _, _, uri = clinicians.add_clinician(
            email, "Ann Medic", "paramedic", "HCPC", "PA12345", "Example Ambulance Service",
            password=password,
        )  # fmt: skip
    return pyotp.TOTP(parse_qs(urlsplit(uri).query)["secret"][0])


def unlock_form(client, url, **form):
    page = client.get(path_of(url))
    assert page.status_code == 200, page.text
    data = {"csrf_token": csrf_from(page.text), "tag": path_of(url)[3:], "reason": "999"}
    return client.post("/unlock", data=data | form)


def events(app, kind=None):
    with app.app_context():
        rows = db.session.scalars(db.select(AuditEvent).order_by(AuditEvent.id)).all()
        return [e for e in rows if kind is None or e.kind == kind]


@contextlib.contextmanager
def gunicorn_serving(env: dict, port: int, log_path: Path):
    """A real gunicorn (2 workers) on 127.0.0.1:port; yields its base URL, stops it after."""
    root = Path(__file__).resolve().parent.parent
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "--bind", f"127.0.0.1:{port}",
             "--workers", "2", "wsgi:app"],
            cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    with urllib.request.urlopen(base + "/healthz", timeout=1):  # noqa: S310
                        break
                except OSError:
                    time.sleep(0.1)
            else:
                pytest.fail("gunicorn did not start: " + log_path.read_text())
            yield base
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
