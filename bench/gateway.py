"""Gateway benchmark: a fixed-answer OpenAI-compatible upstream (nginx on loopback) called directly and through the
inference gateway (granian, 2 workers, the real app with key auth, entitlement, Redis limits and metering on).

    make bench                                    # runs this too when DATABASE_URL and REDIS_URL are set
    .venv/bin/python -m bench.gateway --database postgres://postgres@127.0.0.1:5432/modelmarket_bench_gateway

Needs wrk and nginx (`apt-get install -y wrk nginx-light`; skipped with that hint without them), PostgreSQL and
Redis. The database (modelmarket_bench_gateway, whatever the URL names, unless it names a modelmarket_bench_gateway*
one) is created afresh, migrated and dropped at the end (`--keep-database` keeps it). Redis keys get a prefix of
their own (REDIS_KEY_PREFIX, from a settings module written to the temp dir: the settings read no prefix from the
environment), so the run neither counts against nor is wiped by anyone else's keys in that Redis database.

wrk runs 10 s at concurrency 1 (-t1 -c1) and 32 (-t2 -c32), directly and through the gateway, then stops sending
for a second so every request sent is answered; after a graceful stop of granian (its usage meter writes what it
holds) the UsageEvent rows must equal the responses. Not a test: it prints the figures and the targets beside them.
`--profile` runs one worker under cProfile instead and prints where its time goes."""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE = "modelmarket_bench_gateway"
KEY_PREFIX = "mm-bench-gateway"
SETTINGS_MODULE = "bench_gateway_settings"
PROFILED_APP = "bench_gateway_profiled"
HUGE = 10**12
DRAIN_SECONDS = 1.0  # after each run: no new requests, the ones in flight finish
PROBES = 1  # calls made before wrk: the readiness check
APT = "apt-get install -y wrk nginx-light"

# What the upstream answers to every POST /v1/chat/completions: a complete chat.completion with usage.
COMPLETION = {
    "id": "chatcmpl-bench",
    "object": "chat.completion",
    "created": 1_700_000_000,
    "model": "fixed",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello! How can I help you today?"},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21},
}
REQUEST = {"model": "fixed", "messages": [{"role": "user", "content": "Say hello."}]}

# Targets (DESIGN.md, "The gateway tier").
ADDED_P50_MS = 1.0
RPS_C32 = 4000
P99_C32_MS = 30.0
RSS_MB = 100.0

SETTINGS_SOURCE = f'''"""Written by bench/gateway.py: the app's settings (the gateway's own in the gateway workers) with the
benchmark's Redis key prefix."""
import os

if os.environ.get("BENCH_GATEWAY_WORKER"):
    from config.settings.gateway import *  # noqa: F403
else:
    from config.settings.base import *  # noqa: F403
from config.settings.base import CACHES

REDIS_KEY_PREFIX = "{KEY_PREFIX}"
if "KEY_PREFIX" in CACHES["default"]:
    CACHES["default"]["KEY_PREFIX"] = REDIS_KEY_PREFIX
'''

# One granian worker under cProfile, from its first request to its shutdown (start-up imports are left out).
PROFILED_SOURCE = '''"""Written by bench/gateway.py --profile: the gateway app, profiled while it serves."""
import cProfile
import os
import time

from modelmarket.inference.gateway.asgi import application as _application

# Process CPU time, not wall time: other processes on a busy machine do not inflate it. (Not thread_time: on
# Python 3.12 cProfile also sees the worker's other threads, and per-thread clocks then give nonsense.)
_profile = cProfile.Profile(time.process_time)
_serving = False


async def application(scope, receive, send):
    global _serving
    if scope["type"] == "lifespan":
        await _application(scope, receive, send)
        if _serving:
            _profile.disable()
            _profile.dump_stats(os.environ["BENCH_PROFILE_PATH"])
        return
    if not _serving:
        _serving = True
        _profile.enable()
    await _application(scope, receive, send)
'''

