"""End to end on the real vLLM CPU engine with the bundled model: uvicorn gateway → Redis/RQ →
worker process → Postgres, read back over HTTP."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import httpx
import pytest

from tests.support import REPO, api_key, run_worker, settings_env, wait_for

pytestmark = pytest.mark.vllm
LLMBAR = REPO.parent / "shared" / "data" / "llmbar-natural" / "dataset.json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def gateway(prod_settings):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "service.api.app:app_from_env", "--port", str(port)],
        env=settings_env(prod_settings), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"

    def ready():
        assert process.poll() is None, process.stdout.read()
        try:
            return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(ready, timeout=60, interval=0.3)
    yield base
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture
def auth(prod_settings) -> dict[str, str]:
    """Headers carrying a new API key."""
    return {"Authorization": f"Bearer {api_key(prod_settings)}"}


def llmbar_items(n: int) -> list[dict]:
    data = json.loads(LLMBAR.read_text())[:n]
    return [{"id": f"llmbar-{i}", "prompt": d["input"], "response_a": d["output_1"], "response_b": d["output_2"],
             "human_label": "a" if d["label"] == 1 else "b"} for i, d in enumerate(data)]


def test_real_engine_judges_both_orders_with_logprob_probabilities(gateway, auth, prod_settings):
    body = {"protocol": "pairwise", "judge": "embedded", "model": "llmbar-output-1", "items": llmbar_items(4),
            "options": {"chunk_size": 2}}
    created = httpx.post(f"{gateway}/v1/evaluations", json=body, headers=auth, timeout=30)
    assert created.status_code == 202, created.text
    location = gateway + created.headers["location"]

    worker = run_worker(prod_settings, "embedded", timeout=900)
    assert worker.returncode == 0, worker.stderr[-4000:]

    evaluation = httpx.get(location, headers=auth, timeout=30).json()
    assert evaluation["status"] == "completed", evaluation
    assert evaluation["progress"]["done"] == 4 and evaluation["progress"]["failed"] == 0
    summary, reliability = evaluation["summary"], evaluation["reliability"]
    assert summary["n_scored"] == 4 and 0.0 <= summary["win_rate"] <= 1.0
    low, high = summary["win_rate_ci95"]
    assert low <= summary["win_rate"] <= high
    assert reliability["position_consistency_rate"] is not None and summary["n_human_labelled"] == 4

    verdicts = httpx.get(f"{location}/verdicts", headers=auth, timeout=30).json()["data"]
    assert [v["item_id"] for v in verdicts] == [f"llmbar-{i}" for i in range(4)]
    soft = []
    for verdict in verdicts:
        assert sorted(j["order"] for j in verdict["judgments"]) == ["ab", "ba"]
        for judgment in verdict["judgments"]:
            assert judgment["error"] is None and judgment["raw_output"] in ("1", "2", "tie")
            assert judgment["fingerprint"].startswith("vllm:bundled:smollm2-135m-instruct")
            probs = judgment["label_probs"]
            assert probs is not None and abs(sum(probs.values()) - 1.0) < 1e-6
            assert judgment["label"] == max(probs, key=probs.get) or judgment["label"] == judgment["raw_output"]
            assert judgment["prompt_tokens"] > 50
            soft.extend(p for p in probs.values() if 1e-6 < p < 1 - 1e-6)
    # probabilities come from logprobs, not from one-hot parsed text
    assert soft, "every label probability was 0 or 1: logprobs were not used"
