"""One scenario against one server: a warm-up, then the median of several timed wrk runs."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench import wrk
from bench.wrk import BenchError, WrkOptions, WrkResult


def _no_args(invocation: int, seconds: int) -> list[str]:
    return []


@dataclass(frozen=True)
class Load:
    name: str
    path: str
    lua: str | None = None  # scenario script in bench/lua; None: a static GET
    headers: tuple[str, ...] = ()
    # Called before each wrk run with (invocation number, seconds): the script's arguments.
    args: Callable[[int, int], list[str]] = field(default=_no_args)


@dataclass(frozen=True)
class Plan:
    warmup_s: int
    duration_s: int
    runs: int
    wrk: WrkOptions


@dataclass(frozen=True)
class Measurement:
    name: str
    warmup: WrkResult
    runs: tuple[WrkResult, ...]

    @property
    def rps(self) -> float:
        return statistics.median(r.rps for r in self.runs)

    @property
    def p50_ms(self) -> float:
        return statistics.median(r.p50_ms for r in self.runs)

    @property
    def p99_ms(self) -> float:
        return statistics.median(r.p99_ms for r in self.runs)

    @property
    def errors(self) -> Mapping[str, int]:
        """Summed over the warm-up too: a failed request is a failure whenever it happens."""
        every = (self.warmup, *self.runs)
        return {kind: sum(r.errors[kind] for r in every) for kind in wrk.ERROR_KINDS}


class Runner:
    def __init__(self, plan: Plan, work: Path) -> None:
        self.plan = plan
        self.work = work
        self._invocations = 0  # numbers every wrk run, so client address blocks never repeat

    def measure(self, load: Load, base_url: str) -> Measurement:
        if load.lua is None:
            _probe(base_url + load.path, load.headers)
        script = wrk.script(self.work, load.lua)
        warmup = self._once(load, base_url, script, self.plan.warmup_s, "warm-up")
        runs = tuple(
            self._once(load, base_url, script, self.plan.duration_s, f"run {n}/{self.plan.runs}")
            for n in range(1, self.plan.runs + 1)
        )
        return Measurement(load.name, warmup, runs)

    def _once(self, load: Load, base_url: str, script: Path, seconds: int, label: str) -> WrkResult:
        self._invocations += 1
        result = wrk.run(
            base_url + load.path,
            script_path=script,
            options=self.plan.wrk,
            seconds=seconds,
            headers=load.headers,
            args=load.args(self._invocations, seconds),
        )
        errors = ", ".join(f"{k} {v}" for k, v in result.errors.items() if v) or "none"
        print(
            f"  {load.name:<26} {label:<8} {result.rps:>9,.0f} req/s  p50 {result.p50_ms:7.2f} ms"
            f"  p99 {result.p99_ms:7.2f} ms  errors: {errors}",
            flush=True,
        )
        return result


def _probe(url: str, headers: tuple[str, ...]) -> None:
    """One request before the load, so a broken scenario says why instead of only counting."""
    parsed = dict(h.split(": ", 1) for h in headers)
    response = httpx.get(url, headers=parsed, timeout=10.0)
    if not response.is_success:
        raise BenchError(f"GET {url} answered {response.status_code}: {response.text[:500]}")
