"""Charts as SVG a client can show directly. Built from numbers and dates we produce; every
piece of text still goes through `escape` and every attribute through `quoteattr`, so no
input can ever open a tag or an attribute. No scripts, no external references, no styles that
the API's Content-Security-Policy would refuse."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from xml.sax.saxutils import escape, quoteattr

from mindspace.mood.schemas import Trend, YearInPixels

SVG_MEDIA_TYPE = "image/svg+xml"
EMPTY = "#ebedf0"
_LOW, _MID, _HIGH = (0xD7, 0x30, 0x27), (0xFE, 0xE0, 0x8B), (0x1A, 0x98, 0x50)


def score_colour(score: float | None) -> str:
    """Red (1) through yellow to green (10); grey for a day without a check-in."""
    if score is None:
        return EMPTY
    t = min(max((score - 1) / 9, 0.0), 1.0)
    a, b, u = (_LOW, _MID, t * 2) if t < 0.5 else (_MID, _HIGH, t * 2 - 1)
    return "#" + "".join(f"{round(x + (y - x) * u):02x}" for x, y in zip(a, b, strict=True))


def _element(name: str, attributes: dict[str, object], children: Iterable[str] = ()) -> str:
    attrs = "".join(f" {k.replace('_', '-')}={quoteattr(str(v))}" for k, v in attributes.items())
    inner = "".join(children)
    return f"<{name}{attrs}>{inner}</{name}>" if inner else f"<{name}{attrs}/>"


def _text(content: str, **attributes: object) -> str:
    return _element("text", attributes, [escape(content)])


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    head = _element("title", {}, [escape(title)])
    return _element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "width": width,
            "height": height,
            "viewBox": f"0 0 {width} {height}",
            "role": "img",
            "font_family": "sans-serif",
            "font_size": 11,
        },
        [head, *body],
    )


def trend_svg(trend: Trend, *, width: int = 720, height: int = 240) -> str:
    left, right, top, bottom = 36, 12, 24, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    start, end = trend.period.start, trend.period.end
    span = max((end - start).days, 1)

    def x(day: date) -> float:
        return round(left + plot_w * (day - start).days / span, 1)

    def y(score: float) -> float:
        return round(top + plot_h * (10 - score) / 9, 1)

    body = [_text(f"Mood trend, {start} to {end}", x=left, y=14, font_weight="bold")]
    for tick in (1, 4, 7, 10):
        body.append(
            _element(
                "line",
                {
                    "x1": left,
                    "x2": width - right,
                    "y1": y(tick),
                    "y2": y(tick),
                    "stroke": "#dddddd",
                },
            )
        )
        body.append(_text(str(tick), x=left - 8, y=y(tick) + 4, text_anchor="end"))
    body.append(_text(start.isoformat(), x=left, y=height - 8))
    body.append(_text(end.isoformat(), x=width - right, y=height - 8, text_anchor="end"))
    points = [(x(p.start), y(p.mean_score), p) for p in trend.points]
    if len(points) > 1:
        path = " ".join(f"{px},{py}" for px, py, _ in points)
        body.append(
            _element(
                "polyline", {"points": path, "fill": "none", "stroke": "#3b6ea5", "stroke_width": 2}
            )
        )
    for px, py, p in points:
        label = f"{p.start}: {p.mean_score:.1f} ({p.checkins} check-ins)"
        body.append(
            _element(
                "circle",
                {"cx": px, "cy": py, "r": 3, "fill": score_colour(p.mean_score)},
                [_element("title", {}, [escape(label)])],
            )
        )
    if not points:
        body.append(
            _text(
                "No check-ins in this period",
                x=width / 2,
                y=height / 2,
                text_anchor="middle",
                fill="#777777",
            )
        )
    return _svg(width, height, f"Mood trend {start} to {end}", body)


def year_svg(grid: YearInPixels, *, cell: int = 12, gap: int = 2) -> str:
    """Weeks as columns (Monday on top), as in a contribution calendar."""
    left, top = 28, 30
    first = grid.days[0].day
    monday = first - timedelta(days=first.weekday())
    weeks = (grid.days[-1].day - monday).days // 7 + 1
    width, height = left + weeks * (cell + gap) + 8, top + 7 * (cell + gap) + 8
    body = [_text(f"Year in pixels, {grid.year}", x=left, y=12, font_weight="bold")]
    for row, name in ((0, "Mon"), (2, "Wed"), (4, "Fri")):
        body.append(
            _text(
                name,
                x=left - 4,
                y=top + row * (cell + gap) + cell - 2,
                text_anchor="end",
                font_size=9,
            )
        )
    for pixel in grid.days:
        column, row = (pixel.day - monday).days // 7, pixel.day.weekday()
        if pixel.day.day == 1:
            body.append(
                _text(
                    pixel.day.strftime("%b"), x=left + column * (cell + gap), y=top - 6, font_size=9
                )
            )
        label = f"{pixel.day}: " + (
            f"{pixel.mean_score:.1f}" if pixel.mean_score is not None else "no check-in"
        )
        body.append(
            _element(
                "rect",
                {
                    "x": left + column * (cell + gap),
                    "y": top + row * (cell + gap),
                    "width": cell,
                    "height": cell,
                    "rx": 2,
                    "fill": score_colour(pixel.mean_score),
                },
                [_element("title", {}, [escape(label)])],
            )
        )
    return _svg(width, height, f"Year in pixels {grid.year}", body)
