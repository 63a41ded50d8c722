"""Insights from a person's check-ins in one pass over plain rows: averages, distributions,
weekday and time-of-day patterns, activity associations, the year in pixels. Pure (no I/O);
the service reads the rows and the person's zone, then hands the work to a thread.

Averages over weeks, months, weekdays and times of day weigh every check-in equally; the daily
average is the mean of that day's check-ins, and associations compare days (see stats).
"""

from __future__ import annotations

import calendar
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from mindspace.mood import stats
from mindspace.mood.days import ONE_DAY, local_day_and_hour
from mindspace.mood.schemas import (
    AssociationOut,
    Associations,
    Average,
    Distribution,
    Granularity,
    Insights,
    Mood,
    MoodCount,
    Period,
    PixelDay,
    ScoreCount,
    Streak,
    Summary,
    TimeOfDayBucket,
    TimeOfDayPattern,
    Trend,
    WeekdayPattern,
    YearInPixels,
)

METHOD = (
    "Welch's t-test on daily average scores, days with the activity against days without; "
    "Benjamini–Hochberg false discovery rate control across all activities tested"
)
TIME_OF_DAY: tuple[tuple[TimeOfDayBucket, range], ...] = (
    ("night", range(0, 6)),
    ("morning", range(6, 12)),
    ("afternoon", range(12, 18)),
    ("evening", range(18, 24)),
)
_BUCKET_OF_HOUR = {hour: bucket for bucket, hours in TIME_OF_DAY for hour in hours}


@dataclass(frozen=True, slots=True)
class Sample:
    """One check-in as read: activities are built-in keys and public custom-activity ids."""

    logged_at: datetime
    score: int
    mood: str | None
    activities: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Local:
    day: date
    hour: int  # local wall-clock hour, for time-of-day patterns
    score: int
    mood: str | None
    activities: frozenset[str]


@dataclass(frozen=True, slots=True)
class Frame:
    """Where and when: the person's zone and day boundary, and the local days asked about."""

    zone: ZoneInfo
    boundary_hour: int
    start: date
    end: date

    @property
    def period(self) -> Period:
        return Period(
            start=self.start,
            end=self.end,
            timezone=self.zone.key,
            day_boundary_hour=self.boundary_hour,
        )


def localise(samples: Iterable[Sample], frame: Frame) -> list[Local]:
    out = []
    for s in samples:
        day, hour = local_day_and_hour(s.logged_at, frame.zone, frame.boundary_hour)
        if frame.start <= day <= frame.end:
            out.append(Local(day, hour, s.score, s.mood, s.activities))
    return out


