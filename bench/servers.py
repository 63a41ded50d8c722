"""The processes under test: one at a time, on a free local port, stopped by their own pid."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.wrk import BenchError

ROOT = Path(__file__).resolve().parents[1]
_START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise BenchError(f"no VmRSS for pid {self.process.pid}")

    def cpu_s(self) -> float:
        """User plus system CPU time the process has used so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def uvicorn_command(python: str, app: str, port: int, *, lifespan: str) -> list[str]:
    """How the ceilings are served: the loop and parser the app gets, one worker, no access log."""
    return [
        python,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        f"--port={port}",
        "--workers=1",
        "--loop=uvloop",
        "--http=httptools",
        "--no-access-log",
        "--log-level=warning",
        f"--lifespan={lifespan}",
    ]


@contextmanager
def running(
    command: Sequence[str],
    *,
    port: int,
    ready_path: str,
    env: Mapping[str, str],
    cwd: Path,
    log_path: Path,
) -> Iterator[Server]:
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            list(command), cwd=cwd, env=dict(env), stdout=log, stderr=subprocess.STDOUT
        )
        server = Server(process, f"http://127.0.0.1:{port}", log_path)
        try:
            _wait_ready(server, ready_path)
            yield server
        finally:
            _stop(process)


def _wait_ready(server: Server, path: str) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        code = server.process.poll()
        if code is not None:
            raise BenchError(f"server exited with {code} on start:\n{log_tail(server.log_path)}")
        try:
            if httpx.get(server.base_url + path, timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise BenchError(f"server not ready after {_START_TIMEOUT_S}s:\n{log_tail(server.log_path)}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def log_tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def failed_responses(log_path: Path) -> dict[str, int]:
    """`route status` -> count for every access-log line of the app with a status >= 400."""
    seen: Counter[str] = Counter()
    with log_path.open(errors="replace") as log:
        for line in log:
            if '"mindspace.access"' not in line:
                continue
            entry = json.loads(line)
            if int(entry.get("status", 0)) >= 400:
                seen[f"{entry.get('method')} {entry.get('route')} {entry['status']}"] += 1
    return dict(seen)
