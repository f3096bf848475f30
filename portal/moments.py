"""Date arithmetic that cannot fail: values from Azure or old rows may sit at the calendar's edge,
where `datetime + timedelta` raises OverflowError and would take a whole page or sync down."""

from __future__ import annotations

import datetime as dt

LATEST = dt.datetime.max.replace(tzinfo=dt.UTC)
EARLIEST = dt.datetime.min.replace(tzinfo=dt.UTC)


def plus(moment: dt.datetime, delta: dt.timedelta) -> dt.datetime:
    """`moment + delta`, held at the calendar's first or last instant instead of overflowing."""
    try:
        return moment + delta
    except OverflowError:
        return LATEST if delta > dt.timedelta(0) else EARLIEST
