"""`python -m bench`: the performance budget from DESIGN.md, measured against bare-ASGI ceilings
in the same run, on the same machine, with the same wrk settings.

Exit status: 0 when every request of every run succeeded (a missed target is reported, not
fatal: DESIGN.md asks for misses to be shown, not hidden), 1 when any request failed, 2 when
the bench itself could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
from redis import Redis
from redis.exceptions import RedisError

from bench import database, realtime, report, servers, wrk
from bench.database import Seeded
from bench.measure import Load, Measurement, Plan, Runner
from bench.report import Outcome, RealtimeRun, Row, Target
from bench.wrk import BenchError, WrkOptions
from mindspace.identity import passwords

_SETTLE_S = 2.0  # after start-up, before the idle RSS reading
# Refresh can only be slower than C_db (it reads and writes several rows), so C_db's rate with
# this headroom bounds the tokens one run can consume.
_TOKEN_HEADROOM = 1.5
# Settings that would point the app elsewhere than the bench database and in-process limits.
_APP_ENV_DROPPED = (
    "REDIS_URL",
    "MINDSPACE_REDIS_URL",
    "DATABASE_APP_URL",
    "MINDSPACE_DATABASE_APP_URL",
    "MINDSPACE_DATABASE_URL",
)
NOTES = (
    "Client load: wrk on the same machine as the server; both share every core.",
    "Non-2xx: wrk counts responses with status >= 400; none are tolerated.",
    "Login and refresh send a distinct X-Forwarded-For per request (the app's uvicorn trusts "
    "127.0.0.1 as a proxy), so per-address limits (login 20/min, refresh 60/min) see distinct "
    "clients and every request does the full work; no 429 is excluded.",
    "Refresh: sessions and refresh tokens are seeded directly; every token is used once.",
    "GET /api/v1/users/me: one account's access token on every request (cached after the "
    "first verification, as in the app); the RLS-scoped read runs every time.",
    "GET /api/v1/mood/insights: the same account, two years of daily check-ins (seeded "
    "directly), the whole two years asked for on every request.",
    "Journal create: one account writes a new entry per request (sanitize, seal title, body "
    "and tags with its data key, blind-index the words, insert); the table grows as it runs.",
    "Journal create, with the model: the same load on a second app process with the "
    "embedding model loaded, where the safety gate also embeds each entry (one MiniLM "
    "encoding per sentence, in a thread); every entry's words differ, so no recent score "
    "answers for them.",
    "Journal GET: one entry of that account, read on the driver path with its wrapped data "
    "key joined in, unwrapped and opened on every request (no key cache).",
    "Login ceiling: cores x 1000 / argon2 hash ms, timed in the runner with the app's "
    "hasher (mindspace.identity.passwords.hash_password) before any server starts; the "
    "hashes/s with one hash per core at once is measured there too and printed beside it.",
    "Socket.IO fan-out: its own app process with Redis; raw Engine.IO websocket clients in "
    "a few processes on the same cores; events emitted from the runner through Redis as a "
    "job would, to the admin room every socket is in; latency from emit to each socket's read.",
)
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


@dataclass(frozen=True)
class AppRun:
    measurements: dict[str, Measurement]  # by scenario name, in SCENARIOS order
    idle_rss_mb: float
    loaded_rss_mb: float
    failed_responses: dict[str, int]  # from the app's own access log: what wrk only counts
    model_idle_rss_mb: float | None = None  # the app with the embedding model loaded, if run


SCENARIOS = ("ready", "me", "refresh", "login", "insights", "journal_create", "journal_get")
# Measured on a second app process with the embedding model loaded (MINDSPACE_EMBEDDINGS=auto,
# as in production with the `ai` extra): every entry's words then pass the safety gate's
# classifier too. Kept apart so the first app's memory stays the budget's "without".
WITH_MODEL = ("journal_create_model",)
# Not a wrk scenario: its own app process with Redis and websocket clients (bench.realtime).
REALTIME = "realtime"
ALL = (*SCENARIOS, *WITH_MODEL, REALTIME)


def _scenarios(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    known = ALL
    unknown = sorted(set(names) - set(known))
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown scenario(s) {unknown}; choose from {known}")
    return tuple(n for n in known if n in names)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    plan = Plan(
        args.warmup,
        args.duration,
        args.runs,
        WrkOptions(args.connections, args.threads, args.timeout),
    )
    try:
        if args.only == (REALTIME,):
            return _bench_realtime_only(args)
        return _bench(plan, redis_url=args.redis_url, args=args)
    except BenchError as exc:
        print(f"bench could not run: {exc}", file=sys.stderr)
        return 2


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--duration", type=int, default=8, help="seconds per timed run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up")
    parser.add_argument("--runs", type=int, default=3, help="timed runs; the median is kept")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--timeout", type=int, default=5, help="wrk request timeout, seconds")
    parser.add_argument(
        "--redis-url",
        default=None,
        help="give the app Redis (limits, revocations); default: in-process",
    )
    parser.add_argument(
        "--only",
        type=_scenarios,
        default=ALL,
        metavar="NAMES",
        help=f"comma-separated scenarios to run, of {','.join(ALL)} "
        "(default: all); the ceilings are always measured, except for realtime alone",
    )
    parser.add_argument("--sockets", type=int, default=1000, help="Socket.IO fan-out sockets")
    parser.add_argument("--events", type=int, default=20, help="Socket.IO events fanned out")
    parser.add_argument(
        "--client-processes", type=int, default=4, help="processes the sockets are spread over"
    )
    return parser.parse_args(argv)


def _bench(plan: Plan, *, redis_url: str | None, args: argparse.Namespace) -> int:
    started = datetime.now(UTC)
    wrk.ensure_installed()
    print(f"database {database.BENCH_DATABASE}: recreating, migrating, seeding", flush=True)
    seeded = database.prepare(database.server_url())
    hash_ms = measure_hash_ms()
    cores = os.cpu_count() or 1
    parallel_hash_rps = measure_parallel_hash_rps(cores)
    print(
        f"argon2 hash: {hash_ms:.1f} ms, {cores} cores; {cores} threads hashing at once: "
        f"{parallel_hash_rps:.0f} hashes/s",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="mindspace-bench-") as tmp:
        runner = Runner(plan, Path(tmp))
        c0 = _ceiling(runner, "C0 (bare ASGI)", "bench.ceilings:hello", seeded)
        c_db = _ceiling(
            runner, "C_db (ASGI + asyncpg PK)", "bench.ceilings:primary_key_read", seeded
        )
        app = _app(runner, seeded, c_db_rps=c_db.rps, redis_url=redis_url, only=args.only)
        if set(WITH_MODEL) & set(args.only):
            with_model = _app(
                runner, seeded, c_db_rps=c_db.rps, redis_url=redis_url, only=args.only, model=True
            )
            app = replace(
                app,
                measurements={**app.measurements, **with_model.measurements},
                model_idle_rss_mb=with_model.idle_rss_mb,
            )
        fanout = _realtime_if_redis(runner.work, seeded, args) if REALTIME in args.only else None
    outcome = _outcome(
        plan,
        c0,
        c_db,
        app,
        hash_ms=hash_ms,
        cores=cores,
        parallel_hash_rps=parallel_hash_rps,
        realtime=fanout,
    )
    return _publish(outcome, started)


def measure_parallel_hash_rps(concurrent: int, seconds: float = 3.0) -> float:
    """Hashes a second with `concurrent` hashes at once through the app's hasher and nothing
    else running: what the formula's `cores x 1000 / hash ms` assumes, measured. argon2's
    19 MiB per hash share caches and memory bandwidth, so cores need not add up; the target
    stays the formula, this says how much of a miss the machine itself explains."""

    async def hashing(deadline: float) -> int:
        done = 0
        while time.perf_counter() < deadline:
            await passwords.hash_password("bench timing password")
            done += 1
        return done

    async def rate() -> float:
        await asyncio.gather(*(hashing(time.perf_counter() + 0.3) for _ in range(concurrent)))
        start = time.perf_counter()
        counts = await asyncio.gather(*(hashing(start + seconds) for _ in range(concurrent)))
        return sum(counts) / (time.perf_counter() - start)

    return asyncio.run(rate())


def _bench_realtime_only(args: argparse.Namespace) -> int:
    started = datetime.now(UTC)
    print(f"database {database.BENCH_DATABASE}: recreating, migrating, seeding", flush=True)
    seeded = database.prepare(database.server_url())
    with tempfile.TemporaryDirectory(prefix="mindspace-bench-") as tmp:
        run = _realtime(Path(tmp), seeded, _reachable_redis(args.redis_url), args)
    print()
    print(report.realtime_line(run))
    path = report.save(
        {
            "started_at": started.isoformat(),
            "environment": report.environment(),
            "realtime": report.realtime_json(run),
            "notes": [NOTES[-1]],
        },
        started,
    )
    print(f"saved {path.relative_to(servers.ROOT)}")
    return 0 if run.fanout.missing == 0 else 1


def _reachable_redis(explicit: str | None) -> str:
    url = explicit or os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    client = Redis.from_url(url)
    try:
        client.ping()
    except RedisError as exc:
        raise BenchError(f"the Socket.IO fan-out needs Redis at {url}: {exc}") from None
    finally:
        client.close()
    return url


def _realtime_if_redis(work: Path, seeded: Seeded, args: argparse.Namespace) -> RealtimeRun | None:
    try:
        url = _reachable_redis(args.redis_url)
    except BenchError as exc:
        print(f"Socket.IO fan-out skipped: {exc}", flush=True)
        return None
    return _realtime(work, seeded, url, args)


def _realtime(work: Path, seeded: Seeded, redis_url: str, args: argparse.Namespace) -> RealtimeRun:
    port = servers.free_port()
    base_url = f"http://127.0.0.1:{port}"
    channel = f"mindspace-bench-{uuid.uuid4().hex}"
    cwd = work / "realtime"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in _APP_ENV_DROPPED}
    env.update(
        {
            "DATABASE_URL": seeded.url,
            "REDIS_URL": redis_url,
            "MINDSPACE_REALTIME_CHANNEL": channel,
            "MINDSPACE_PUBLIC_BASE_URL": base_url,
            "MINDSPACE_EMBEDDINGS": "off",  # the base budget; bench.safety_gate has the model's
        }
    )
    command = [str(Path(sys.executable).parent / "mindspace"), "api", f"--port={port}"]
    print(f"realtime app: {' '.join(command)} (Redis channel {channel})", flush=True)
    try:
        with servers.running(
            command,
            port=port,
            ready_path="/health/ready",
            env=env,
            cwd=cwd,
            log_path=work / "realtime-app.log",
        ) as server:
            time.sleep(_SETTLE_S)
            idle = server.rss_mb()
            fanout = realtime.measure(
                base_url,
                key_path=cwd / ".mindspace" / "keys" / "jwt-es256.pem",
                issuer=base_url,
                redis_url=redis_url,
                channel=channel,
                sockets=args.sockets,
                events=args.events,
                processes=args.client_processes,
                app=server,
            )
    finally:
        _forget_channel(redis_url, channel)
    print(
        f"  Socket.IO fan-out to {fanout.sockets} sockets: p50 {fanout.p50_ms:.1f} ms, "
        f"p99 {fanout.p99_ms:.1f} ms, missing {fanout.missing}, "
        f"app CPU {fanout.app_cpu_ms_per_event:.1f} ms per event",
        flush=True,
    )
    return RealtimeRun(fanout, idle_rss_mb=idle, connected_rss_mb=fanout.connected_rss_mb)


def _forget_channel(redis_url: str, channel: str) -> None:
    """The counters the sockets' connections created: Redis is shared, so ours only."""
    client = Redis.from_url(redis_url)
    try:
        for key in client.scan_iter(match=f"{channel}:*", count=1000):
            client.delete(key)
    finally:
        client.close()


