"""Request metrics: every answer counted under its route template and status."""

from __future__ import annotations

import uuid

from prometheus_client import REGISTRY

from mindspace.platform.metrics import observe_request


def test_each_answer_is_counted_and_timed_in_its_own_series() -> None:
    route = f"/test/{uuid.uuid4().hex}/{{item_id}}"
    observe_request("GET", route, 200, 0.002)
    observe_request("GET", route, 200, 0.2)
    observe_request("GET", route, 404, 0.001)

    def sample(name: str, **labels: str) -> float | None:
        return REGISTRY.get_sample_value(name, {"method": "GET", "route": route, **labels})

    assert sample("mindspace_http_requests_total", status="200") == 2
    assert sample("mindspace_http_requests_total", status="404") == 1
    assert sample("mindspace_http_request_duration_seconds_count") == 3
    assert sample("mindspace_http_request_duration_seconds_bucket", le="0.0025") == 2
