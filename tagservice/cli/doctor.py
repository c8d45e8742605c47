"""`tagservice doctor`: check a deployment and say what to fix.

Each check passes, warns or fails. A failure is something that makes the
service unsafe or unable to work (a world-readable key, a broken audit chain,
demo accounts in production); a warning is something an operator should
decide about (rate limits off, keys never rotated). Exit 0 when nothing
fails, 1 otherwise, so it can gate a deployment or run from cron.

It reads settings itself instead of through the app factory, so that it can
still report on a deployment too broken to start. It prints paths, modes and
counts, never a secret or a key.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from datetime import datetime

import click

from tagservice import clock
from tagservice.cli import anchor as _anchor  # noqa: F401  (registers `tagservice audit head`)
from tagservice.cli.doctor_checks import (
    FAIL,
    WARN,
    Check,
    check_base_url,
    check_clock,
    check_database,
    check_demo,
    check_instance,
    check_kek,
    check_keyring,
    check_metrics,
    check_rate_limits,
    check_secret_key,
    fail,
    ok,
    safe_error,
)
from tagservice.cli.group import main
from tagservice.config import ConfigError, load_settings, process_environment

# ------------------------------------------------------------ running it all


def run_checks(
    environ: Mapping[str, str] | None = None,
    now: datetime | None = None,
    app_factory: Callable | None = None,
) -> list[Check]:
    """Every check, in the order an operator would fix them."""
    environ = process_environment() if environ is None else environ
    now = now or clock.utcnow()
    try:
        settings = load_settings(environ)
    except ConfigError as e:
        return [fail("settings", str(e))]
    results = [ok("settings", f"TAGSERVICE_ENV={settings.env}, home {settings.home}")]
    for check in (check_instance, check_secret_key, check_kek):
        results.extend(check(settings))
    results.extend(check_keyring(settings, now))
    for check in (check_base_url, check_rate_limits):
        results.extend(check(settings))
    results.extend(check_metrics(settings, environ))
    if any(r.status == FAIL for r in results):
        results.append(fail("service", "not started: fix the failures above first"))
        return results
    from tagservice import create_app

    try:
        app = (app_factory or create_app)({"settings": settings})
    except ConfigError as e:
        return [*results, fail("service", str(e))]
    except Exception as e:  # report, don't crash: that is the point of doctor
        return [*results, fail("service", f"cannot start: {safe_error(e)}")]
    results.extend(database := list(check_database(app)))
    if all(r.status != FAIL for r in database):
        results.extend(check_clock(app, now))
        results.extend(check_demo(app, settings))
    with app.app_context():
        from tagservice.store.db import db

        db.engine.dispose()
    return results


@main.command("doctor", with_appcontext=False)
def doctor_command():
    """Check this deployment: keys, secrets, HTTPS, database, audit chain, clock, limits."""
    results = run_checks()
    for result in results:
        click.echo(result.line())
    failed = sum(r.status == FAIL for r in results)
    warned = sum(r.status == WARN for r in results)
    passed = len(results) - failed - warned
    verdict = "fix the FAIL lines and run it again" if failed else "healthy"
    click.echo(f"doctor: {passed} ok, {warned} to review, {failed} to fix; {verdict}")
    sys.exit(1 if failed else 0)