def _week(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _month(day: date) -> date:
    return day.replace(day=1)


_GROUPERS: dict[Granularity, Callable[[date], date]] = {
    "day": lambda d: d,
    "week": _week,
    "month": _month,
}


def averages(local: Sequence[Local], granularity: Granularity) -> list[Average]:
    key = _GROUPERS[granularity]
    groups: dict[date, list[int]] = defaultdict(list)
    for item in local:
        groups[key(item.day)].append(item.score)
    return [
        Average(start=k, mean_score=round(stats.mean(v), 2), checkins=len(v))
        for k, v in sorted(groups.items())
    ]


def _mean_or_none(values: Sequence[int]) -> float | None:
    return round(stats.mean(values), 2) if values else None


def distribution(local: Sequence[Local]) -> Distribution:
    moods = Counter(item.mood for item in local)
    scores = Counter(item.score for item in local)
    return Distribution(
        moods=[MoodCount(mood=m, count=moods[m.value]) for m in Mood],
        scores=[ScoreCount(score=s, count=scores[s]) for s in range(1, 11)],
        quick_checkins=moods[None],
    )


def weekday_patterns(local: Sequence[Local]) -> list[WeekdayPattern]:
    by_day: dict[int, list[int]] = defaultdict(list)
    for item in local:
        by_day[item.day.isoweekday()].append(item.score)
    return [
        WeekdayPattern(weekday=w, mean_score=_mean_or_none(by_day[w]), checkins=len(by_day[w]))
        for w in range(1, 8)
    ]


def time_of_day_patterns(local: Sequence[Local]) -> list[TimeOfDayPattern]:
    by_bucket: dict[str, list[int]] = defaultdict(list)
    for item in local:
        by_bucket[_BUCKET_OF_HOUR[item.hour]].append(item.score)
    return [
        TimeOfDayPattern(
            bucket=bucket,
            hours=f"{hours.start:02d}-{hours.stop - 1:02d}",
            mean_score=_mean_or_none(by_bucket[bucket]),
            checkins=len(by_bucket[bucket]),
        )
        for bucket, hours in TIME_OF_DAY
    ]


def associations(local: Sequence[Local], names: Mapping[str, str]) -> Associations:
    """`names` labels every activity that may be reported; an activity it lacks (a custom one
    deleted since) is left out rather than shown without a name."""
    sums: dict[date, list[int]] = defaultdict(list)
    activities: dict[date, set[str]] = defaultdict(set)
    for item in local:
        sums[item.day].append(item.score)
        activities[item.day] |= item.activities & names.keys()
    report = stats.activity_associations(
        {d: stats.mean(v) for d, v in sums.items()},
        {d: frozenset(a) for d, a in activities.items()},
    )
    return Associations(
        method=METHOD,
        min_days_each_side=stats.MIN_DAYS_EACH_SIDE,
        false_discovery_rate=stats.FALSE_DISCOVERY_RATE,
        tested=report.tested,
        reported=[
            AssociationOut(
                activity=a.key,
                name=names[a.key],
                days_with=a.n_with,
                days_without=a.n_without,
                mean_with=round(a.mean_with, 2),
                mean_without=round(a.mean_without, 2),
                difference=round(a.difference, 2),
                p_value=a.p_value,
                q_value=a.q_value,
                summary=_sentence(names[a.key], a),
            )
            for a in report.reported
        ],
        not_enough_data=[names[k] for k in report.not_enough_data],
    )


def _sentence(name: str, a: stats.Association[str]) -> str:
    direction = "higher" if a.difference > 0 else "lower"
    return (
        f"On days with {name} your mood averaged {abs(a.difference):.1f} {direction} "
        f"(n={a.n_with} days with, {a.n_without} without)"
    )


def insights(
    samples: Iterable[Sample], frame: Frame, *, streak: Streak, names: Mapping[str, str]
) -> Insights:
    local = localise(samples, frame)
    scores = [item.score for item in local]
    return Insights(
        period=frame.period,
        summary=Summary(
            checkins=len(local),
            days_checked_in=len({item.day for item in local}),
            mean_score=_mean_or_none(scores),
        ),
        daily=averages(local, "day"),
        weekly=averages(local, "week"),
        monthly=averages(local, "month"),
        distribution=distribution(local),
        weekdays=weekday_patterns(local),
        time_of_day=time_of_day_patterns(local),
        streak=streak,
        associations=associations(local, names),
    )


def trend(samples: Iterable[Sample], frame: Frame, granularity: Granularity) -> Trend:
    points = averages(localise(samples, frame), granularity)
    return Trend(period=frame.period, granularity=granularity, points=points)


def year_frame(year: int, zone: ZoneInfo, boundary_hour: int) -> Frame:
    return Frame(zone, boundary_hour, date(year, 1, 1), date(year, 12, 31))


def year_in_pixels(samples: Iterable[Sample], frame: Frame) -> YearInPixels:
    """One cell per local day of the year, January 1st first: the day's average, or null."""
    means = {a.start: a.mean_score for a in averages(localise(samples, frame), "day")}
    length = 366 if calendar.isleap(frame.start.year) else 365
    days = [frame.start + ONE_DAY * i for i in range(length)]
    return YearInPixels(
        year=frame.start.year,
        timezone=frame.zone.key,
        days=[PixelDay(day=d, mean_score=means.get(d)) for d in days],
    )
