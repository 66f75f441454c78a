"""Shared helpers of the throughput benchmarks (bench/pipeline.py, bench/cache.py); not a test.

Starts and stops the real gateway (``uvicorn --factory service.api.app:app_from_env``) and real
judge workers (``python -m workers --judge NAME``) as subprocesses, recreates the bench database,
reports the machine, and measures each process's peak RSS: ``VmHWM`` sampled from /proc while it
runs, and the kernel's ``ru_maxrss`` from ``os.wait4`` when it is reaped (so a burst worker's
peak is exact even though it exits on its own).
"""

from __future__ import annotations

import os
import platform
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

import httpx
import psycopg
import redis
import yaml
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from service.db.engine import dispose_all  # noqa: E402
from service.db.migrate import upgrade  # noqa: E402

ADMIN_URL = os.environ.get("JUDGESERVE_BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("JUDGESERVE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/10")
DATABASE = os.environ.get("JUDGESERVE_BENCH_PIPE_DB", "judgeserve_bench_pipe")
TERMINAL = ("completed", "failed", "cancelled")


# ---------------------------------------------------------------- database, Redis, machine


def database_url(name: str = DATABASE) -> str:
    """SQLAlchemy URL of a database on the admin URL's server."""
    return make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def _psycopg_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def recreate_database(name: str = DATABASE) -> str:
    """Drop and create the bench database, migrate it to head; returns its URL."""
    with psycopg.connect(_psycopg_url(ADMIN_URL), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = database_url(name)
    upgrade(url)
    dispose_all()  # no pooled connection of ours stays open on the bench database
    return url


def drop_database(name: str = DATABASE) -> None:
    """Remove the bench database."""
    dispose_all()
    with psycopg.connect(_psycopg_url(ADMIN_URL), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def query(url: str, sql: str, params: Any = None) -> list[tuple]:
    """Rows of one read-only statement on the bench database (plain psycopg, no pool)."""
    with psycopg.connect(_psycopg_url(url)) as conn:
        return conn.execute(sql, params).fetchall()


def flush_redis(url: str = REDIS_URL) -> None:
    """Empty the bench's own Redis database (never another one)."""
    redis.Redis.from_url(url).flushdb()


def machine_info() -> list[str]:
    """CPU, load, Python, PostgreSQL and Redis lines for the report header."""
    cpu_model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), platform.processor() or "unknown")
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    with psycopg.connect(_psycopg_url(ADMIN_URL)) as conn:
        pg_version = conn.execute("SHOW server_version").fetchone()[0]
    redis_version = redis.Redis.from_url(REDIS_URL).info("server")["redis_version"]
    admin = make_url(ADMIN_URL)
    return [
        f"CPUs: {os.cpu_count()} ({usable} usable), {cpu_model}; load average {load}",
        f"RAM: {_meminfo_gb('MemTotal'):.1f} GB total, {_meminfo_gb('MemAvailable'):.1f} GB available",
        f"Python {platform.python_version()} on {platform.platform()}",
        f"PostgreSQL {pg_version} at {admin.host}:{admin.port} (database {DATABASE}); "
        f"Redis {redis_version} at {REDIS_URL}",
    ]


def _meminfo_gb(key: str) -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024 / 1024
    return float("nan")


# ---------------------------------------------------------------- configuration


def write_judges_file(directory: Path, judges: list[dict[str, Any]]) -> Path:
    """A JUDGESERVE_JUDGES_FILE with these judges."""
    path = Path(directory) / "judges.yaml"
    path.write_text(yaml.safe_dump(judges, sort_keys=False), encoding="utf-8")
    return path


def service_env(db_url: str, judges_file: Path | None = None, **settings: Any) -> dict[str, str]:
    """This process's environment without JUDGESERVE_* variables, plus the bench's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUDGESERVE_")}
    env.update(JUDGESERVE_DATABASE_URL=db_url, JUDGESERVE_REDIS_URL=REDIS_URL)
    if judges_file is not None:
        env["JUDGESERVE_JUDGES_FILE"] = str(judges_file)
    env.update({f"JUDGESERVE_{k.upper()}": str(v) for k, v in settings.items()})
    return env


def env_summary(env: dict[str, str]) -> str:
    """The JUDGESERVE_* settings a child runs with, for the report."""
    return ", ".join(f"{k}={v}" for k, v in sorted(env.items()) if k.startswith("JUDGESERVE_"))


# ---------------------------------------------------------------- processes and peak RSS


def vm_kb(pid: int, key: str) -> int | None:
    """A /proc/<pid>/status memory field (VmRSS, VmHWM) in KiB, or None when the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def group_members(pgid: int) -> list[tuple[int, str]]:
    """(pid, name) of live, non-zombie processes in process group ``pgid``, from /proc."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name, rest = text[text.index("(") + 1:text.rindex(")")], text[text.rindex(")") + 2:].split()
        if int(rest[2]) == pgid and rest[0] != "Z":
            members.append((int(stat.parent.name), name))
    return members


@dataclass
class Child:
    """A subprocess we started: its log, start time, exit code and peak RSS (reaped with wait4)."""

    name: str
    popen: subprocess.Popen
    log_path: Path
    started: float = field(default_factory=time.monotonic)
    started_wall: datetime = field(default_factory=lambda: datetime.now().astimezone())
    exited: float | None = None
    returncode: int | None = None
    peak_kb: int = 0
    leftovers: list[tuple[int, str]] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def sample(self) -> None:
        """Fold the current high-water mark into ``peak_kb`` (while the process lives)."""
        hwm = vm_kb(self.pid, "VmHWM")
        if hwm:
            self.peak_kb = max(self.peak_kb, hwm)

    def rss_mb(self) -> float:
        """Resident memory right now, in MiB (0 when gone)."""
        return (vm_kb(self.pid, "VmRSS") or 0) / 1024

    @property
    def peak_mb(self) -> float:
        return self.peak_kb / 1024

    def poll(self) -> bool:
        """True once the process has exited (reaps it and records its kernel-reported peak RSS)."""
        if self.returncode is not None:
            return True
        self.sample()
        try:
            pid, status, usage = os.wait4(self.pid, os.WNOHANG)
        except ChildProcessError:  # reaped elsewhere: exit code known, kernel peak lost (samples remain)
            pid, status, usage = self.pid, None, None
        if pid == 0:
            return False
        self.exited = time.monotonic()
        self.returncode = self.popen.returncode if status is None else os.waitstatus_to_exitcode(status)
        self.popen.returncode = self.returncode  # tell Popen it was reaped
        if usage is not None:
            self.peak_kb = max(self.peak_kb, usage.ru_maxrss)  # KiB on Linux
        return True

    def wait(self, timeout: float, interval: float = 0.05) -> bool:
        """Wait up to ``timeout`` s for the process to exit; True when it did."""
        deadline = time.monotonic() + timeout
        while not self.poll():
            if time.monotonic() >= deadline:
                return False
            time.sleep(interval)
        return True

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout``; then end whatever it left in its own process group."""
        if not self.poll():
            os.kill(self.pid, signal.SIGTERM)  # not Popen.send_signal: its poll() would reap without rusage
            if not self.wait(timeout):
                print(f"  {self.name} (pid {self.pid}) still running {timeout:.0f} s after SIGTERM: SIGKILL",
                      flush=True)
                self._signal_group(signal.SIGKILL)
                self.wait(10)
        self._end_group()

    def _signal_group(self, sig: int) -> bool:
        """Signal the process group this child leads (started with start_new_session, so only its
        own descendants are in it); False when the group is empty."""
        try:
            os.killpg(self.pid, sig)
            return True
        except ProcessLookupError:
            return False

    def _end_group(self, grace: float = 15.0) -> None:
        """Processes it left in its group (e.g. a vLLM engine core) get ``grace`` s to exit on their own,
        then SIGTERM, then SIGKILL; anything that had to be signalled is reported."""
        deadline = time.monotonic() + grace
        while group_members(self.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            left = group_members(self.pid)
            if not left:
                return
            names = ", ".join(f"{pid} {name}" for pid, name in left)
            print(f"  {self.name} exited but left [{names}] running {grace:.0f} s later: {sig.name}", flush=True)
            self.leftovers.extend(left)
            self._signal_group(sig)
            deadline = time.monotonic() + grace
            while group_members(self.pid) and time.monotonic() < deadline:
                time.sleep(0.1)

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the process's combined stdout/stderr."""
        return self.log_path.read_text(errors="replace")[-chars:]


def spawn(name: str, args: list[str], env: dict[str, str], log_dir: Path) -> Child:
    """Start ``args`` in the repository with its output in ``log_dir/name.log``, in its own session."""
    log_path = Path(log_dir) / f"{name}.log"
    with open(log_path, "wb") as log:
        popen = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
    return Child(name, popen, log_path)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Gateway:
    """A running gateway: its process, base URL and an API key of the project ``bench``."""

    child: Child
    base_url: str
    api_key: str = ""

    def client(self, timeout: float = 60.0) -> httpx.Client:
        """An HTTP client of this gateway that sends the bench's API key."""
        return httpx.Client(base_url=self.base_url, timeout=timeout,
                            headers={"Authorization": f"Bearer {self.api_key}"})


def create_api_key(db_url: str, project: str = "bench") -> str:
    """A new API key of ``project`` (created when new), made in the bench database."""
    from service.db.engine import session_scope
    from service.projects.service import create_key

    with session_scope(db_url) as session:
        return create_key(session, project).key


@contextmanager
def gateway(env: dict[str, str], log_dir: Path, timeout: float = 60.0) -> Iterator[Gateway]:
    """The real gateway (one uvicorn process, access log off) on a free port; always stopped."""
    port = free_port()
    args = [sys.executable, "-m", "uvicorn", "--factory", "service.api.app:app_from_env",
            "--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    child = spawn("gateway", args, env, log_dir)
    try:
        gw = Gateway(child, f"http://127.0.0.1:{port}")
        wait_ready(gw, timeout)
        gw.api_key = create_api_key(env["JUDGESERVE_DATABASE_URL"])
        yield gw
    finally:
        child.stop(15)


def wait_ready(gw: Gateway, timeout: float) -> None:
    """Poll /readyz until 200; fail with the gateway's log when it exits or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if gw.child.poll():
            raise RuntimeError(f"gateway exited with {gw.child.returncode}:\n{gw.child.log_tail()}")
        try:
            if httpx.get(f"{gw.base_url}/readyz", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"gateway at {gw.base_url} not ready after {timeout:.0f} s:\n{gw.child.log_tail()}")


def start_worker(env: dict[str, str], log_dir: Path, judge: str, burst: bool) -> Child:
    """``python -m workers --judge NAME [--burst]``, the real worker entry point."""
    args = [sys.executable, "-m", "workers", "--judge", judge] + (["--burst"] if burst else [])
    return spawn(f"worker-{judge}", args, env, log_dir)


@contextmanager
def worker(env: dict[str, str], log_dir: Path, judge: str, stop_timeout: float = 60.0) -> Iterator[Child]:
    """A long-running worker (no --burst), stopped on exit (SIGTERM, then SIGKILL), also on errors."""
    child = start_worker(env, log_dir, judge, burst=False)
    try:
        yield child
    finally:
        child.stop(stop_timeout)


# ---------------------------------------------------------------- API helpers


def post_evaluation(client: httpx.Client, content: bytes) -> tuple[dict, float]:
    """POST a pre-encoded evaluation; returns (created evaluation, seconds until the 202 arrived)."""
    started = time.perf_counter()
    response = client.post("/v1/evaluations", content=content, headers={"content-type": "application/json"})
    elapsed = time.perf_counter() - started
    if response.status_code != 202:
        raise RuntimeError(f"submission answered {response.status_code}: {response.text[:1000]}")
    return response.json(), elapsed


def wait_terminal(client: httpx.Client, evaluation_id: str, timeout: float, interval: float = 0.02,
                  watch: Child | None = None) -> dict:
    """Poll GET /v1/evaluations/{id} until it ends; fail early when ``watch`` (a worker) dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/v1/evaluations/{evaluation_id}").raise_for_status().json()
        if body["status"] in TERMINAL:
            return body
        if watch is not None and watch.poll():
            raise RuntimeError(f"{watch.name} exited with {watch.returncode}:\n{watch.log_tail()}")
        time.sleep(interval)
    raise RuntimeError(f"evaluation {evaluation_id} not finished after {timeout:.0f} s")


def wait_judge_available(client: httpx.Client, judge: str, timeout: float, watch: Child) -> float:
    """Poll GET /v1/judges until ``judge`` has a live worker; returns seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        judges = {j["name"]: j for j in client.get("/v1/judges").raise_for_status().json()}
        if judges[judge]["available"]:
            return time.monotonic() - started
        if watch.poll():
            raise RuntimeError(f"{watch.name} exited with {watch.returncode}:\n{watch.log_tail()}")
        time.sleep(0.5)
    raise RuntimeError(f"no live worker for judge {judge!r} after {timeout:.0f} s:\n{watch.log_tail()}")


def verdict(met: bool) -> str:
    """'met' or 'MISSED' for the report."""
    return "met" if met else "MISSED"