def measure_hash_ms(samples: int = 15) -> float:
    async def timings() -> list[float]:
        out = []
        for _ in range(samples):
            start = time.perf_counter()
            await passwords.hash_password("bench timing password")
            out.append((time.perf_counter() - start) * 1000)
        return out

    return statistics.median(asyncio.run(timings()))


def _ceiling(runner: Runner, name: str, app: str, seeded: Seeded) -> Measurement:
    port = servers.free_port()
    env = {**os.environ, "BENCH_DSN": seeded.dsn, "BENCH_USER_ID": str(seeded.login_user_id)}
    lifespan = "on" if app.endswith("primary_key_read") else "off"
    command = servers.uvicorn_command(sys.executable, app, port, lifespan=lifespan)
    print(f"{name}: {app} on port {port}", flush=True)
    with servers.running(
        command,
        port=port,
        ready_path="/",
        env=env,
        cwd=servers.ROOT,
        log_path=runner.work / f"ceiling-{port}.log",
    ) as server:
        return runner.measure(Load(name, "/"), server.base_url)


def _app(
    runner: Runner,
    seeded: Seeded,
    *,
    c_db_rps: float,
    redis_url: str | None,
    only: tuple[str, ...],
    model: bool = False,
) -> AppRun:
    """The app measured on `only`'s scenarios of its kind: without the embedding model (the
    idle budget's 250 MB), or with it (`model`: WITH_MODEL's, against the 1 GB budget)."""
    port = servers.free_port()
    env = {k: v for k, v in os.environ.items() if k not in _APP_ENV_DROPPED}
    env["DATABASE_URL"] = seeded.url
    env["MINDSPACE_EMBEDDINGS"] = "auto" if model else "off"
    if redis_url:
        env["REDIS_URL"] = redis_url
    command = [str(Path(sys.executable).parent / "mindspace"), "api", f"--port={port}"]
    print(f"app: {' '.join(command)} (DATABASE_URL -> {database.BENCH_DATABASE})", flush=True)
    # Its own working directory: no stray .env is read and development keys stay in the tmp dir.
    with servers.running(
        command,
        port=port,
        ready_path="/health/ready",
        env=env,
        cwd=runner.work,
        log_path=runner.work / "app.log",
    ) as server:
        time.sleep(_SETTLE_S)
        idle = server.rss_mb()
        token = _access_token(server.base_url)
        loads = _app_loads(runner, seeded, token, c_db_rps, _journal_entry(server.base_url, token))
        measured = {
            name: runner.measure(loads[name], server.base_url)
            for name in (WITH_MODEL if model else SCENARIOS)
            if name in only
        }
        loaded = server.rss_mb()
    return AppRun(measured, idle, loaded, servers.failed_responses(runner.work / "app.log"))


