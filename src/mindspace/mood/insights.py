"""Insights from a person's check-ins in one pass over plain rows: averages, distributions,
weekday and time-of-day patterns, activity associations, the year in pixels. Pure (no I/O);
the service reads the rows and the person's zone, then hands the work to a thread.

Averages over weeks, months, weekdays and times of day weigh every check-in equally; the daily
average is the mean of that day's check-ins, and associations compare days (see stats).
"""

from __future__ import annotations

import calendar
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter

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
# Hundreds of points per request: validated in one call rather than one model at a time.
_AVERAGES = TypeAdapter(list[Average])
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


@dataclass(slots=True)
class Tally:
    """Check-ins and their score sum. Scores are integers, so a sum is exact and sum / count
    is the same float as the mean of the scores themselves, however they are grouped."""

    checkins: int = 0
    score_sum: int = 0

    def add(self, checkins: int, score_sum: int) -> None:
        self.checkins += checkins
        self.score_sum += score_sum

    @property
    def mean(self) -> float:
        return self.score_sum / self.checkins


def _mean_or_none(tally: Tally) -> float | None:
    return round(tally.mean, 2) if tally.checkins else None


@dataclass(frozen=True, slots=True)
class Days:
    """A period's check-ins tallied by local day (in day order), with each day's activities."""

    tallies: dict[date, Tally]
    activities: dict[date, set[str]]


def by_day(local: Iterable[Local]) -> Days:
    tallies: dict[date, Tally] = {}
    activities: dict[date, set[str]] = {}
    for item in local:
        tally = tallies.get(item.day)
        if tally is None:
            tally = tallies[item.day] = Tally()
            activities[item.day] = set()
        tally.add(1, item.score)
        if item.activities:
            activities[item.day] |= item.activities
    order = sorted(tallies)
    return Days({d: tallies[d] for d in order}, {d: activities[d] for d in order})


def _averages(days: Days, granularity: Granularity) -> list[Average]:
    if granularity == "day":
        groups = days.tallies
    else:
        key = _GROUPERS[granularity]
        groups = {}
        for day, tally in days.tallies.items():  # in day order, so groups come out in order
            group = groups.get(k := key(day))
            if group is None:
                group = groups[k] = Tally()
            group.add(tally.checkins, tally.score_sum)
    return _AVERAGES.validate_python(
        [
            {"start": k, "mean_score": round(t.mean, 2), "checkins": t.checkins}
            for k, t in groups.items()
        ]
    )


def averages(local: Sequence[Local], granularity: Granularity) -> list[Average]:
    return _averages(by_day(local), granularity)


def distribution(local: Sequence[Local]) -> Distribution:
    moods = Counter(item.mood for item in local)
    scores = Counter(item.score for item in local)
    return Distribution(
        moods=[MoodCount(mood=m, count=moods[m.value]) for m in Mood],
        scores=[ScoreCount(score=s, count=scores[s]) for s in range(1, 11)],
        quick_checkins=moods[None],
    )


def _weekday_patterns(days: Days) -> list[WeekdayPattern]:
    by_weekday = {w: Tally() for w in range(1, 8)}
    for day, tally in days.tallies.items():
        by_weekday[day.isoweekday()].add(tally.checkins, tally.score_sum)
    return [
        WeekdayPattern(weekday=w, mean_score=_mean_or_none(t), checkins=t.checkins)
        for w, t in by_weekday.items()
    ]


def weekday_patterns(local: Sequence[Local]) -> list[WeekdayPattern]:
    return _weekday_patterns(by_day(local))


def time_of_day_patterns(local: Sequence[Local]) -> list[TimeOfDayPattern]:
    by_bucket = {bucket: Tally() for bucket, _ in TIME_OF_DAY}
    for item in local:
        by_bucket[_BUCKET_OF_HOUR[item.hour]].add(1, item.score)
    return [
        TimeOfDayPattern(
            bucket=bucket,
            hours=f"{hours.start:02d}-{hours.stop - 1:02d}",
            mean_score=_mean_or_none(by_bucket[bucket]),
            checkins=by_bucket[bucket].checkins,
        )
        for bucket, hours in TIME_OF_DAY
    ]


def _associations(days: Days, names: Mapping[str, str]) -> Associations:
    named = frozenset(names)
    report = stats.activity_associations(
        {d: t.mean for d, t in days.tallies.items()},
        {d: frozenset(a & named) for d, a in days.activities.items()},
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


def associations(local: Sequence[Local], names: Mapping[str, str]) -> Associations:
    """`names` labels every activity that may be reported; an activity it lacks (a custom one
    deleted since) is left out rather than shown without a name."""
    return _associations(by_day(local), names)


def _sentence(name: str, a: stats.Association[str]) -> str:
    direction = "higher" if a.difference > 0 else "lower"
    return (
        f"On days with {name} your mood averaged {abs(a.difference):.1f} {direction} "
        f"(n={a.n_with} days with, {a.n_without} without)"
    )


def insights(
    local: Sequence[Local], frame: Frame, *, streak: Streak, names: Mapping[str, str]
) -> Insights:
    """From check-ins already on the person's calendar (see `localise`, or the database's
    own conversion) and inside the frame."""
    days = by_day(local)
    total = Tally()
    for tally in days.tallies.values():
        total.add(tally.checkins, tally.score_sum)
    return Insights(
        period=frame.period,
        summary=Summary(
            checkins=total.checkins,
            days_checked_in=len(days.tallies),
            mean_score=_mean_or_none(total),
        ),
        daily=_averages(days, "day"),
        weekly=_averages(days, "week"),
        monthly=_averages(days, "month"),
        distribution=distribution(local),
        weekdays=_weekday_patterns(days),
        time_of_day=time_of_day_patterns(local),
        streak=streak,
        associations=_associations(days, names),
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
