"""Faults: a worker killed mid-load, the database gone, read-only, locked or full.

The promise under test (unlock.py): the audit event is committed before the
summary is decrypted, and if it cannot be committed nothing is shown. So
every summary a client receives has its event in an intact chain, and every
fault in front of the audit write ends in a refusal (503), never a summary.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import sqlite3
import subprocess
import threading
import time

import pyotp
import pytest
from sqlalchemy import event

from tagservice import audit, create_app, crypto
from tagservice.accounts import clinicians
from tagservice.store.db import db
from tests.helpers import FAST_ARGON2, csrf_from, events, path_of, plant_clinician_session
from tests.robustness import served

SECRETS = ("Jane", "Smith", "Penicillin", "Warfarin")


# ------------------------------------------------------------------ a worker killed


def unlock_load(inst, token, seconds: float, threads: int, results: list, stop: threading.Event):
    def client():
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not stop.is_set():
            try:
                status, body = served.call(
                    inst.base + "/api/v1/unlock", {"tag": inst.tag, "reason": "999"}, token, 5
                )
            except (OSError, http.client.HTTPException, ValueError) as e:
                # the killed worker's connection: reset, cut short or empty; the client got nothing
                results.append(("error", type(e).__name__))
                continue
            if status == 200 and body["summary"]["identity"]["name"] != "Jane Smith":
                status = "wrong summary"
            results.append((status, body.get("audit_id") if status == 200 else body.get("error")))

    workers = [threading.Thread(target=client) for _ in range(threads)]
    for w in workers:
        w.start()
    return workers


def kill_workers_during_load(inst, tmp_path, *, seconds: float, kills: int):
    """Unlock from 6 threads while SIGKILLing a gunicorn worker `kills` times."""
    results: list = []
    killed = []
    with served.gunicorn(inst, tmp_path / "gunicorn.log") as master:
        token = inst.token()
        stop = threading.Event()
        threads = unlock_load(inst, token, seconds, 6, results, stop)
        try:
            for _ in range(kills):
                time.sleep(seconds / (kills + 1))
                pids = served.worker_pids(master)
                assert pids, "gunicorn has no worker to kill"
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
        finally:
            for t in threads:
                t.join(timeout=seconds + 30)
            stop.set()
        # the master replaces the killed workers and the service goes on
        deadline = time.monotonic() + 30
        while len(set(served.worker_pids(master)) - set(killed)) < 2:
            assert time.monotonic() < deadline, "gunicorn did not replace the killed workers"
            time.sleep(0.2)
        status, body = served.call(inst.base + "/api/v1/unlock", {"tag": inst.tag, "reason": "999"},
                                   token)  # fmt: skip
        assert status == 200
        results.append((200, body["audit_id"]))
    return results, killed


def assert_every_summary_shown_was_audited(inst, results):
    shown = {audit_id for status, audit_id in results if status == 200}
    lost = sum(1 for status, _ in results if status == "error")
    print(f"under load: {len(shown)} summaries shown, {lost} requests lost with their worker")
    assert shown, "no unlock succeeded under load"
    odd = [r for r in results if r[0] not in (200, "error")]
    assert not odd, f"only summaries or lost connections, not {odd[:5]}"
    verified = inst.cli("audit", "verify", check=False)
    assert verified.returncode == 0 and "intact" in verified.stdout, verified.stdout
    exported = inst.cli("audit", "export").stdout
    unlocked = {
        e["id"] for e in map(json.loads, exported.splitlines()) if e["kind"] == "tag.unlocked"
    }
    assert shown <= unlocked, f"summaries shown without an audit event: {sorted(shown - unlocked)}"
    db_file = inst.home / "tagservice.sqlite3"
    with sqlite3.connect(db_file) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_killing_a_worker_mid_load_leaves_every_shown_summary_audited(served_instance, tmp_path):
    # Given 6 clients unlocking as fast as they can, when a worker is SIGKILLed twice
    results, killed = kill_workers_during_load(served_instance, tmp_path, seconds=4, kills=2)
    # Then every summary a client got has its event, and the chain and database are intact
    assert len(killed) == 2
    assert_every_summary_shown_was_audited(served_instance, results)


@pytest.mark.slow
def test_killing_workers_again_and_again_under_a_long_load(served_instance, tmp_path):
    results, killed = kill_workers_during_load(served_instance, tmp_path, seconds=60, kills=20)
    assert len(killed) == 20
    assert_every_summary_shown_was_audited(served_instance, results)


# ------------------------------------------------------------------ the database gone


@pytest.fixture
def account(app, tag_factory):
    """A paramedic with a bearer token, and a registered tag, on the normal database."""
    url = tag_factory()
    app.config["ARGON2_PARAMS"] = FAST_ARGON2
    with app.app_context():
        _, password, uri = clinicians.add_clinician(
            "para@example.nhs.uk", "Pat Medic", "paramedic", "HCPC", "PA12345", "Example"
        )
    response = app.test_client().post(
        "/api/v1/session",
        json={"email": "para@example.nhs.uk", "password": password,
              "totp": pyotp.parse_uri(uri).now()},
    )  # fmt: skip
    return {"token": response.json["token"], "url": url}


def app_on(settings, database_url: str):
    return create_app(
        {
            "settings": settings.with_overrides(database_url=database_url),
            "SECRET_KEY": "test-secret",
            "TESTING": True,
        }
    )


def api_unlock(app, token, url):
    return app.test_client().post(
        "/api/v1/unlock",
        json={"tag": url, "reason": "999"},
        headers={"Authorization": f"Bearer {token}"},
    )


def assert_refused_and_nothing_shown(response, status=503):
    assert response.status_code == status, response.text[:300]
    for secret in SECRETS:
        assert secret not in response.text


def dispose(app):
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_read_only_database_refuses_the_unlock_with_503(app, settings, account, monkeypatch):
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("a read-only SQLite file")
    path = settings.database_url.removeprefix("sqlite:///")
    # Given the database file opened read-only (as root, chmod would not stop us writing)
    reader = app_on(settings, f"sqlite:///file:{path}?mode=ro&uri=true")
    opened = []
    for name in ("open_tag", "open_verified"):  # decryption, whichever way it is reached
        real = getattr(crypto, name)
        monkeypatch.setattr(crypto, name, lambda *a, _r=real, **k: opened.append(1) or _r(*a, **k))
    before = len(events(app))
    try:
        # When a signed-in paramedic unlocks, over the API and through the pages
        assert_refused_and_nothing_shown(api_unlock(reader, account["token"], account["url"]))
        client = reader.test_client()
        with app.app_context():
            cid = clinicians.find_clinician("para@example.nhs.uk").id
        plant_clinician_session(client, app, cid)  # signed in before it became read-only
        # (a scan is audited too, so even the reason page is refused)
        assert_refused_and_nothing_shown(client.get(path_of(account["url"])))
        page = client.get("/desk")  # a page that writes nothing, for a CSRF token
        assert page.status_code == 200
        response = client.post(
            "/unlock",
            data={"csrf_token": csrf_from(page.text), "tag": path_of(account["url"])[3:],
                  "reason": "999"},
        )  # fmt: skip
        assert_refused_and_nothing_shown(response)
    finally:
        dispose(reader)
    # Then nothing was decrypted and nothing was written
    assert opened == []
    assert len(events(app)) == before


def test_a_postgresql_server_that_is_down_refuses_with_503(settings, tag_factory, app):
    url = tag_factory()
    closed = served.free_port()  # nothing listens there: connections are refused at once
    down = app_on(settings, f"postgresql+psycopg://tagservice@127.0.0.1:{closed}/tagservice")
    try:
        response = api_unlock(down, "A" * 43, url)
        assert_refused_and_nothing_shown(response)
        assert response.json["error"] == "service_unavailable"
        assert int(response.headers["Retry-After"]) > 0
        client = down.test_client()
        assert_refused_and_nothing_shown(client.get(path_of(url)))
        with client.session_transaction() as s:
            # a session id the database cannot be asked about while it is down
            s.update(sid="s" * 43, clinician_id=1, epoch=0, signed_in_at=int(time.time()))
        assert_refused_and_nothing_shown(client.get(path_of(url)))
        assert_refused_and_nothing_shown(client.get("/desk"))
    finally:
        dispose(down)


def test_a_database_locked_by_another_writer_refuses_with_503(app, settings, account):
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock (PostgreSQL waits on the row lock instead)")
    path = settings.database_url.removeprefix("sqlite:///")
    # Given another process holding the write lock past the 5 s busy timeout
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        response = api_unlock(app, account["token"], account["url"])
        waited = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    # Then the unlock waited for the lock, gave up and showed nothing
    assert_refused_and_nothing_shown(response)
    assert 4 < waited < 15
    assert api_unlock(app, account["token"], account["url"]).status_code == 200


def test_postgresql_dying_just_before_the_audit_insert_shows_nothing(
    app, settings, account, monkeypatch
):
    if settings.database_url.startswith("sqlite"):
        pytest.skip("needs a PostgreSQL server (TAGSERVICE_TEST_DATABASE_URL)")
    from sqlalchemy import create_engine, text

    from tagservice.store import statements
    from tagservice.store.db import engine_url

    # Given our own server connection is terminated as the audit INSERT is about to run
    # (only this test's backend: other tests sharing the server are not disturbed)
    killer = create_engine(engine_url(settings.database_url))
    insert = statements.AUDIT_INSERT_EVENT

    class TerminatedFirst:
        binds = insert.binds

        def execute(self, conn, *params):
            cursor = conn.connection.cursor()
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
            with killer.begin() as k:
                k.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            insert.execute(conn, *params)

    monkeypatch.setattr(statements, "AUDIT_INSERT_EVENT", TerminatedFirst())
    try:
        response = api_unlock(app, account["token"], account["url"])
    finally:
        monkeypatch.undo()
        killer.dispose()
    assert_refused_and_nothing_shown(response)
    assert api_unlock(app, account["token"], account["url"]).status_code == 200


# ------------------------------------------------------------------ the disk full


def test_a_database_at_its_size_cap_refuses_the_unlock_and_recovers(app, settings, account):
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("SQLite's max_page_count")

    # Given every connection capped at the file's current size, and the audit table
    # filled (through the real append) until the database refused another event
    with app.app_context():
        engine = db.engine
        pages = db.session.execute(db.text("PRAGMA page_count")).scalar()

    def cap(dbapi_connection, _record):
        dbapi_connection.execute(f"PRAGMA max_page_count={pages}")

    event.listen(engine, "connect", cap)
    engine.dispose()
    try:
        with app.app_context():
            for n in range(10_000):
                try:
                    audit.record_event("tag.scanned", outcome="success", filler=n)
                except audit.AuditWriteError:
                    break
            else:
                pytest.fail("the capped database never filled up")
        before = len(events(app))
        # When a paramedic unlocks
        response = api_unlock(app, account["token"], account["url"])
        # Then the unlock is refused and nothing is shown or written
        assert_refused_and_nothing_shown(response)
        assert len(events(app)) == before
    finally:
        event.remove(engine, "connect", cap)
        engine.dispose()
    # And once there is room again, unlocking works and the chain is intact
    assert api_unlock(app, account["token"], account["url"]).status_code == 200
    with app.app_context():
        assert audit.verify_chain().ok


@pytest.fixture
def tiny_disk(tmp_path):
    """A 2 MB tmpfs (needs root and mount); unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(mount)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()[:100]}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)


