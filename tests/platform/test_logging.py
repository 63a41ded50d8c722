"""Structured logs: one JSON object a line, carrying the request id, written off the loop."""

from __future__ import annotations

import io
import json
import logging
import logging.handlers
import queue
import sys

from mindspace.platform.logging import JsonFormatter, _BatchWriter, _HandOff
from mindspace.platform.requestctx import reset_request_id, set_request_id


def test_a_record_carries_the_request_id_it_was_made_under_and_its_extras() -> None:
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    logger = logging.getLogger("mindspace.test.logging")
    logger.propagate = False
    logger.addHandler(_HandOff(records))
    token = set_request_id("01REQUESTIDFORTHETEST0000")
    try:
        logger.warning("slow %s", "query", extra={"duration_ms": 12.5})
    finally:
        reset_request_id(token)
        logger.handlers.clear()

    # Formatted later, in the writer thread, where no request is current.
    out = io.StringIO()
    writer = logging.StreamHandler(out)
    writer.setFormatter(JsonFormatter())
    writer.handle(records.get_nowait())
    line = json.loads(out.getvalue())
    assert line["msg"] == "slow query"
    assert line["level"] == "warning"
    assert line["request_id"] == "01REQUESTIDFORTHETEST0000"
    assert line["duration_ms"] == 12.5


def test_an_exception_is_logged_with_its_traceback_as_one_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "failed", None, exc_info=sys.exc_info()
        )
    text = JsonFormatter().format(record)
    assert "\n" not in text
    assert "ValueError: boom" in json.loads(text)["exc"]


def test_the_writer_batches_what_is_queued_and_loses_no_line() -> None:
    class CountingStream(io.StringIO):
        writes = 0

        def write(self, text: str) -> int:
            CountingStream.writes += 1
            return super().write(text)

    pending: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    stream = CountingStream()
    writer = _BatchWriter(stream, pending)
    writer.setFormatter(JsonFormatter())
    records = [
        logging.LogRecord("x", logging.INFO, __file__, 1, f"line {n}", None, None) for n in range(5)
    ]
    for record in records[1:]:
        pending.put(record)
    writer.handle(records[0])  # four more are queued behind it: nothing written yet
    assert stream.getvalue() == ""
    while not pending.empty():
        writer.handle(pending.get_nowait())

    lines = stream.getvalue().splitlines()
    assert [json.loads(line)["msg"] for line in lines] == [f"line {n}" for n in range(5)]
    assert stream.getvalue().endswith("\n")
    assert CountingStream.writes == 1
