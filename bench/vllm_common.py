"""Shared by the vLLM benchmarks (bench/overhead.py, bench/batching.py): the LLMBar items and the
service's own prompts for them, CPU accounting over process trees, and waiting for the RAM an engine
reserves. Importing this module points bench/harness.py at the vLLM benchmarks' own Postgres database
and Redis DB (bench/overhead.py uses them; bench/batching.py needs neither).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DB_NAME = "judgeserve_bench_overhead"
REDIS_URL = "redis://127.0.0.1:6379/8"
# bench/harness.py reads these when imported: point it at this benchmark's own database and Redis DB
os.environ["JUDGESERVE_BENCH_PIPE_DB"] = DB_NAME
os.environ["JUDGESERVE_BENCH_REDIS_URL"] = REDIS_URL

DATASET = ROOT.parent / "shared" / "data" / "llmbar-natural" / "dataset.json"
MEMORY_ERROR = "less than desired CPU memory utilization"


# ---------------------------------------------------------------- items and prompts (both sides)


def item_set(index: int, n: int) -> list[dict]:
    """The ``index``-th set of N items (sets are disjoint, so no run reuses another's cached prompts)."""
    return load_items(index * n, n)


def load_items(start: int, count: int) -> list[dict]:
    """LLMBar Natural pairs as pairwise items (same mapping as the e2e test)."""
    data = json.loads(DATASET.read_text(encoding="utf-8"))[start:start + count]
    return [{"id": f"llmbar-{start + i}", "prompt": d["input"], "response_a": d["output_1"],
             "response_b": d["output_2"], "human_label": "a" if d["label"] == 1 else "b"}
            for i, d in enumerate(data)]


def warmup_items() -> list[dict]:
    """Two items the timed set never contains (the dataset's last two)."""
    total = len(json.loads(DATASET.read_text(encoding="utf-8")))
    return load_items(total - 2, 2)


def plan_requests(items: list[dict], **options: object) -> list[tuple[str, str, object]]:
    """(item id, order, JudgeRequest) for every call the service makes, in the worker's order
    (``options``: pairwise options other than the defaults, e.g. ``verdict_mode="rationale"``)."""
    from service.core.protocols.pairwise.protocol import PairwiseItem, PairwiseOptions, PairwiseProtocol

    protocol, options = PairwiseProtocol(), PairwiseOptions(cache=False, **options)
    planned = []
    for raw in items:
        for call in protocol.plan_calls(PairwiseItem.model_validate(raw), options):
            planned.append((raw["id"], call.order, call.request))
    return planned


# ---------------------------------------------------------------- CPU accounting (other jobs share the machine)


def cpu_snapshot(roots: list[int]) -> tuple[float, float]:
    """(CPU seconds the whole machine has been busy, CPU seconds of ``roots`` and their descendants)."""
    tick = os.sysconf("SC_CLK_TCK")
    stat = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    busy = stat[0] + stat[1] + stat[2] + stat[5] + stat[6] + stat[7]  # all but idle and iowait
    parents, used = {}, {}
    for path in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = path.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        pid = int(path.parent.name)
        parents[pid], used[pid] = int(fields[1]), int(fields[11]) + int(fields[12])
    ours, todo = set(), [pid for pid in roots if pid in used]
    while todo:
        pid = todo.pop()
        ours.add(pid)
        todo.extend(child for child, parent in parents.items() if parent == pid and child not in ours)
    return busy / tick, sum(used[pid] for pid in ours) / tick


def cpu_share(before: tuple[float, float], after: tuple[float, float], seconds: float) -> dict[str, float]:
    """Average cores busy with our processes and with everything else between two snapshots."""
    busy, ours = after[0] - before[0], after[1] - before[1]
    return {"ours": ours / seconds, "others": max(0.0, busy - ours) / seconds}


def cpu_text(share: dict[str, float]) -> str:
    return f"CPU: ours {share['ours']:.2f} cores, other jobs {share['others']:.2f} cores (of {os.cpu_count()})"


def bundled_model_dir(cache_dir: str | None) -> Path:
    """The converted bundled model (converted now if this cache dir does not hold it yet)."""
    from service.config import Settings
    from service.judges.bundled import ensure_bundled_model

    return ensure_bundled_model(Path(cache_dir) if cache_dir else Settings().resolved_model_cache_dir())


# ---------------------------------------------------------------- engines in child processes


def child_env(cache_dir: str | None) -> dict[str, str]:
    """This environment without JUDGESERVE_* settings, plus the model cache dir when one is given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUDGESERVE_")}
    if cache_dir:
        env["JUDGESERVE_MODEL_CACHE_DIR"] = cache_dir
    return env


def wait_for_memory(harness, timeout: float = 900.0) -> None:
    """vLLM on CPU reserves gpu_memory_utilization x RAM (or VLLM_CPU_KVCACHE_SPACE GiB) at start and
    refuses to start when less is free: wait until that much is free."""
    from service.config import default_embedded_judge

    engine = default_embedded_judge().engine
    fixed = os.environ.get("VLLM_CPU_KVCACHE_SPACE")
    if fixed:
        need = float(fixed) + 0.5
    elif "kv_cache_memory_bytes" in engine:
        need = engine["kv_cache_memory_bytes"] / 2**30 + 0.5
    else:
        need = engine.get("gpu_memory_utilization", 0.3) * harness._meminfo_gb("MemTotal") + 0.5
    deadline = time.monotonic() + timeout
    while harness._meminfo_gb("MemAvailable") < need:
        if time.monotonic() > deadline:
            raise RuntimeError(f"less than {need:.1f} GB RAM available for {timeout:.0f} s")
        print(f"  waiting for {need:.1f} GB free RAM (other jobs use it) ...", flush=True)
        time.sleep(10)


def retry_on_memory(harness, what: str, log_path: Path, run, attempts: int = 5):
    """``run()``, again when its engine refused to start because other jobs held the RAM meanwhile."""
    for attempt in range(1, attempts + 1):
        try:
            return run()
        except RuntimeError:
            text = log_path.read_text(errors="replace") if log_path.exists() else ""
            if MEMORY_ERROR not in text or attempt == attempts:
                raise
            print(f"  {what}: the engine found too little free RAM at start (other jobs took it); "
                  f"retry {attempt}/{attempts - 1}", flush=True)
            time.sleep(20)
            wait_for_memory(harness)