def test_a_full_disk_on_the_audit_write_refuses_the_unlock(settings, tiny_disk, tag_factory, app):
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("the SQLite file on a tiny disk")
    from tagservice.store.db import upgrade_database

    # Given the database on a 2 MB disk, its log emptied, and the rest of the disk filled
    url = tag_factory()  # keys stay in the instance folder, off the tiny disk
    full = app_on(settings, f"sqlite:///{tiny_disk / 'tagservice.sqlite3'}")
    full.config["ARGON2_PARAMS"] = FAST_ARGON2
    upgrade_database(full)
    try:
        with full.app_context():
            _, password, uri = clinicians.add_clinician(
                "para@example.nhs.uk", "Pat Medic", "paramedic", "HCPC", "PA12345", "Example"
            )
        token = full.test_client().post(
            "/api/v1/session",
            json={"email": "para@example.nhs.uk", "password": password,
                  "totp": pyotp.parse_uri(uri).now()},
        ).json["token"]  # fmt: skip
        dispose(full)
        with sqlite3.connect(tiny_disk / "tagservice.sqlite3") as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        filler = tiny_disk / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError:  # ENOSPC: the disk is full
            pass
        finally:
            os.close(fd)
        # When a paramedic unlocks
        response = api_unlock(full, token, url)
        # Then nothing is shown; and once space is freed, unlocking works again
        assert_refused_and_nothing_shown(response)
        filler.unlink()
        dispose(full)
        assert api_unlock(full, token, url).status_code == 200
    finally:
        dispose(full)


