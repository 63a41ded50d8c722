"""The verdict: a table against the targets in DESIGN.md, and the same as JSON in bench/results."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench import wrk
from bench.measure import Measurement, Plan
from bench.realtime import Fanout

RESULTS_DIR = Path(__file__).resolve().parent / "results"
PACKAGES = (
    "fastapi",
    "starlette",
    "sqlalchemy",
    "asyncpg",
    "uvicorn",
    "pydantic",
    "uvloop",
    "httptools",
    "argon2-cffi",
    "python-socketio",
    "python-engineio",
)
IDLE_RSS_TARGET_MB = 250.0
MODEL_RSS_TARGET_MB = 1024.0  # DESIGN.md: "with the local embedding model loaded, under 1 GB"


@dataclass(frozen=True)
class Target:
    text: str
    min_ratio: float | None = None
    max_p99_ms: float | None = None


@dataclass(frozen=True)
class Row:
    measurement: Measurement
    ceiling_name: str | None = None
    ceiling_rps: float | None = None
    target: Target | None = None

    @property
    def ratio(self) -> float | None:
        return self.measurement.rps / self.ceiling_rps if self.ceiling_rps else None

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        ratio_ok = self.target.min_ratio is None or (self.ratio or 0.0) >= self.target.min_ratio
        p99_ok = self.target.max_p99_ms is None or (
            self.measurement.p99_ms <= self.target.max_p99_ms
        )
        return ratio_ok and p99_ok


@dataclass(frozen=True)
class RealtimeRun:
    fanout: Fanout
    idle_rss_mb: float  # the realtime app process before any socket
    connected_rss_mb: float  # with every socket connected


@dataclass(frozen=True)
class Outcome:
    rows: tuple[Row, ...]
    plan: Plan
    hash_ms: float
    cores: int
    idle_rss_mb: float
    loaded_rss_mb: float
    failed_responses: dict[str, int]
    notes: tuple[str, ...]
    parallel_hash_rps: float  # `cores` threads hashing at once, nothing else running
    realtime: RealtimeRun | None = None
    model_idle_rss_mb: float | None = None  # a second app, with the embedding model loaded

    @property
    def failures(self) -> list[str]:
        failed = [
            f"{row.measurement.name}: "
            + ", ".join(f"{kind} {n}" for kind, n in row.measurement.errors.items() if n)
            for row in self.rows
            if any(row.measurement.errors.values())
        ]
        # A run too short for even one answer proves nothing; it must not pass as clean.
        failed += [
            f"{row.measurement.name}: a timed run completed no request"
            for row in self.rows
            if any(run.requests == 0 for run in row.measurement.runs)
        ]
        if self.realtime is not None and self.realtime.fanout.missing:
            failed.append(f"Socket.IO fan-out: {self.realtime.fanout.missing} deliveries missing")
        return failed


def table(outcome: Outcome) -> str:
    header = ("scenario", "req/s", "p50 ms", "p99 ms", "ceiling", "ratio", "target", "result")
    lines = [_format_line(header), _format_line(tuple("-" * w for w in _WIDTHS))]
    lines += [_format_line(_cells(row)) for row in outcome.rows]
    return "\n".join(lines)


_WIDTHS = (26, 8, 7, 7, 15, 6, 24, 11)


def _format_line(cells: tuple[str, ...]) -> str:
    return "  ".join(
        cell.ljust(width) if n in (0, 4, 6, 7) else cell.rjust(width)
        for n, (cell, width) in enumerate(zip(cells, _WIDTHS, strict=True))
    ).rstrip()


def _cells(row: Row) -> tuple[str, ...]:
    m = row.measurement
    ceiling = f"{row.ceiling_name} {row.ceiling_rps:,.0f}" if row.ceiling_rps else "-"
    ratio = f"{row.ratio:.2f}" if row.ratio is not None else "-"
    verdict = {None: "report only", True: "met", False: "MISSED"}[row.met]
    if any(m.errors.values()) or any(run.requests == 0 for run in m.runs):
        verdict = "FAILED"
    target = row.target.text if row.target else "-"
    return (
        m.name,
        f"{m.rps:,.0f}",
        f"{m.p50_ms:.2f}",
        f"{m.p99_ms:.2f}",
        ceiling,
        ratio,
        target,
        verdict,
    )


def memory_line(outcome: Outcome) -> str:
    verdict = "met" if outcome.idle_rss_mb < IDLE_RSS_TARGET_MB else "MISSED"
    line = (
        f"memory: app RSS idle after start-up {outcome.idle_rss_mb:.0f} MB "
        f"(target < {IDLE_RSS_TARGET_MB:.0f} MB: {verdict}); "
        f"after all scenarios {outcome.loaded_rss_mb:.0f} MB"
    )
    if outcome.model_idle_rss_mb is not None:
        model_verdict = "met" if outcome.model_idle_rss_mb < MODEL_RSS_TARGET_MB else "MISSED"
        line += (
            f"; with the embedding model loaded {outcome.model_idle_rss_mb:.0f} MB "
            f"(target < {MODEL_RSS_TARGET_MB:.0f} MB: {model_verdict})"
        )
    return line


def realtime_line(run: RealtimeRun) -> str:
    f = run.fanout
    verdict = "met" if f.met else "MISSED"
    return (
        f"Socket.IO: one event to {f.sockets:,} sockets x {f.events} events: "
        f"p50 {f.p50_ms:.1f} ms, p99 {f.p99_ms:.1f} ms, max {f.max_ms:.1f} ms, "
        f"{f.missing} missing (target p99 <= {f.TARGET_P99_MS:.0f} ms: {verdict}); "
        f"app CPU {f.app_cpu_ms_per_event:.1f} ms per event; "
        f"app RSS idle {run.idle_rss_mb:.0f} MB, with the sockets {run.connected_rss_mb:.0f} MB"
    )


def realtime_json(run: RealtimeRun) -> dict[str, Any]:
    f = run.fanout
    return {
        "sockets": f.sockets,
        "events": f.events,
        "samples": f.samples,
        "missing": f.missing,
        "p50_ms": f.p50_ms,
        "p99_ms": f.p99_ms,
        "max_ms": f.max_ms,
        "target_p99_ms": f.TARGET_P99_MS,
        "met": f.met,
        "app_cpu_ms_per_event": f.app_cpu_ms_per_event,
        "idle_rss_mb": run.idle_rss_mb,
        "connected_rss_mb": run.connected_rss_mb,
    }


def environment() -> dict[str, Any]:
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "wrk": wrk.version(),
        "packages": {name: version(name) for name in PACKAGES},
        "git": _git(),
    }


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _git() -> dict[str, Any]:
    root = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
        return out.stdout.strip()

    return {"sha": git("rev-parse", "HEAD") or None, "dirty": bool(git("status", "--porcelain"))}


def to_json(outcome: Outcome, env: dict[str, Any], started: datetime) -> dict[str, Any]:
    return {
        "started_at": started.isoformat(),
        "environment": env,
        "plan": {
            "warmup_s": outcome.plan.warmup_s,
            "duration_s": outcome.plan.duration_s,
            "runs": outcome.plan.runs,
            "connections": outcome.plan.wrk.connections,
            "threads": outcome.plan.wrk.threads,
            "timeout_s": outcome.plan.wrk.timeout_s,
        },
        "argon2_hash_ms": outcome.hash_ms,
        "login_ceiling_rps": outcome.cores * 1000 / outcome.hash_ms,
        "parallel_hash_rps": outcome.parallel_hash_rps,
        "memory": {
            "idle_rss_mb": outcome.idle_rss_mb,
            "loaded_rss_mb": outcome.loaded_rss_mb,
            "model_idle_rss_mb": outcome.model_idle_rss_mb,
            "idle_target_mb": IDLE_RSS_TARGET_MB,
        },
        "scenarios": [_row_json(row) for row in outcome.rows],
        "realtime": realtime_json(outcome.realtime) if outcome.realtime else None,
        "failures": outcome.failures,
        "app_failed_responses": outcome.failed_responses,
        "notes": list(outcome.notes),
    }


def _row_json(row: Row) -> dict[str, Any]:
    m = row.measurement
    return {
        "name": m.name,
        "rps": m.rps,
        "p50_ms": m.p50_ms,
        "p99_ms": m.p99_ms,
        "ceiling": row.ceiling_name,
        "ceiling_rps": row.ceiling_rps,
        "ratio": row.ratio,
        "target": row.target.text if row.target else None,
        "met": row.met,
        "errors": dict(m.errors),
        "warmup": _run_json(m.warmup),
        "runs": [_run_json(r) for r in m.runs],
    }


def _run_json(result: wrk.WrkResult) -> dict[str, Any]:
    return {
        "requests": result.requests,
        "duration_s": result.duration_s,
        "rps": result.rps,
        "p50_ms": result.p50_ms,
        "p99_ms": result.p99_ms,
        "max_ms": result.max_ms,
        "errors": dict(result.errors),
    }


def save(document: dict[str, Any], started: datetime) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{started:%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path
