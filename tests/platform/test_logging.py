"""Structured logs: one JSON object a line, carrying the request id, written off the loop."""

from __future__ import annotations

import io
import json
import logging
import sys
import threading

from mindspace.platform.logging import JsonFormatter, _HandOff, _LogWriter
from mindspace.platform.requestctx import reset_request_id, set_request_id


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.written = threading.Event()

    def write(self, text: str) -> int:
        self.writes += 1
        written = super().write(text)
        self.written.set()
        return written


def test_a_record_carries_the_request_id_it_was_made_under_and_its_extras() -> None:
    out = CountingStream()
    writer = _LogWriter(out, JsonFormatter())  # not started: formatted below, off the request
    logger = logging.getLogger("mindspace.test.logging")
    logger.propagate = False
    logger.addHandler(_HandOff(writer))
    token = set_request_id("01REQUESTIDFORTHETEST0000")
    try:
        logger.warning("slow %s", "query", extra={"duration_ms": 12.5})
    finally:
        reset_request_id(token)
        logger.handlers.clear()

    # Formatted later, in the writer thread, where no request is current.
    writer.write_pending()
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


def test_the_writer_thread_writes_a_burst_in_one_write_and_loses_no_line() -> None:
    stream = CountingStream()
    writer = _LogWriter(stream, JsonFormatter())
    writer.start()
    try:
        for n in range(50):
            writer.put(logging.LogRecord("x", logging.INFO, __file__, 1, f"line {n}", None, None))
        assert stream.written.wait(5)
    finally:
        writer.stop()

    lines = stream.getvalue().splitlines()
    assert [json.loads(line)["msg"] for line in lines] == [f"line {n}" for n in range(50)]
    assert stream.getvalue().endswith("\n")
    assert stream.writes == 1


def test_stopping_writes_what_is_still_pending() -> None:
    stream = CountingStream()
    writer = _LogWriter(stream, JsonFormatter())
    writer.start()
    writer.put(logging.LogRecord("x", logging.INFO, __file__, 1, "last words", None, None))
    writer.stop()  # well within the gathering pause
    assert json.loads(stream.getvalue())["msg"] == "last words"


def test_a_record_that_cannot_be_formatted_does_not_take_the_others_with_it() -> None:
    stream = CountingStream()
    writer = _LogWriter(stream, JsonFormatter())
    writer.put(logging.LogRecord("x", logging.INFO, __file__, 1, "before", None, None))
    writer.put(logging.LogRecord("x", logging.INFO, __file__, 1, "%d", ("not a number",), None))
    writer.put(logging.LogRecord("x", logging.INFO, __file__, 1, "after", None, None))
    writer.write_pending()
    lines = stream.getvalue().splitlines()
    assert json.loads(lines[0])["msg"] == "before"
    assert "unloggable" in lines[1]
    assert json.loads(lines[2])["msg"] == "after"
