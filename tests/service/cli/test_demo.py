"""The README's first command's code path (`judgeserve demo`) on a clean temporary directory."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support import REPO

pytestmark = pytest.mark.vllm


def test_demo_runs_a_real_evaluation_in_embedded_mode(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUDGESERVE_")}
    env["PYTHONPATH"] = str(REPO)
    workdir = tmp_path / "fresh"
    workdir.mkdir()
    result = subprocess.run([sys.executable, "-m", "service.cli.main", "demo"], cwd=workdir, env=env,
                            capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    for expected in ("POST /v1/evaluations", "completed", "win rate of A", "95% CI", "position-consistency rate",
                     "llmbar-natural-20"):
        assert expected in out, out
    assert (workdir / ".judgeserve" / "demo" / "judgeserve.db").exists()  # embedded SQLite, no servers
    assert "Traceback" not in result.stderr


def test_demo_refuses_production_settings_with_a_clear_message(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUDGESERVE_")}
    env.update(JUDGESERVE_DATABASE_URL="postgresql://x@127.0.0.1:1/x", JUDGESERVE_REDIS_URL="redis://127.0.0.1:1")
    result = subprocess.run([sys.executable, "-m", "service.cli.main", "demo"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "embedded mode" in result.stderr