@pytest.mark.parametrize("kind", ["clinician.signed_in", "clinician.token_created"])
def test_a_sign_in_whose_audit_event_cannot_be_written_is_refused_with_503(app, settings, kind):
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("a SQLite trigger stands in for the refusing database")
    # Given a database that refuses this one kind of audit event
    from tagservice import keys

    keys.init_instance(settings)
    app.config["ARGON2_PARAMS"] = FAST_ARGON2
    with app.app_context():
        _, password, uri = clinicians.add_clinician(
            "para@example.nhs.uk", "Pat Medic", "paramedic", "HCPC", "PA12345", "Example"
        )
        with db.engine.begin() as conn:
            conn.exec_driver_sql(
                f"CREATE TRIGGER refuse BEFORE INSERT ON audit_event WHEN NEW.kind = '{kind}' "
                "BEGIN SELECT RAISE(ABORT, 'disk full (simulated)'); END"
            )
    # When the paramedic signs in over the API
    response = app.test_client().post(
        "/api/v1/session",
        json={"email": "para@example.nhs.uk", "password": password,
              "totp": pyotp.parse_uri(uri).now()},
    )  # fmt: skip
    # Then no token is handed out: 503, as for any database failure, never a 500
    assert response.status_code == 503 and "token" not in response.json
