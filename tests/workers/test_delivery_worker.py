"""The delivery process a judge worker starts: real worker processes on Postgres and Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from redis import Redis

from tests.support import REPO, settings_env, wait_for
from workers.__main__ import parse_args


def registered(redis: Redis) -> dict[str, int]:
    """RQ worker name → its process id, for every registered RQ worker."""
    return {key.decode().removeprefix("rq:worker:"): int(redis.hget(key, "pid") or 0)
            for key in redis.smembers("rq:workers")}


def alive(pid: int) -> bool:
    """True while the process runs (an exited one nobody reaped yet, a zombie, does not count)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_deliveries_are_sent_by_another_process_that_ends_with_its_judge_worker(prod_settings):
    redis = Redis.from_url(prod_settings.redis_url)
    worker = subprocess.Popen([sys.executable, "-m", "workers", "--judge", "scripted"], env=settings_env(prod_settings),
                              cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        found = wait_for(lambda: (r := registered(redis)) and len(r) == 1 + prod_settings.webhooks.delivery_threads
                         and r, timeout=60)
        judge_pids = {pid for name, pid in found.items() if "-webhooks-" not in name}
        delivery_pids = {pid for name, pid in found.items() if "-webhooks-" in name}
        assert judge_pids == {worker.pid}
        assert len(delivery_pids) == 1 and worker.pid not in delivery_pids  # one process of its own, both loops
        [delivery_pid] = delivery_pids
        # RQ's scheduler, forked by the judge worker, outlives a SIGKILL holding the worker's Redis socket,
        # whose pending BLPOP would swallow the next test's jobs: it is killed below
        others = [pid for pid in children(worker.pid) if pid != delivery_pid]
        worker.kill()  # SIGKILL: the judge worker cannot stop it; it notices and stops by itself
        worker.wait(10)
        wait_for(lambda: not alive(delivery_pid), timeout=30)
        assert not [name for name in registered(redis) if "-webhooks-" in name]  # it left RQ cleanly
    finally:
        if worker.poll() is None:
            worker.kill()
        for pid in locals().get("others", []):
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_delivery_process_needs_no_judge():
    assert parse_args(["--deliveries"]).deliveries
    assert parse_args(["--judge", "x"]).judge == "x"