def _access_token(base_url: str) -> str:
    body = {"email": database.LOGIN_EMAIL.format(n=0), "password": database.LOGIN_PASSWORD}
    response = httpx.post(f"{base_url}/api/v1/auth/login", json=body, timeout=10.0)
    if response.status_code != 200:
        raise BenchError(f"login answered {response.status_code}: {response.text[:500]}")
    token: str = response.json()["access_token"]
    return token


def _journal_entry(base_url: str, token: str) -> str:
    """One entry of the bench account, for the owned-GET scenario."""
    response = httpx.post(
        f"{base_url}/api/v1/journal/entries",
        json={"title": "Bench", "body": "<p>A quiet day, written for the bench.</p>"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10.0,
    )
    if response.status_code != 201:
        raise BenchError(f"journal create answered {response.status_code}: {response.text[:500]}")
    entry_id: str = response.json()["id"]
    return entry_id


def _app_loads(
    runner: Runner, seeded: Seeded, token: str, c_db_rps: float, entry_id: str
) -> dict[str, Load]:
    def refresh_args(invocation: int, seconds: int) -> list[str]:
        prefix = runner.work / f"refresh-{invocation}"
        count = int(c_db_rps * _TOKEN_HEADROOM * seconds) + 1000
        database.seed_refresh_tokens(seeded, count, prefix=prefix, threads=runner.plan.wrk.threads)
        return [str(invocation), str(prefix)]

    login_body = json.dumps({"email": database.LOGIN_EMAIL, "password": database.LOGIN_PASSWORD})
    login_args = [str(database.LOGIN_ACCOUNTS), login_body]
    today = datetime.now(UTC).date()
    insights = f"/api/v1/mood/insights?start={database.mood_history_start(today)}&end={today}"
    return {
        "ready": Load("GET /health/ready", "/health/ready"),
        "me": Load(
            "GET /api/v1/users/me", "/api/v1/users/me", headers=(f"Authorization: Bearer {token}",)
        ),
        "refresh": Load(
            "POST /api/v1/auth/refresh",
            "/api/v1/auth/refresh",
            lua="refresh.lua",
            args=refresh_args,
        ),
        "login": Load(
            "POST /api/v1/auth/login",
            "/api/v1/auth/login",
            lua="login.lua",
            args=lambda invocation, _seconds: [str(invocation), *login_args],
        ),
        "insights": Load(
            "GET mood insights, 2 years",
            insights,
            headers=(f"Authorization: Bearer {token}",),
        ),
        "journal_create": Load(
            "journal create (with encryption)",
            "/api/v1/journal/entries",
            lua="journal_create.lua",
            args=lambda invocation, _seconds: [str(invocation), token],
        ),
        "journal_create_model": Load(
            "journal create, with the model",
            "/api/v1/journal/entries",
            lua="journal_create_varied.lua",
            args=lambda invocation, _seconds: [str(invocation), token],
        ),
        "journal_get": Load(
            "GET one owned journal entry (RLS on)",
            f"/api/v1/journal/entries/{entry_id}",
            headers=(f"Authorization: Bearer {token}",),
        ),
    }


def _outcome(
    plan: Plan,
    c0: Measurement,
    c_db: Measurement,
    app: AppRun,
    *,
    hash_ms: float,
    cores: int,
    parallel_hash_rps: float,
    realtime: RealtimeRun | None,
) -> Outcome:
    ceilings = {
        "ready": ("C_db", c_db.rps, Target(">=0.50 C_db", min_ratio=0.50)),
        "me": (
            "C_db",
            c_db.rps,
            Target(">=0.50 C_db, p99<=50ms", min_ratio=0.50, max_p99_ms=50.0),
        ),
        "refresh": ("C_db", c_db.rps, None),
        "login": (
            "argon2",
            cores * 1000 / hash_ms,
            Target(">=0.90 cores*1000/hash", min_ratio=0.90),
        ),
        "insights": ("C_db", c_db.rps, None),
        "journal_create": ("C0", c0.rps, Target(">=0.06 C0", min_ratio=0.06)),
        "journal_create_model": ("C0", c0.rps, Target(">=0.06 C0", min_ratio=0.06)),
        "journal_get": ("C_db", c_db.rps, Target(">=0.50 C_db", min_ratio=0.50)),
    }
    rows = [Row(c0), Row(c_db, "C0", c0.rps)]
    rows += [Row(m, *ceilings[name]) for name, m in app.measurements.items()]
    return Outcome(
        tuple(rows),
        plan,
        hash_ms,
        cores,
        app.idle_rss_mb,
        app.loaded_rss_mb,
        app.failed_responses,
        NOTES,
        parallel_hash_rps,
        realtime,
        model_idle_rss_mb=app.model_idle_rss_mb,
    )


def _publish(outcome: Outcome, started: datetime) -> int:
    env = report.environment()
    print()
    print(report.table(outcome))
    print(report.memory_line(outcome))
    if outcome.realtime is not None:
        print(report.realtime_line(outcome.realtime))
    print(
        f"argon2 hash {outcome.hash_ms:.1f} ms x {outcome.cores} cores -> login ceiling "
        f"{outcome.cores * 1000 / outcome.hash_ms:,.0f} req/s; measured with {outcome.cores} "
        f"threads hashing at once: {outcome.parallel_hash_rps:,.0f} hashes/s"
    )
    print(
        f"machine: {env['cpu_model']}, {env['cores']} cores; git {env['git']['sha']}"
        f"{' (dirty)' if env['git']['dirty'] else ''}; {env['wrk']}"
    )
    print("packages: " + ", ".join(f"{k} {v}" for k, v in env["packages"].items()))
    for note in outcome.notes:
        print(f"note: {note}")
    path = report.save(report.to_json(outcome, env, started), started)
    print(f"saved {path.relative_to(servers.ROOT)}")
    for failure in outcome.failures:
        print(f"FAILED {failure}", file=sys.stderr)
    for response, count in outcome.failed_responses.items():
        print(f"app access log: {count} x {response}", file=sys.stderr)
    return 1 if outcome.failures else 0
