"""Prometheus metrics, exposed at `/metrics`."""

from __future__ import annotations

from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response

REQUESTS = Counter(
    "mindspace_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
LATENCY = Histogram(
    "mindspace_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)


# The labelled children, found once per series: `labels()` takes a lock and builds its key on
# every call, several times the cost of counting (measured: 7 us against 1 us a request).
# Bounded like the series themselves: route templates, never raw paths.
_series: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    series = _series.get((method, route, status))
    if series is None:
        series = (REQUESTS.labels(method, route, str(status)), LATENCY.labels(method, route))
        _series[(method, route, status)] = series
    requests, latency = series
    requests.inc()
    latency.observe(seconds)


async def metrics_endpoint(request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
