"""A live production-mode gateway (uvicorn) with real scripted-judge workers, for tests that drive the
service from outside (the `judgeserve` CLI, the Python client).

One gateway and its workers serve a whole test module: tests there use their own model, suite and
item names, so they do not need an empty database.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis
import yaml
from sqlalchemy import text

from service.config import Settings
from service.db.engine import get_engine
from service.models import Base
from tests.conftest import REDIS_URL, SCRIPTED_JUDGES
from tests.support import REPO, api_key, settings_env, wait_for

WORKER_JUDGES = ("scripted", "scripted-first")  # "unserved" has no worker: submissions to it never finish


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveService:
    url: str
    settings: Settings
    api_key: str
    processes: list[subprocess.Popen] = field(default_factory=list)

    def cli_env(self, **extra: str) -> dict[str, str]:
        """Environment for the CLI: the service's URL and key, no server settings, wide output."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("JUDGESERVE_")}
        env.update(JUDGESERVE_URL=self.url, JUDGESERVE_API_KEY=self.api_key, COLUMNS="200", NO_COLOR="1")
        env.update(extra)
        return env


def start_live_service(pg_url: str, tmp: Path) -> LiveService:
    """Empty the test database and Redis, then start the gateway and one worker per judge in WORKER_JUDGES."""
    with get_engine(pg_url).begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(Base.metadata.tables)} RESTART IDENTITY CASCADE"))
    redis.Redis.from_url(REDIS_URL).flushdb()
    judges = tmp / "judges.yaml"
    judges.write_text(yaml.safe_dump(SCRIPTED_JUDGES), encoding="utf-8")
    settings = Settings(database_url=pg_url, redis_url=REDIS_URL, judges_file=judges, data_dir=tmp / "data",
                        queue_prefix=f"jscli{os.getpid()}", heartbeat_seconds=0.5)
    env = settings_env(settings)
    port = free_port()
    service = LiveService(url=f"http://127.0.0.1:{port}", settings=settings, api_key=api_key(settings, "cli-tests"))
    gateway_log = (tmp / "gateway.log").open("w")
    service.processes.append(subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "service.api.app:app_from_env", "--port", str(port)],
        env=env, cwd=REPO, stdout=gateway_log, stderr=subprocess.STDOUT))
    for judge in WORKER_JUDGES:
        log = (tmp / f"worker-{judge}.log").open("w")
        service.processes.append(subprocess.Popen([sys.executable, "-m", "workers", "--judge", judge],
                                                  env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT))

    def ready() -> bool:
        for process in service.processes:
            assert process.poll() is None, f"a service process exited; logs in {tmp}"
        try:
            if httpx.get(f"{service.url}/readyz", timeout=2).status_code != 200:
                return False
            judges_seen = httpx.get(f"{service.url}/v1/judges", timeout=2,
                                    headers={"Authorization": f"Bearer {service.api_key}"}).json()
            return all(j["available"] for j in judges_seen if j["name"] in WORKER_JUDGES)
        except httpx.HTTPError:
            return False

    try:
        wait_for(ready, timeout=90, interval=0.3)
    except BaseException:
        stop_live_service(service)
        raise
    return service


def stop_live_service(service: LiveService) -> None:
    for process in service.processes:
        process.terminate()
    for process in service.processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
