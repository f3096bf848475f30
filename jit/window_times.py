"""When an approval window's occurrences fall, in UTC, from local weekdays and clock times.

The rule for the days the clocks change (docs/jit.md, "Approval windows"):

- a local time the clocks skip (spring forward, 02:30 when 02:00 jumps to 03:00) means the moment
  the clocks jump (03:00 new time); a window lying wholly in the skipped hour has no occurrence
  that day;
- a local time the clocks pass twice (fall back) means its first passing (summer time).

Both keep the mapping from local to UTC time in order, so windows that do not overlap on the
local clock never overlap in UTC either. No Django imports: plain arithmetic, tested alone.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache

UTC = dt.UTC


@cache
def time_zone_names() -> frozenset[str]:
    """The IANA names a window may use."""
    return frozenset(zoneinfo.available_timezones())


def zone(name: str) -> zoneinfo.ZoneInfo:
    """The named time zone; only names from `time_zone_names()` are looked up (hostile input
    such as paths never reaches the file system)."""
    if name not in time_zone_names():
        raise ValueError(f"unknown time zone {name!r}")
    return zoneinfo.ZoneInfo(name)


def local_to_utc(day: dt.date, clock: dt.time, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """The UTC moment of a local date and clock time, by the rule in the module docstring."""
    naive = dt.datetime.combine(day, clock.replace(tzinfo=None))
    first = naive.replace(tzinfo=tz, fold=0)
    if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == naive:
        return first.astimezone(UTC)  # exists (fold=0 is the first passing of a repeated time)
    # Skipped: the jump lies between the two readings of the time; find it to the second.
    later = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    earlier = first.astimezone(UTC)
    low, high = min(earlier, later), max(earlier, later)
    offset_before = low.astimezone(tz).utcoffset()
    while high - low > dt.timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(tz).utcoffset() == offset_before:
            low = middle
        else:
            high = middle
    return high.replace(microsecond=0)


@dataclass(frozen=True)
class Slot:
    starts_at: dt.datetime  # aware, UTC
    ends_at: dt.datetime


def window_length_minutes(start: dt.time, end: dt.time) -> int:
    """Minutes on the local clock from start to end; 24 hours when they are equal."""
    minutes = (end.hour * 60 + end.minute - start.hour * 60 - start.minute) % 1440
    return minutes or 1440


def slots(
    *,
    weekdays: Iterable[int],
    start: dt.time,
    end: dt.time,
    time_zone: str,
    after: dt.datetime,
    until: dt.datetime,
) -> Iterator[Slot]:
    """Occurrences starting after `after` and at or before `until`, in order."""
    tz = zone(time_zone)
    days = set(weekdays)
    length_days = 0 if end > start else 1  # 22:00-02:00 and 02:00-02:00 end the next day
    day = after.astimezone(tz).date() - dt.timedelta(days=1)
    last = until.astimezone(tz).date() + dt.timedelta(days=1)
    while day <= last:
        if day.weekday() in days:
            starts_at = local_to_utc(day, start, tz)
            ends_at = local_to_utc(day + dt.timedelta(days=length_days), end, tz)
            if after < starts_at <= until and ends_at > starts_at:
                yield Slot(starts_at, ends_at)
        day += dt.timedelta(days=1)


def first_overlap(windows: list[list[Slot]]) -> tuple[Slot, Slot] | None:
    """Two slots of different windows that overlap, if any."""
    tagged = sorted(
        ((slot, index) for index, found in enumerate(windows) for slot in found),
        key=lambda pair: pair[0].starts_at,
    )
    latest: tuple[Slot, int] | None = None
    for slot, index in tagged:
        if latest is not None and slot.starts_at < latest[0].ends_at and index != latest[1]:
            return latest[0], slot
        if latest is None or slot.ends_at > latest[0].ends_at:
            latest = (slot, index)
    return None