# The floor: what any Python proxy of this shape costs here. A bare ASGI app on the same granian command, reading the
# body and posting it to the same nginx through one pooled aiohttp session; no auth, limits, metering or parsing.
FLOOR_APP = "bench_gateway_floor"
FLOOR_SOURCE = '''"""Written by bench/gateway.py: a bare ASGI proxy to the fixed upstream, for the benchmark's floor."""
import os

import aiohttp

UPSTREAM = os.environ["BENCH_FLOOR_UPSTREAM"]
HEADERS = [(b"content-type", b"application/json")]
session = None


async def application(scope, receive, send):
    global session
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                session = aiohttp.ClientSession()
                await send({"type": "lifespan.startup.complete"})
            else:
                await session.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    body, more = b"", True
    while more:
        message = await receive()
        body, more = body + message.get("body", b""), message.get("more_body", False)
    async with session.post(UPSTREAM, data=body, headers={"Content-Type": "application/json"}) as response:
        answer = await response.read()
    await send({"type": "http.response.start", "status": response.status, "headers": HEADERS})
    await send({"type": "http.response.body", "body": answer})
'''

# wrk: POST the chat body for `active` seconds, then stop sending (delay) so that every request sent is answered
# before wrk exits: nothing is cut off in flight, and the responses wrk counts are exactly the calls the gateway
# served. Counts what was sent and prints the summary as one JSON line.
WRK_SCRIPT = """
local ffi = require("ffi")
ffi.cdef[[
typedef struct {{ long tv_sec; long tv_nsec; }} bench_timespec;
int clock_gettime(int clock, bench_timespec *ts);
]]
local clock = ffi.new("bench_timespec")
local function now()
  ffi.C.clock_gettime(1, clock)  -- CLOCK_MONOTONIC, shared by all threads
  return tonumber(clock.tv_sec) + tonumber(clock.tv_nsec) / 1e9
end

wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
{auth}
local threads = {{}}
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("number", counter)
  table.insert(threads, thread)
end
function init(args)
  stop_at = now() + tonumber(args[1])
  prepared = wrk.format()
  -- wrk calls request() once on the first thread before the run, to check it: not a request sent.
  sent = number == 1 and -1 or 0
end
function request() sent = sent + 1; return prepared end
function delay() if now() < stop_at then return 0 end return 3600000 end
function done(summary, latency, requests)
  local written = 0
  for _, thread in ipairs(threads) do written = written + thread:get("sent") end
  io.write(string.format(
    'WRK {{"requests": %d, "duration_us": %d, "non_2xx": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"timeout": %d, "sent": %d, "p50_us": %d, "p99_us": %d}}\\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, written, latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass
class WrkResult:
    requests: int  # completed (2xx or not)
    seconds: float  # under load
    non_2xx: int
    socket_errors: int
    sent: int
    p50_ms: float
    p99_ms: float
    cpu_ms: dict[str, float] = field(default_factory=dict)  # CPU time per response, by process group

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def ok(self) -> int:
        return self.requests - self.non_2xx


# --- Tools and processes ---------------------------------------------------------------------------------------------
def find_tool(name: str) -> str | None:
    return shutil.which(name) or next(
        (str(path) for path in (Path("/usr/sbin") / name, Path("/sbin") / name) if path.exists()), None
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with {process.returncode} before it listened on {port}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"{what} did not listen on {port} within {timeout:.0f} s")


def stop(process: subprocess.Popen[bytes], sig: int, timeout: float = 60) -> int:
    """Signal one process we started and wait for it to exit; kill it only if it does not."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            print(f"  pid {process.pid} still running {timeout:.0f} s after signal {sig}: killing it")
            process.kill()
            process.wait()
    return process.returncode


# The upstream: one nginx worker in the foreground, as the current user (`user` matters only to root), its temp
# paths in the work dir (Debian's defaults are root's), keep-alive for the whole run, one fixed answer.
NGINX_CONF = """
daemon off;
worker_processes 1;
{user}
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location = /v1/chat/completions {{
            limit_except POST {{ deny all; }}
            default_type application/json;
            return 200 '{body}';
        }}
        location / {{ return 404; }}
    }}
}}
"""


