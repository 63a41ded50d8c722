"""Structured JSON logs, one object per line, each carrying the request id."""

from __future__ import annotations

import atexit
import logging
import logging.handlers
import queue
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

from mindspace.platform.requestctx import current_request_id

# Attributes every LogRecord has; anything else on a record came from `extra=` and is logged.
_STANDARD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "request_id", "color_message"}
)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        # Captured by _HandOff when the record was made; the writer thread has no request.
        request_id = getattr(record, "request_id", None) or current_request_id()
        if request_id:
            entry["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class _HandOff(logging.handlers.QueueHandler):
    """Hands records to a writer thread: formatting JSON and writing to stderr cost about a
    tenth of a millisecond per line, which the event loop should not pay on every request."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        record.request_id = current_request_id()
        record.msg = record.getMessage()
        record.args = None
        return record


class _BatchWriter(logging.StreamHandler):  # type: ignore[type-arg]
    """The writer thread's handler: lines queued behind the one in hand go out in the same
    write. Under load one write (a system call) per line cost the writer thread more than
    formatting the line did."""

    _MAX_BATCH = 256

    def __init__(self, stream: Any, pending: queue.SimpleQueue[logging.LogRecord]) -> None:
        super().__init__(stream)
        self._pending = pending
        self._lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._lines.append(self.format(record))
        except Exception:
            self.handleError(record)
            return
        if len(self._lines) >= self._MAX_BATCH or self._pending.empty():
            self.flush()

    def flush(self) -> None:
        if self._lines:
            lines, self._lines = self._lines, []
            self.stream.write("\n".join(lines) + "\n")
        super().flush()


_listener: logging.handlers.QueueListener | None = None


@atexit.register  # write what is queued when the process ends
def _stop_writer() -> None:
    global _listener
    if _listener is not None:
        _listener.stop()
        for handler in _listener.handlers:
            handler.flush()
        _listener = None


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    global _listener
    # What a record would otherwise collect on the caller's thread for every line, and no line
    # of ours prints: the caller's file and line (a stack walk), thread and process names.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    writer = _BatchWriter(sys.stderr, records)
    if json:
        writer.setFormatter(JsonFormatter())
    else:
        writer.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    _stop_writer()
    _listener = logging.handlers.QueueListener(records, writer)
    _listener.start()
    root = logging.getLogger()
    root.handlers[:] = [_HandOff(records)]
    root.setLevel(level.upper())
    # Uvicorn's own access log would duplicate ours, without the request id.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
