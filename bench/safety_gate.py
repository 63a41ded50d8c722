"""The safety gate with its learned layer: latency per message, and the memory of an API
process with the embedding model loaded (DESIGN.md: under 1 GB; under 250 MB without it).

    python -m bench.safety_gate

Latency is measured in this process on the evaluation sets' messages (with their
conversations), one at a time: the rules alone, the rules and the layer on messages it has not
seen (each one encoded), on a conversation turn whose earlier messages it has seen, and
through `assess_off_loop` (the thread hop included), alone and eight at once. Memory: a real
`mindspace api` on a migrated database of its own, read once /health/ready answers (which
waits for the model), with embeddings on and off.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import URL

from bench import database, servers
from mindspace.platform import embeddings
from mindspace.platform.config import Settings
from mindspace.platform.migrate import upgrade
from mindspace.safety import engine, evaluation, service
from mindspace.safety.assessment import AssessmentContext
from mindspace.safety.classifier import Classifier, model

DATABASE = "mindspace_bench_safety"
MEMORY_TARGET_MB = 1024.0
BASE_TARGET_MB = 250.0
_SETTLE_S = 2.0


def _ms(samples: Sequence[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered) * 1000:6.2f} ms   p99 {p99 * 1000:6.2f} ms"


def _timed(calls: Sequence[Callable[[], object]]) -> list[float]:
    samples = []
    for call in calls:
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def latency() -> None:
    examples = [e for name in evaluation.SETS for e in evaluation.load(name)]
    encoder = embeddings.shared_encoder()
    started = time.perf_counter()
    layer = Classifier(encoder, model(), prepare=engine.readable, negated=engine.negated_clauses)
    print(f"learned layer ready in {time.perf_counter() - started:.2f} s")
    rules = _timed([partial(engine.assess, e.text, e.context) for e in examples])
    # Seen for the first time: every message and its earlier turns are encoded.
    cold = layer.remembering(1)
    first = _timed([partial(engine.assess, e.text, e.context, classifier=cold) for e in examples])
    # A conversation turn: ten earlier messages already seen, one new.
    turns = [e.text for e in examples]
    warm = layer.remembering(64)
    turn_calls: list[Callable[[], object]] = []
    for i in range(10, len(turns)):
        context = AssessmentContext(previous=tuple(turns[i - 10 : i]))
        warm.match(context.previous)
        turn_calls.append(partial(engine.assess, turns[i], context, classifier=warm))
    turn = _timed(turn_calls)

    async def through_the_gate(at_once: int) -> tuple[list[float], float]:
        samples: list[float] = []

        async def one(text: str, context: AssessmentContext) -> None:
            started = time.perf_counter()
            await service.assess_off_loop(text, context)
            samples.append(time.perf_counter() - started)

        async with service.classifier_while_running(Settings(embeddings="auto")) as loading:
            await loading
            started = time.perf_counter()
            for i in range(0, len(examples), at_once):
                batch = examples[i : i + at_once]
                # A number makes each text new to the layer: every one is encoded.
                await asyncio.gather(*(one(f"{e.text} ({i})", e.context) for e in batch))
            return samples, len(examples) / (time.perf_counter() - started)

    alone, alone_rate = asyncio.run(through_the_gate(1))
    eight, eight_rate = asyncio.run(through_the_gate(8))
    print(f"gate latency per message ({len(examples)} messages, {os.cpu_count()} cores):")
    print(f"  rules alone                              {_ms(rules)}")
    print(f"  rules + layer, message new to it         {_ms(first)}")
    print(f"  rules + layer, turn after 10 seen ones   {_ms(turn)}")
    print(f"  assess_off_loop, one at a time           {_ms(alone)}   {alone_rate:5.0f} msg/s")
    print(f"  assess_off_loop, eight at once           {_ms(eight)}   {eight_rate:5.0f} msg/s")


async def _recreate(server: URL) -> None:
    conn = await asyncpg.connect(database._dsn(server))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await conn.close()


def memory() -> None:
    server = database.server_url()
    asyncio.run(_recreate(server))
    url = server.set(database=DATABASE).render_as_string(hide_password=False)
    upgrade(url, app_role=database.APP_ROLE)
    for setting, target in (("auto", MEMORY_TARGET_MB), ("off", BASE_TARGET_MB)):
        port = servers.free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("MINDSPACE_")}
        env |= {"DATABASE_URL": url, "MINDSPACE_EMBEDDINGS": setting}
        command = [str(Path(sys.executable).parent / "mindspace"), "api", f"--port={port}"]
        with tempfile.TemporaryDirectory(prefix="mindspace-bench-safety-") as tmp:
            started = time.perf_counter()
            with servers.running(
                command,
                port=port,
                ready_path="/health/ready",
                env=env,
                cwd=Path(tmp),
                log_path=Path(tmp) / "app.log",
            ) as app:
                ready_s = time.perf_counter() - started
                time.sleep(_SETTLE_S)
                rss = app.rss_mb()
        verdict = "met" if rss < target else "MISSED"
        print(
            f"API process, MINDSPACE_EMBEDDINGS={setting}: ready in {ready_s:.1f} s, "
            f"RSS {rss:.0f} MB (target < {target:.0f} MB: {verdict})"
        )


def main() -> int:
    if not embeddings.extra_installed():
        print("needs the `ai` extra", file=sys.stderr)
        return 2
    latency()
    memory()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
