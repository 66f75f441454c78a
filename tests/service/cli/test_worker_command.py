"""`judgeserve worker` is the same worker as `python -m workers`."""

import os
import subprocess
import sys

from tests.support import REPO, run_worker, settings_env


def test_judgeserve_worker_runs_the_worker(prod_settings):
    env = settings_env(prod_settings)
    result = subprocess.run([sys.executable, "-m", "service.cli.main", "worker", "--judge", "scripted", "--burst"],
                            env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "serving judge scripted" in result.stderr


def test_unknown_judge_is_refused(prod_settings):
    result = run_worker(prod_settings, "no-such-judge", timeout=60)
    assert result.returncode == 2 and "unknown judge 'no-such-judge'" in result.stderr


def test_worker_needs_production_settings():
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUDGESERVE_")}
    result = subprocess.run([sys.executable, "-m", "workers", "--judge", "embedded"], env=env, cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "JUDGESERVE_DATABASE_URL" in result.stderr
