"""When approval windows fall in UTC, around the days the clocks change (Europe/Berlin 2027:
forward on Sunday 28 March at 02:00, back on Sunday 31 October at 03:00)."""

import datetime as dt
import itertools
import zoneinfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jit.window_display import local_span
from jit.window_times import Slot, first_overlap, local_to_utc, slots

UTC = dt.UTC
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
SPRING = dt.date(2027, 3, 28)
AUTUMN = dt.date(2027, 10, 31)


def sunday_slots(start: str, end: str, around: dt.date, zone: str = "Europe/Berlin") -> list[Slot]:
    after = dt.datetime.combine(around - dt.timedelta(days=1), dt.time(), tzinfo=UTC)
    return list(
        slots(
            weekdays=[6],
            start=dt.time.fromisoformat(start),
            end=dt.time.fromisoformat(end),
            time_zone=zone,
            after=after,
            until=after + dt.timedelta(days=2),
        )
    )


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_an_ordinary_window_is_read_in_its_time_zone() -> None:
    [slot] = sunday_slots("02:00", "06:00", dt.date(2027, 1, 10))
    assert (slot.starts_at, slot.ends_at) == (utc(2027, 1, 10, 1), utc(2027, 1, 10, 5))
    [summer] = sunday_slots("02:00", "06:00", dt.date(2027, 7, 4))
    assert (summer.starts_at, summer.ends_at) == (utc(2027, 7, 4, 0), utc(2027, 7, 4, 4))


def test_a_skipped_start_means_the_moment_the_clocks_jump() -> None:
    [slot] = sunday_slots("02:30", "06:00", SPRING)
    assert slot.starts_at == utc(2027, 3, 28, 1)  # 03:00 summer time
    assert slot.ends_at == utc(2027, 3, 28, 4)  # 06:00 summer time: 3 hours that night


def test_a_window_wholly_in_the_skipped_hour_does_not_happen_that_day() -> None:
    assert sunday_slots("02:00", "03:00", SPRING) == []
    assert len(sunday_slots("02:00", "03:00", dt.date(2027, 4, 4))) == 1  # next week it does


def test_a_repeated_time_means_its_first_passing() -> None:
    [slot] = sunday_slots("02:30", "06:00", AUTUMN)
    assert slot.starts_at == utc(2027, 10, 31, 0, 30)  # 02:30 summer time
    assert slot.ends_at == utc(2027, 10, 31, 5)  # 06:00 winter time: 4.5 hours that night
    assert local_to_utc(AUTUMN, dt.time(2, 30), BERLIN).astimezone(BERLIN).dst() != dt.timedelta()


def test_a_window_over_midnight_ends_the_next_day() -> None:
    [slot] = sunday_slots("22:00", "02:00", dt.date(2027, 1, 10))
    assert (slot.starts_at, slot.ends_at) == (utc(2027, 1, 10, 21), utc(2027, 1, 11, 1))
    assert local_span(slot.starts_at, slot.ends_at, "Europe/Berlin") == (
        "Sun 10 Jan 22:00 \N{EN DASH} Mon 11 Jan 02:00 Europe/Berlin"
    )


def test_an_end_equal_to_the_start_means_24_hours() -> None:
    [slot] = sunday_slots("00:00", "00:00", dt.date(2027, 1, 10), zone="UTC")
    assert slot.ends_at - slot.starts_at == dt.timedelta(hours=24)


def test_windows_touching_across_the_change_do_not_overlap() -> None:
    for day in (SPRING, AUTUMN):
        early = sunday_slots("00:00", "02:30", day)
        late = sunday_slots("02:30", "05:00", day)
        assert first_overlap([early, late]) is None
    # Overlapping on the clock overlaps in UTC, except where the overlap lies in the skipped hour.
    overlapping = sunday_slots("02:00", "05:00", AUTUMN)
    assert first_overlap([sunday_slots("00:00", "02:30", AUTUMN), overlapping]) is not None
    assert (
        first_overlap(
            [sunday_slots("00:00", "02:30", SPRING), sunday_slots("02:00", "05:00", SPRING)]
        )
        is None
    )


@given(
    day=st.dates(dt.date(2026, 1, 1), dt.date(2030, 12, 31)),
    a=st.times(),
    b=st.times(),
    zone=st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "UTC"]),
)
def test_the_local_to_utc_rule_keeps_times_in_order(
    day: dt.date, a: dt.time, b: dt.time, zone: str
) -> None:
    tz = zoneinfo.ZoneInfo(zone)
    first, second = sorted([a.replace(microsecond=0), b.replace(microsecond=0)])
    assert local_to_utc(day, first, tz) <= local_to_utc(day, second, tz)


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "Pacific/Apia"])
def test_a_year_of_daily_windows_is_never_empty_or_inverted_but_for_skipped_hours(
    zone: str,
) -> None:
    found = list(
        slots(
            weekdays=range(7),
            start=dt.time(1, 30),
            end=dt.time(3, 30),
            time_zone=zone,
            after=utc(2027, 1, 1),
            until=utc(2028, 1, 1),
        )
    )
    assert 360 <= len(found) <= 365
    assert all(s.ends_at > s.starts_at for s in found)
    assert all(a.ends_at <= b.starts_at for a, b in itertools.pairwise(found))
