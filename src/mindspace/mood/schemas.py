"""Mood's HTTP shapes: check-ins in and out, activities, settings, insights and charts."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Annotated, Literal, TypeVar

from pydantic import AwareDatetime, Field, StringConstraints, field_validator

from mindspace.platform.ids import PublicId
from mindspace.platform.schemas import InputModel, OutputModel
from mindspace.safety.service import CrisisSupport

CheckinId = Annotated[uuid.UUID, PublicId("mci", "mood check-in")]
ActivityId = Annotated[uuid.UUID, PublicId("mact", "mood activity")]

T = TypeVar("T")
NOTE_MAX_LENGTH = 500
MAX_FREEZE_DAYS_PER_MONTH = 2


class Mood(enum.StrEnum):
    very_happy = "very_happy"
    happy = "happy"
    neutral = "neutral"
    sad = "sad"
    very_sad = "very_sad"
    anxious = "anxious"
    angry = "angry"


class Emotion(enum.StrEnum):
    joyful = "joyful"
    grateful = "grateful"
    calm = "calm"
    content = "content"
    hopeful = "hopeful"
    proud = "proud"
    loved = "loved"
    excited = "excited"
    relieved = "relieved"
    tired = "tired"
    bored = "bored"
    lonely = "lonely"
    sad = "sad"
    anxious = "anxious"
    stressed = "stressed"
    overwhelmed = "overwhelmed"
    angry = "angry"
    frustrated = "frustrated"
    irritable = "irritable"
    ashamed = "ashamed"
    guilty = "guilty"
    afraid = "afraid"
    numb = "numb"
    confused = "confused"


class BuiltinActivity(enum.StrEnum):
    exercise = "exercise"
    yoga = "yoga"
    walking = "walking"
    running = "running"
    meditation = "meditation"
    reading = "reading"
    work = "work"
    study = "study"
    friends = "friends"
    family = "family"
    partner = "partner"
    socialising = "socialising"
    outdoors = "outdoors"
    music = "music"
    gaming = "gaming"
    tv = "tv"
    cooking = "cooking"
    chores = "chores"
    shopping = "shopping"
    travel = "travel"
    therapy = "therapy"
    journaling = "journaling"
    creative = "creative"
    self_care = "self_care"
    rest = "rest"


Score = Annotated[int, Field(ge=1, le=10, description="1 (worst) to 10 (best)")]
Energy = Annotated[int, Field(ge=1, le=5)]
SleepHours = Annotated[float, Field(ge=0, le=24, multiple_of=0.5, description="Half-hours ok")]
Trigger = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Note = Annotated[str, StringConstraints(max_length=NOTE_MAX_LENGTH)]
ActivityName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]


def _unique(values: list[T] | None) -> list[T] | None:
    """Repeats say nothing new; text compares without case."""
    if values is None:
        return None
    seen: set[object] = set()
    out = []
    for value in values:
        marker = value.casefold() if isinstance(value, str) else value
        if marker not in seen:
            seen.add(marker)
            out.append(value)
    return out


class _CheckinFields(InputModel):
    mood: Mood | None = None
    emotions: Annotated[list[Emotion], Field(max_length=len(Emotion))] | None = None
    energy: Energy | None = None
    sleep_hours: SleepHours | None = None
    activities: Annotated[list[BuiltinActivity], Field(max_length=len(BuiltinActivity))] | None = (
        None
    )
    custom_activities: Annotated[list[ActivityId], Field(max_length=20)] | None = None
    triggers: Annotated[list[Trigger], Field(max_length=10)] | None = None
    note: Note | None = Field(default=None, description="Short; stored sealed (see mood.notes)")

    @field_validator("emotions", "activities", "custom_activities", "triggers")
    @classmethod
    def _deduplicate(cls, value: list[T] | None) -> list[T] | None:
        return _unique(value)


class CheckinCreate(_CheckinFields):
    """Only `score` is required: a quick check-in is `{"score": 6}`."""

    score: Score
    logged_at: AwareDatetime | None = Field(
        default=None, description="When it was felt; may be earlier (not later) than now"
    )


class CheckinUpdate(_CheckinFields):
    """Only the fields sent change; `null` clears an optional field."""

    score: Score | None = None
    logged_at: AwareDatetime | None = None

    @field_validator("score", "logged_at")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("cannot be cleared")
        return value


class Checkin(OutputModel):
    id: CheckinId
    mood: Mood | None
    score: int
    emotions: list[Emotion]
    energy: int | None
    sleep_hours: float | None
    activities: list[BuiltinActivity]
    custom_activities: list[ActivityId]
    triggers: list[str]
    note: str | None
    logged_at: datetime
    created_at: datetime
    updated_at: datetime


class SavedCheckin(Checkin):
    crisis: CrisisSupport | None = Field(
        default=None,
        description="Crisis lines for your country, present when the note suggests you may be "
        "in danger",
    )


class ActivityCreate(InputModel):
    name: ActivityName


class CustomActivity(OutputModel):
    id: ActivityId
    name: str
    created_at: datetime


class BuiltinActivityOut(OutputModel):
    key: BuiltinActivity
    name: str


class Activities(OutputModel):
    builtin: list[BuiltinActivityOut]
    custom: list[CustomActivity]


class MoodSettings(OutputModel):
    freeze_days_per_month: int = Field(
        description="Missed days a month that may bridge a gap in the check-in streak"
    )


class MoodSettingsUpdate(InputModel):
    freeze_days_per_month: Annotated[int, Field(ge=0, le=MAX_FREEZE_DAYS_PER_MONTH)]


# --- insights and charts --------------------------------------------------------------------


class Period(OutputModel):
    start: date
    end: date
    timezone: str
    day_boundary_hour: int


class Summary(OutputModel):
    checkins: int
    days_checked_in: int
    mean_score: float | None


class Average(OutputModel):
    start: date = Field(description="The day, the Monday of the week, or the 1st of the month")
    mean_score: float
    checkins: int


class MoodCount(OutputModel):
    mood: Mood
    count: int


class ScoreCount(OutputModel):
    score: int
    count: int


class Distribution(OutputModel):
    moods: list[MoodCount]
    scores: list[ScoreCount]
    quick_checkins: int = Field(description="Check-ins with a score and no mood")


class WeekdayPattern(OutputModel):
    weekday: int = Field(description="ISO weekday of the local day: 1 Monday … 7 Sunday")
    mean_score: float | None
    checkins: int


TimeOfDayBucket = Literal["night", "morning", "afternoon", "evening"]


class TimeOfDayPattern(OutputModel):
    bucket: TimeOfDayBucket
    hours: str = Field(description="Local wall-clock hours, e.g. 06-11")
    mean_score: float | None
    checkins: int


class Streak(OutputModel):
    current: int = Field(description="Days checked in in the run that reaches today")
    longest: int
    total_days: int = Field(description="Every day ever checked in: nothing is ever lost")
    freeze_days_per_month: int
    frozen_days: list[date] = Field(description="Missed days a freeze bridged")
    last_day: date | None


class AssociationOut(OutputModel):
    activity: str = Field(description="A built-in key, or a custom activity's id")
    name: str
    days_with: int
    days_without: int
    mean_with: float
    mean_without: float
    difference: float
    p_value: float
    q_value: float = Field(description="Benjamini–Hochberg adjusted p-value")
    summary: str


class Associations(OutputModel):
    method: str
    min_days_each_side: int
    false_discovery_rate: float
    tested: int
    reported: list[AssociationOut]
    not_enough_data: list[str] = Field(description="Activities with too few days on one side")


class JournalSentimentDay(OutputModel):
    """The mean VADER compound score (-1 to 1) of the day's analysed journal entries."""

    day: date
    mean_compound: float
    entries: int


class Insights(OutputModel):
    period: Period
    summary: Summary
    daily: list[Average]
    weekly: list[Average]
    monthly: list[Average]
    distribution: Distribution
    weekdays: list[WeekdayPattern]
    time_of_day: list[TimeOfDayPattern]
    streak: Streak
    associations: Associations
    # Beside the mood, only for people who allow journal analysis; empty otherwise.
    journal_sentiment: list[JournalSentimentDay] = Field(default_factory=list)


Granularity = Literal["day", "week", "month"]


class Trend(OutputModel):
    period: Period
    granularity: Granularity
    points: list[Average]


class PixelDay(OutputModel):
    day: date
    mean_score: float | None


class YearInPixels(OutputModel):
    year: int
    timezone: str
    days: list[PixelDay]
