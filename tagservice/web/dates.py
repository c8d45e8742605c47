"""One date style on every page: "3 Dec 2026", and times in UK local time with the zone.

The database stores UTC (naive on SQLite, which means UTC here). People read
dates and times in the UK's own time, "3 Dec 2026 14:05 GMT" or "... BST", so
a time never needs mental arithmetic. Templates use the `day` and `moment`
filters; Python uses the functions.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import Flask

LOCAL_ZONE = ZoneInfo("Europe/London")


def local(moment_: datetime) -> datetime:
    """`moment_` in UK local time; a naive datetime is UTC."""
    if moment_.tzinfo is None:
        moment_ = moment_.replace(tzinfo=UTC)
    return moment_.astimezone(LOCAL_ZONE)


def day(value: date | datetime | str | None) -> str:
    """ "3 Dec 2026". A datetime is taken on its UK local day; an ISO text is parsed.

    Text that is not an ISO date is shown as it is (never an error on a page).
    """
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return value
    if isinstance(value, datetime):
        value = local(value).date()
    return f"{value.day} {value:%b %Y}"


def moment(value: datetime | None) -> str:
    """ "3 Dec 2026 14:05 GMT" (or BST in summer): UK local time and its zone."""
    if value is None:
        return ""
    here = local(value)
    return f"{day(here.date())} {here:%H:%M} {here.tzname()}"


def init_app(app: Flask) -> None:
    app.add_template_filter(day, "day")
    app.add_template_filter(moment, "moment")
