"""The insight and chart builders without I/O: known answers on small generated data."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from mindspace.mood import charts, insights
from mindspace.mood.insights import Frame, Sample

LONDON = ZoneInfo("Europe/London")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_the_year_grid_follows_the_day_boundary_at_new_year() -> None:
    samples = [
        Sample(at("2026-01-01T00:30:00"), 2, None),  # 00:30 GMT, boundary 4: Dec 31st 2025
        Sample(at("2026-01-01T04:00:00"), 8, None),
        Sample(at("2026-12-31T23:00:00"), 6, None),  # still Dec 31st 2026
        Sample(at("2027-01-01T03:59:00"), 4, None),  # 03:59 on Jan 1st 2027: Dec 31st 2026
    ]
    grid = insights.year_in_pixels(samples, insights.year_frame(2026, LONDON, 4))
    cells = {p.day: p.mean_score for p in grid.days}
    assert len(cells) == 365
    assert cells[date(2026, 1, 1)] == 8.0
    assert cells[date(2026, 12, 31)] == 5.0
    assert sum(v is not None for v in cells.values()) == 2


def test_a_spring_forward_night_counts_once_in_the_right_day() -> None:
    # London, 2026-03-29: 01:00 GMT jumps to 02:00 BST. Boundary 2 (a wall time that exists).
    frame = Frame(LONDON, 2, date(2026, 3, 28), date(2026, 3, 29))
    samples = [
        Sample(at("2026-03-29T00:30:00"), 3, None),  # 00:30 GMT: March 28th's night
        Sample(at("2026-03-29T01:30:00"), 9, None),  # 02:30 BST: March 29th
    ]
    daily = insights.averages(insights.localise(samples, frame), "day")
    assert [(a.start, a.mean_score) for a in daily] == [
        (date(2026, 3, 28), 3.0),
        (date(2026, 3, 29), 9.0),
    ]


def test_weekly_and_monthly_groups_start_on_monday_and_the_first() -> None:
    frame = Frame(ZoneInfo("UTC"), 0, date(2026, 1, 1), date(2026, 3, 31))
    samples = [
        Sample(at("2026-01-01T12:00:00") + timedelta(days=n), 5 + n % 2, None) for n in range(60)
    ]
    local = insights.localise(samples, frame)
    weekly = insights.averages(local, "week")
    assert weekly[0].start == date(2025, 12, 29)  # the Monday of Thursday Jan 1st
    assert all(w.start.weekday() == 0 for w in weekly)
    assert sum(w.checkins for w in weekly) == 60
    monthly = insights.averages(local, "month")
    assert [(m.start, m.checkins) for m in monthly] == [
        (date(2026, 1, 1), 31),
        (date(2026, 2, 1), 28),
        (date(2026, 3, 1), 1),
    ]


def test_an_activity_without_a_name_is_never_reported() -> None:
    frame = Frame(ZoneInfo("UTC"), 0, date(2026, 1, 1), date(2026, 4, 30))
    samples = [
        Sample(
            at("2026-01-01T12:00:00") + timedelta(days=n),
            9 if n % 2 else 3,
            None,
            frozenset({"mact_deleted"} if n % 2 else set()),
        )
        for n in range(100)
    ]
    result = insights.associations(insights.localise(samples, frame), names={"yoga": "Yoga"})
    assert result.reported == []
    assert result.tested == 0


def test_svg_text_is_escaped_and_colours_run_red_to_green() -> None:
    assert charts.score_colour(None) == charts.EMPTY
    assert charts.score_colour(1) == "#d73027"
    assert charts.score_colour(10) == "#1a9850"
    frame = Frame(ZoneInfo("UTC"), 0, date(2026, 1, 1), date(2026, 1, 31))
    empty = insights.trend([], frame, "day")
    root = ET.fromstring(charts.trend_svg(empty))  # noqa: S314 - our own output
    assert "No check-ins in this period" in "".join(root.itertext())
    text = charts._text('<b a="1">&</b>', x=0)
    assert text == '<text x="0">&lt;b a="1"&gt;&amp;&lt;/b&gt;</text>'
    # quoteattr picks the quote the value lacks, and escapes the rest.
    assert charts._element("g", {"id": '"><script>'}) == "<g id='\"&gt;&lt;script&gt;'/>"
