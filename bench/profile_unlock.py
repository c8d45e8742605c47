"""Where does an unlock's time go? pyinstrument over N API unlocks, in process.

Same set-up as bench/unlock.py (the command line makes the instance), but the
requests go through Flask's test client in this process so that the profiler
sees every frame. Prints the call tree (pyinstrument) and the number of SQL
statements per unlock (through SQLAlchemy or straight to the driver).
Run: .venv/bin/python bench/profile_unlock.py [-n 500]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _server  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=500, help="unlocks to profile")
    parser.add_argument("--sql", action="store_true", help="print the SQL of one unlock")
    parser.add_argument("--html", help="also write pyinstrument's HTML report here")
    args = parser.parse_args()
    from pyinstrument import Profiler
    from sqlalchemy import event

    with tempfile.TemporaryDirectory(prefix="tagservice-prof-") as tmp:
        inst = _server.setup_instance(
            Path(tmp) / "instance", 8000, TAGSERVICE_RATELIMIT_ENABLED="false"
        )
        os.environ.update({k: v for k, v in inst.env.items() if k.startswith("TAGSERVICE_")})
        sys.path.insert(0, str(_server.ROOT))
        import pyotp

        from tagservice import create_app
        from tagservice.store import driver
        from tagservice.store.db import db

        app = create_app()
        client = app.test_client()
        totp = pyotp.parse_uri(inst.otpauth)
        token = client.post(
            "/api/v1/session",
            json={"email": _server.EMAIL, "password": _server.PASSWORD, "totp": totp.now()},
        ).json["token"]
        headers = {"Authorization": f"Bearer {token}"}
        body = {"tag": inst.tags["summary-typical.json"], "reason": "999"}
        statements = []
        with app.app_context():
            event.listen(
                db.engine, "before_cursor_execute", lambda _c, _k, sql, *a: statements.append(sql)
            )
        # the unlock path's own statements go straight to the driver (tagservice.store.driver)
        run_driver_statement = driver.DriverStatement.rows

        def counted(statement, conn, *params):
            statements.append(statement.sql)
            return run_driver_statement(statement, conn, *params)

        driver.DriverStatement.rows = counted
        for _ in range(20):  # warm up
            assert client.post("/api/v1/unlock", json=body, headers=headers).status_code == 200
        if args.sql:
            statements.clear()
            client.post("/api/v1/unlock", json=body, headers=headers)
            print("\n".join(" ".join(sql.split())[:150] for sql in statements))
        # CPU time, not wall time: other work on the machine does not count
        started = time.process_time()
        for _ in range(args.n):
            client.post("/api/v1/unlock", json=body, headers=headers)
        plain_ms = (time.process_time() - started) / args.n * 1000
        statements.clear()
        profiler = Profiler(interval=0.0002)
        started = time.perf_counter()
        profiler.start()
        for _ in range(args.n):
            client.post("/api/v1/unlock", json=body, headers=headers)
        profiler.stop()
        elapsed = time.perf_counter() - started
        per_ms = elapsed / args.n * 1000
        print(profiler.output_text(unicode=True, color=False, show_all=False))
        if args.html:
            Path(args.html).write_text(profiler.output_html())
        healthz_started = time.process_time()
        for _ in range(args.n):
            client.get("/healthz")
        healthz_ms = (time.process_time() - healthz_started) / args.n * 1000
        print(
            json.dumps(
                {
                    "unlock_cpu_ms": round(plain_ms, 3),
                    "unlock_ms_profiled": round(per_ms, 3),
                    "healthz_cpu_ms": round(healthz_ms, 3),
                    "sql_statements_per_unlock": len(statements) / args.n,
                }
            )
        )
        with app.app_context():
            db.engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
