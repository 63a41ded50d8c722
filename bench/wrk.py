"""Driving wrk: one process per run, its outcome read from the JSON line our Lua `done` prints."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

LUA_DIR = Path(__file__).resolve().parent / "lua"
_MARKER = "BENCH_JSON "
ERROR_KINDS = ("connect", "read", "write", "status", "timeout", "exhausted")


class BenchError(RuntimeError):
    """The bench itself could not run (as opposed to a scenario that failed requests)."""


@dataclass(frozen=True)
class WrkOptions:
    connections: int
    threads: int
    timeout_s: int


@dataclass(frozen=True)
class WrkResult:
    requests: int
    duration_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    # wrk's "status" counts responses >= 400; "exhausted" is ours (refresh token pool ran dry).
    errors: Mapping[str, int]

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def ensure_installed() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    subprocess.run(["apt-get", "update"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, env=env)
    found = shutil.which("wrk")
    if not found:
        raise BenchError("wrk is still missing after apt-get install")
    return found


def version() -> str:
    out = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return (out.stdout or out.stderr).splitlines()[0].strip()


def script(work: Path, scenario: str | None) -> Path:
    """wrk takes one script: the shared part, then the scenario's own, if any."""
    parts = [(LUA_DIR / "common.lua").read_text()]
    if scenario:
        parts.append((LUA_DIR / scenario).read_text())
    path = work / f"{scenario or 'static'}.bundle.lua"
    path.write_text("\n".join(parts))
    return path


def run(
    url: str,
    *,
    script_path: Path,
    options: WrkOptions,
    seconds: int,
    headers: Sequence[str] = (),
    args: Sequence[str] = (),
) -> WrkResult:
    command = [
        "wrk",
        f"--threads={options.threads}",
        f"--connections={options.connections}",
        f"--duration={seconds}s",
        f"--timeout={options.timeout_s}s",
        f"--script={script_path}",
    ]
    for header in headers:
        command += ["--header", header]
    command += [url, *args]
    out = subprocess.run(command, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise BenchError(f"wrk exited with {out.returncode}: {out.stderr.strip()}")
    return _parse(out.stdout)


def _parse(stdout: str) -> WrkResult:
    for line in stdout.splitlines():
        if line.startswith(_MARKER):
            data = json.loads(line[len(_MARKER) :])
            return WrkResult(
                requests=data["requests"],
                duration_s=data["duration_us"] / 1e6,
                p50_ms=data["p50_us"] / 1000,
                p99_ms=data["p99_us"] / 1000,
                max_ms=data["max_us"] / 1000,
                errors={kind: int(data[kind]) for kind in ERROR_KINDS},
            )
    raise BenchError(f"wrk printed no result line:\n{stdout}")