def nginx_start(nginx: str, workdir: Path, port: int) -> subprocess.Popen[bytes]:
    body = json.dumps(COMPLETION, separators=(",", ":"))
    if "'" in body or "\\" in body:
        raise SystemExit("the fixed answer must fit in a single-quoted nginx string")
    directory = workdir / "nginx"
    for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (directory / name).mkdir(parents=True, exist_ok=True)
    user = "user root;" if os.geteuid() == 0 else ""
    path = directory / "nginx.conf"
    path.write_text(NGINX_CONF.format(user=user, dir=directory, port=port, body=body))
    process = subprocess.Popen(  # noqa: S603 - our own command line
        [nginx, "-p", str(directory), "-c", str(path), "-e", str(directory / "error.log")]
    )
    wait_for_port(port, process, "nginx")
    return process


def gateway_env(database_url: str, redis_url: str, workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        DJANGO_SETTINGS_MODULE=SETTINGS_MODULE,
        BENCH_GATEWAY_WORKER="1",  # the workers load config.settings.gateway (see SETTINGS_SOURCE)
        PYTHONPATH=os.pathsep.join([str(workdir), str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
        DEBUG="0",
        LOG_LEVEL="WARNING",
        GATEWAY_ALLOWED_UPSTREAM_HOSTS="127.0.0.1",
        # The free tier's limits stay on (the Lua script moves every counter), far above what a run can reach.
        GATEWAY_FREE_REQUESTS_PER_MINUTE=str(HUGE),
        GATEWAY_FREE_REQUESTS_PER_DAY=str(HUGE),
        GATEWAY_FREE_TOKENS_PER_DAY=str(HUGE),
    )
    return env


def granian_start(
    env: dict[str, str], port: int, workers: int, app: str, log: Path, options: list[str]
) -> subprocess.Popen[bytes]:
    command = [
        str(ROOT / ".venv" / "bin" / "granian"),
        "--interface",
        "asgi",
        "--workers",
        str(workers),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        # One Rust thread per worker and HTTP/1.1 only (wrk, like a load balancer in front, speaks HTTP/1.1): at c=1
        # the workers' CPU per call was 0.99-1.20 ms with these against 1.35-1.42 ms without; c=32 the same.
        "--runtime-mode",
        "st",
        "--http",
        "1",
        *options,
        app,
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)  # noqa: S603
    wait_for_port(port, process, f"granian (log: {log})")
    return process


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after its closing parenthesis.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# --- Where the CPU goes ------------------------------------------------------------------------------------------
# On 2 cores wrk, nginx, PostgreSQL, Redis and the workers share the machine: the CPU each group spends per response
# says what a change saved, and it is steadier than requests/s when others use the machine too.
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Group: process name. Every such process on the machine, not only ours.
SHARED_SERVERS = {"postgres": "postgres", "redis": "redis-server"}


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads), 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def pids_named(name: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def machine_busy_seconds() -> float:
    """CPU time the whole machine spent not idle (all cores), from /proc/stat."""
    values = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / CLOCK_TICKS


def cpu_groups(rig: Rig) -> dict[str, list[int]]:
    groups = {name: pids_named(process) for name, process in SHARED_SERVERS.items()}
    if rig.granian is not None:
        groups["gateway"] = children(rig.granian.pid)
    if rig.nginx is not None:
        groups["nginx"] = [rig.nginx.pid, *children(rig.nginx.pid)]
    return groups


def cpu_snapshot(groups: dict[str, list[int]]) -> dict[str, float]:
    snapshot = {name: sum(cpu_seconds(pid) for pid in pids) for name, pids in groups.items()}
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, once it has been waited for
    snapshot["wrk"] = usage.ru_utime + usage.ru_stime
    snapshot["machine"] = machine_busy_seconds()
    return snapshot


# --- Database and setup --------------------------------------------------------------------------------------------
def bench_database_url(url: str) -> str:
    """The URL's server with a database of the benchmark's own: it is dropped and created afresh, so only a name
    starting with modelmarket_bench_gateway is kept (never the dev database, nor bench/search.py's)."""
    parsed = urlparse(url)
    if not parsed.path.lstrip("/").startswith(DEFAULT_DATABASE):
        parsed = parsed._replace(path=f"/{DEFAULT_DATABASE}")
    return urlunparse(parsed)


def _admin(url: str) -> Any:
    import psycopg

    return psycopg.connect(urlunparse(urlparse(url)._replace(path="/postgres")), autocommit=True)


def database_recreate(url: str) -> None:
    name = urlparse(url).path.lstrip("/")
    with _admin(url) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def database_drop(url: str) -> None:
    name = urlparse(url).path.lstrip("/")
    with _admin(url) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def redis_clean(redis_url: str) -> int:
    import redis

    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{KEY_PREFIX}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()
    return len(keys)


def setup_django(env: dict[str, str], workdir: Path) -> None:
    for name in (
        "DATABASE_URL",
        "REDIS_URL",
        "DJANGO_SETTINGS_MODULE",
        "DEBUG",
        "GATEWAY_ALLOWED_UPSTREAM_HOSTS",
    ):
        os.environ[name] = env[name]
    sys.path[:0] = [str(workdir), str(ROOT)]
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def accounts_create() -> tuple[Any, Any]:
    """A verified creator and a buyer. The app makes them through sign-up and creator review; the benchmark makes them
    directly, as the test factories do."""
    from django.contrib.auth.models import Group

    from modelmarket.accounts import roles
    from modelmarket.accounts.models import CreatorProfile, User

    creator = User.objects.create_user(email="creator@bench.invalid", display_name="Bench Creator")
    CreatorProfile.objects.create(
        user=creator,
        display_name="Bench Creator",
        bio="Benchmark upstream.",
        status=CreatorProfile.Status.VERIFIED,
    )
    creator.groups.add(Group.objects.get(name=roles.CREATOR))
    buyer = User.objects.create_user(email="buyer@bench.invalid", display_name="Bench Buyer")
    return creator, buyer


def listing_create(upstream_port: int) -> tuple[str, str]:
    """The creator's published openai_compatible listing on the fixed upstream and the buyer's API key with a huge
    rate limit, through the services as in the app. Returns (slug, raw key)."""
    from modelmarket.accounts.services import api_key_create
    from modelmarket.catalog.services.models import (
        model_create,
        model_publish,
        version_create,
        version_publish,
    )

    creator, buyer = accounts_create()
    base_url = f"http://127.0.0.1:{upstream_port}/v1"
    model = model_create(
        actor=creator,
        name="Fixed chat",
        task="chat",
        license="apache-2.0",
        source="openai_compatible",
        endpoint_url=base_url,
    )
    runtime = {"provider": "openai_compatible", "model_id": "fixed", "base_url": base_url}
    version = version_create(actor=creator, model=model, version="1.0.0", runtime=runtime)
    version_publish(actor=creator, version=version)
    model_publish(actor=creator, model=model)
    _, raw = api_key_create(
        user=buyer, name="bench", scopes=["inference"], requests_per_minute=2_000_000_000, by_operator=True
    )
    return model.slug, raw


def usage_events() -> tuple[int, dict[str, int]]:
    from django.db.models import Count

    from modelmarket.usage.models import UsageEvent

    by_status = dict(UsageEvent.objects.values_list("status").annotate(n=Count("id")).order_by())
    return sum(by_status.values()), {str(key): int(value) for key, value in by_status.items()}


# --- Load ------------------------------------------------------------------------------------------------------------
def post(url: str, body: dict[str, Any], key: str | None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {key}"} if key else {})
    request = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback only
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def wrk_script(workdir: Path, name: str, body: dict[str, Any], key: str | None) -> Path:
    auth = f'wrk.headers["Authorization"] = "Bearer {key}"' if key else ""
    path = workdir / f"{name}.lua"
    path.write_text(WRK_SCRIPT.format(body=json.dumps(json.dumps(body)), auth=auth))
    return path


def wrk(wrk_path: str, url: str, script: Path, connections: int, seconds: float) -> WrkResult:
    """`seconds` of load at `connections` (-t1 for one connection, else -t2), then DRAIN_SECONDS for the requests
    in flight to finish; requests/s is over the loaded seconds."""
    threads = 1 if connections == 1 else 2
    command = [
        wrk_path,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds + DRAIN_SECONDS:g}s",
        "--latency",
        "-s",
        str(script),
        url,
        "--",
        f"{seconds:g}",
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603
    line = next((line for line in output.splitlines() if line.startswith("WRK ")), None)
    if line is None:
        raise SystemExit(f"could not read wrk's output:\n{output}")
    data = json.loads(line[4:])
    return WrkResult(
        requests=data["requests"],
        seconds=seconds,
        non_2xx=data["non_2xx"],
        socket_errors=data["connect"] + data["read"] + data["write"] + data["timeout"],
        sent=data["sent"],
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
    )


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


# --- The run ---------------------------------------------------------------------------------------------------------
@dataclass
class Rig:
    """What one benchmark run starts, and what it must stop and remove afterwards."""

    args: argparse.Namespace
    database_url: str
    redis_url: str
    workdir: Path
    env: dict[str, str]
    nginx: subprocess.Popen[bytes] | None = None
    granian: subprocess.Popen[bytes] | None = None
    direct_url: str = ""
    gateway_url: str = ""
    slug: str = ""
    raw_key: str = ""

    @property
    def workers(self) -> int:
        return 1 if self.args.profile else int(self.args.workers)


def run(args: argparse.Namespace, wrk_path: str, nginx_path: str) -> None:
    redis_url = args.redis or os.environ.get("REDIS_URL", "")
    if not redis_url:
        print(
            "gateway benchmark skipped: set REDIS_URL=redis://... (limits and the cache generation live in Redis)"
        )
        return
    database_url = bench_database_url(args.database)
    workdir = Path(tempfile.mkdtemp(prefix="mm-bench-gateway-"))
    (workdir / f"{SETTINGS_MODULE}.py").write_text(SETTINGS_SOURCE)
    (workdir / f"{PROFILED_APP}.py").write_text(PROFILED_SOURCE)
    (workdir / f"{FLOOR_APP}.py").write_text(FLOOR_SOURCE)
    rig = Rig(args, database_url, redis_url, workdir, gateway_env(database_url, redis_url, workdir))
    try:
        rig_start(rig, nginx_path)
        results, gateway_runs = measure(rig, wrk_path)
        load_end = load_average()
        assert rig.granian is not None
        memory = {pid: rss_mb(pid) for pid in children(rig.granian.pid)}
        main_rss = rss_mb(rig.granian.pid)
        print("\nshutting granian down (SIGINT) so the usage meter writes what it holds...", flush=True)
        granian_exit = stop(rig.granian, signal.SIGINT)
        events, by_status = usage_events()
        if not args.no_floor:
            results |= measure_floor(rig, wrk_path)
        report(results, memory, main_rss)
        events_report(gateway_runs, PROBES, events, by_status, granian_exit)
        print(f"load average at the end of the runs: {load_end}")
        if args.profile:
            profile_print(workdir / "gateway.prof", args.profile_lines)
    finally:
        rig_stop(rig)


def rig_start(rig: Rig, nginx_path: str) -> None:
    """A fresh database and Redis prefix, nginx, the listing and key, then granian; one probe call (metered)."""
    redis_clean(rig.redis_url)
    database_recreate(rig.database_url)
    setup_django(rig.env, rig.workdir)
    upstream_port, gateway_port = free_port(), free_port()
    rig.nginx = nginx_start(nginx_path, rig.workdir, upstream_port)
    rig.slug, rig.raw_key = listing_create(upstream_port)
    app = "modelmarket.inference.gateway.asgi:application"
    if rig.args.profile:
        app = f"{PROFILED_APP}:application"
        rig.env["BENCH_PROFILE_PATH"] = str(rig.workdir / "gateway.prof")
    rig.granian = granian_start(
        rig.env, gateway_port, rig.workers, app, rig.workdir / "granian.log", rig.args.granian_option
    )
    rig.direct_url = f"http://127.0.0.1:{upstream_port}/v1/chat/completions"
    rig.gateway_url = f"http://127.0.0.1:{gateway_port}/v1/chat/completions"
    status, answer = post(rig.gateway_url, {**REQUEST, "model": rig.slug}, rig.raw_key)
    if status != 200:
        raise SystemExit(f"the gateway answered {status}: {answer} (log: {rig.workdir / 'granian.log'})")


def measure(rig: Rig, wrk_path: str) -> tuple[dict[tuple[str, int], WrkResult], list[WrkResult]]:
    """Direct and gateway runs at c=1 and c=32, after a warm-up of the gateway; also every gateway run."""
    seconds = rig.args.seconds
    direct = wrk_script(rig.workdir, "direct", REQUEST, None)
    gateway = wrk_script(rig.workdir, "gateway", {**REQUEST, "model": rig.slug}, rig.raw_key)
    print(
        f"\ngateway benchmark: {os.cpu_count()} cores, load average {load_average()} at start; "
        f"granian {rig.workers} worker(s), wrk {seconds} s per run",
        flush=True,
    )
    # Warm both workers' caches and connection pools (metered like every other call).
    gateway_runs = [wrk(wrk_path, rig.gateway_url, gateway, 32, 2)]
    groups = cpu_groups(rig)
    results: dict[tuple[str, int], WrkResult] = {}
    for connections in (1, 32):
        for kind, url, script in (("direct", rig.direct_url, direct), ("gateway", rig.gateway_url, gateway)):
            results[kind, connections] = wrk_measured(wrk_path, url, script, connections, seconds, groups)
        gateway_runs.append(results["gateway", connections])
    return results, gateway_runs


def wrk_measured(
    wrk_path: str, url: str, script: Path, connections: int, seconds: float, groups: dict[str, list[int]]
) -> WrkResult:
    """A wrk run with the CPU each process group spent per response."""
    before = cpu_snapshot(groups)
    result = wrk(wrk_path, url, script, connections, seconds)
    after = cpu_snapshot(groups)
    result.cpu_ms = {name: (after[name] - before[name]) * 1000 / max(1, result.requests) for name in after}
    return result


def measure_floor(rig: Rig, wrk_path: str) -> dict[tuple[str, int], WrkResult]:
    """The bare proxy (FLOOR_SOURCE) on the same granian command and upstream, at c=1 and c=32; its workers are
    the "gateway" group of its CPU figures."""
    port = free_port()
    env = rig.env | {"BENCH_FLOOR_UPSTREAM": rig.direct_url}
    floor = granian_start(
        env, port, rig.workers, f"{FLOOR_APP}:application", rig.workdir / "floor.log", rig.args.granian_option
    )
    try:
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        script = wrk_script(rig.workdir, "floor", REQUEST, None)
        wrk(wrk_path, url, script, 32, 2)  # warm the connection pools
        groups = cpu_groups(rig) | {"gateway": children(floor.pid)}
        return {
            ("floor", n): wrk_measured(wrk_path, url, script, n, rig.args.seconds, groups) for n in (1, 32)
        }
    finally:
        stop(floor, signal.SIGINT)


def rig_stop(rig: Rig) -> None:
    if rig.granian is not None:
        stop(rig.granian, signal.SIGINT)
    if rig.nginx is not None:
        stop(rig.nginx, signal.SIGQUIT)
    _close_database()
    if not rig.args.keep_database:
        database_drop(rig.database_url)
    removed = redis_clean(rig.redis_url)
    if rig.args.keep_database or rig.args.verbose:
        print(
            f"removed {removed} Redis keys under {KEY_PREFIX}:; kept {rig.workdir} (nginx and granian logs)"
        )
    else:
        shutil.rmtree(rig.workdir, ignore_errors=True)


def report(results: dict[tuple[str, int], WrkResult], memory: dict[int, float], main_rss: float) -> None:
    print(f"\n{'':<18}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}{'errors':>8}")
    for (kind, connections), result in results.items():
        print(
            f"{kind + ' c=' + str(connections):<18}{result.rps:>10,.0f}{result.p50_ms:>9.2f}"
            f"{result.p99_ms:>9.2f}{result.non_2xx:>9}{result.socket_errors:>8}"
        )
    names = ("gateway", "nginx", "redis", "postgres", "wrk", "machine")
    print(f"\nCPU ms per response{'':<6}" + "".join(f"{name:>10}" for name in names))
    for (kind, connections), result in results.items():
        print(
            f"{kind + ' c=' + str(connections):<25}"
            + "".join(f"{result.cpu_ms.get(name, 0.0):>10.3f}" for name in names)
        )
    print("(postgres and redis: every such process on the machine; machine: all cores, whatever ran)")
    if ("floor", 32) in results:
        print(
            "floor: a bare ASGI app on the same granian command posting the body to nginx with one aiohttp session "
            "(no auth, limits, metering); its workers are the gateway column"
        )
    added = results["gateway", 1].p50_ms - results["direct", 1].p50_ms
    c32 = results["gateway", 32]
    print(
        f"\nadded p50 at c=1: {added:.2f} ms (target <= {ADDED_P50_MS:g} ms: {verdict(added <= ADDED_P50_MS)})"
    )
    print(
        f"gateway at c=32: {c32.rps:,.0f} req/s (target >= {RPS_C32:,}: {verdict(c32.rps >= RPS_C32)}), "
        f"p99 {c32.p99_ms:.1f} ms (target <= {P99_C32_MS:g} ms: {verdict(c32.p99_ms <= P99_C32_MS)})"
    )
    listed = ", ".join(f"{value:.1f} MB" for value in memory.values()) or "no workers found"
    worst = max(memory.values(), default=0.0)
    print(
        f"memory per worker (VmRSS after the runs): {listed} (target <= {RSS_MB:g} MB: "
        f"{verdict(0 < worst <= RSS_MB)}); granian's main process {main_rss:.0f} MB"
    )


def events_report(
    runs: list[WrkResult], probes: int, events: int, by_status: dict[str, int], granian_exit: int
) -> None:
    ok = probes + sum(run.ok for run in runs)
    failed = sum(run.non_2xx for run in runs)
    unanswered = sum(run.sent - run.requests for run in runs)
    statuses = ", ".join(f"{key} {value:,}" for key, value in sorted(by_status.items()))
    print(
        f"events: {ok:,} 2xx responses ({len(runs)} gateway wrk runs incl. the warm-up, + {probes} probe; "
        f"{failed} non-2xx, {unanswered} sent but unanswered when wrk stopped)"
    )
    print(
        f"        {events:,} UsageEvent rows after a graceful stop (granian exit {granian_exit}; {statuses})"
    )
    print(f"        events == requests (target): {verdict(events == ok + failed and unanswered == 0)}")


def _close_database() -> None:
    from django.db import connections

    try:
        connections.close_all()
    except Exception as exc:  # the database is dropped WITH (FORCE) right after
        print(f"  closing the benchmark's database connections: {exc}")


def profile_print(path: Path, lines: int) -> None:
    import pstats

    if not path.exists():
        print(f"no profile written ({path})")
        return
    stats = pstats.Stats(str(path))
    stats.strip_dirs()
    print("\nprofile of the one worker, by own time:")
    stats.sort_stats("tottime").print_stats(lines)
    print("by cumulative time:")
    stats.sort_stats("cumulative").print_stats(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database",
        default=os.environ.get("DATABASE_URL", ""),
        help=f"a postgres:// URL; the database is {DEFAULT_DATABASE} unless it names a modelmarket_bench* one",
    )
    parser.add_argument("--redis", default="", help="a redis:// URL (default: REDIS_URL)")
    parser.add_argument("--seconds", type=int, default=10, help="length of each wrk run")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--granian-option",
        action="append",
        default=[],
        metavar="ARG",
        help="one more argument for granian's command line, e.g. --granian-option=--runtime-mode=st (repeatable)",
    )
    parser.add_argument("--keep-database", action="store_true", help="keep the database and the temp dir")
    parser.add_argument(
        "--profile", action="store_true", help="one worker under cProfile; prints the hottest functions"
    )
    parser.add_argument("--profile-lines", type=int, default=40)
    parser.add_argument(
        "--no-floor", action="store_true", help="skip the bare aiohttp proxy measured after the gateway"
    )
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    wrk_path, nginx_path = find_tool("wrk"), find_tool("nginx")
    if not wrk_path or not nginx_path:
        missing = " and ".join(name for name, path in (("wrk", wrk_path), ("nginx", nginx_path)) if not path)
        print(f"gateway benchmark skipped: {missing} not installed. Install them with: {APT}")
        return
    if not args.database.startswith(("postgres://", "postgresql://")):
        print("gateway benchmark skipped: give --database postgres://... (or set DATABASE_URL to PostgreSQL)")
        return
    run(args, wrk_path, nginx_path)


if __name__ == "__main__":
    main()
