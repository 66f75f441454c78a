"""Shared by the vLLM benchmarks (bench/overhead.py, bench/batching.py, bench/vs_vllm_serve.py,
bench/prefix_orders.py): the LLMBar items and the service's own prompts for them, CPU accounting over
process trees, waiting for the RAM an engine reserves, and vLLM's OpenAI-compatible server (start, stop,
prefix-cache reset, /metrics counters, the request bodies the service's HTTP client sends). Importing
this module points bench/harness.py at the vLLM benchmarks' own Postgres database and Redis DB
(bench/overhead.py uses them; bench/batching.py needs neither; bench/vs_vllm_serve.py sets its own).
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
BINDING_VARIABLES = ("VLLM_CPU_OMP_THREADS_BIND", "VLLM_CPU_NUM_OF_RESERVED_CPU")
LABELS = ["1", "2", "tie"]
MAX_TOKENS = 5  # the worker's own bound for the labels: longest label's bytes + 2
TOP_LOGPROBS = 20
# Prometheus counters of the server, read before and after each run (prompt tokens, prefix-cache hits)
QUERIES, HITS = "vllm:prefix_cache_queries_total", "vllm:prefix_cache_hits_total"
GENERATED = "vllm:generation_tokens_total"


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
    busy, groups = cpu_groups({"ours": roots})
    return busy, groups["ours"]


def cpu_groups(groups: dict[str, list[int]]) -> tuple[float, dict[str, float]]:
    """(CPU seconds the machine has been busy, {group: CPU seconds of its roots and their descendants}),
    from one scan of /proc (a process in two groups' trees counts in the first)."""
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
    seen: set[int] = set()
    totals = {}
    for name, roots in groups.items():
        ours, todo = set(), [pid for pid in roots if pid in used and pid not in seen]
        while todo:
            pid = todo.pop()
            ours.add(pid)
            todo.extend(child for child, parent in parents.items()
                        if parent == pid and child not in ours and child not in seen)
        seen |= ours
        totals[name] = sum(used[pid] for pid in ours) / tick
    return busy / tick, totals


def child_pids(pid: int) -> list[int]:
    """The direct children of ``pid`` (from /proc/PID/task/*/children)."""
    children = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return children


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


# ---------------------------------------------------------------- vLLM's OpenAI-compatible server


def server_flags() -> list[str]:
    """The embedded judge's engine settings as server flags (dtype float32, KV share, eager, length, seed)."""
    from service.config import default_embedded_judge

    judge = default_embedded_judge()
    engine = judge.engine
    flags = ["--dtype", str(engine.get("dtype", "float32"))]
    if "kv_cache_memory_bytes" in engine:
        flags += ["--kv-cache-memory-bytes", str(engine["kv_cache_memory_bytes"])]
    else:
        flags += ["--gpu-memory-utilization", str(engine.get("gpu_memory_utilization", 0.3))]
    flags += ["--enforce-eager"] if engine.get("enforce_eager", True) else []
    flags += ["--max-model-len", str(engine["max_model_len"])] if "max_model_len" in engine else []
    flags += ["--block-size", str(engine["block_size"])] if "block_size" in engine else []
    return flags + ["--seed", str(judge.sampling.get("seed", 0))]


def server_args(model_dir: Path, port: int) -> list[str]:
    """The server's command line."""
    return [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir),
            "--host", "127.0.0.1", "--port", str(port), *server_flags()]


def start_server(harness, model_dir: Path, log_dir: Path, timeout: float = 300.0, default_binding: bool = False):
    """Start the server; returns (child, base URL, served model name, seconds to ready).

    ``default_binding``: without this environment's ``VLLM_CPU_*`` thread-binding variables, i.e. with
    vLLM's own CPU binding (what a user who runs the server gets)."""
    import httpx

    wait_for_memory(harness)
    port = harness.free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUDGESERVE_")}
    if default_binding:
        env = {k: v for k, v in env.items() if k not in BINDING_VARIABLES}
    env["VLLM_SERVER_DEV_MODE"] = "1"  # only for POST /reset_prefix_cache; bound to 127.0.0.1
    child = harness.spawn("vllm-server", server_args(model_dir, port), env, log_dir)
    base = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if child.poll():
            raise RuntimeError(f"vLLM server exited with {child.returncode}:\n{child.log_tail()}")
        try:
            response = httpx.get(f"{base}/v1/models", timeout=2.0)
            if response.status_code == 200:
                return child, base, response.json()["data"][0]["id"], time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(1.0)
    child.stop(30)
    raise RuntimeError(f"vLLM server not ready after {timeout:.0f} s:\n{child.log_tail()}")


def stop_server(child) -> None:
    """SIGTERM (then SIGKILL) the server, then make sure nothing of its process group is left."""
    import signal

    child.stop(30)
    try:
        os.killpg(child.pid, signal.SIGKILL)  # its own session: only processes this script started
    except (ProcessLookupError, PermissionError):
        pass


def reset_prefix_cache(client, base: str) -> None:
    """Empty the server's prefix cache (dev endpoint, VLLM_SERVER_DEV_MODE=1)."""
    response = client.post(f"{base}/reset_prefix_cache", timeout=30)
    if response.status_code != 200 or not response.json().get("success"):
        raise RuntimeError(f"reset_prefix_cache answered {response.status_code}: {response.text[:300]}")


def counters(client, base: str) -> dict[str, float]:
    """The server's prefix-cache query/hit and generated-token counters (summed over label sets)."""
    values = {QUERIES: 0.0, HITS: 0.0, GENERATED: 0.0}
    for line in client.get(f"{base}/metrics").raise_for_status().text.splitlines():
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in values:
            values[name] += float(line.rsplit(" ", 1)[1])
    return values


def request_body(model: str, request, messages: list[dict] | None = None) -> dict:
    """The same body OpenAIBackend sends for a constrained logprobs verdict."""
    return {"model": model, "messages": list(request.messages) if messages is None else messages,
            "temperature": request.temperature, "seed": request.seed, "max_tokens": MAX_TOKENS, "logprobs": True,
            "top_logprobs": TOP_LOGPROBS, "structured_outputs": {"choice": LABELS}}


def rationale_body(model: str, request) -> dict:
    """The same body OpenAIBackend sends for the reasoning before a verdict (rationale mode)."""
    return {"model": model, "messages": list(request.messages), "temperature": request.temperature,
            "seed": request.seed, "max_tokens": request.rationale_tokens}


def binding_text(log_text: str) -> str:
    """What vLLM's CPU platform logged about its OpenMP thread binding (core ids, reserved cores)."""
    import re

    found = []
    for pattern in (r"VLLM_CPU_OMP_THREADS_BIND=[^,]*", r"core ids=\[[^\]]*\]", r"reserved_cpus=\[[^\]]*\]",
                    r"Reducing Torch threads from \d+ to \d+"):
        match = re.search(pattern, log_text)
        if match and match.group(0) not in found:
            found.append(match.group(0))
    return ", ".join(found) or "no binding lines in the log"


def run_json_child(harness, label: str, argv: list[str], env: dict[str, str], log_dir: Path,
                   out: Path, timeout: float = 1800) -> tuple[dict, Path]:
    """Run a benchmark child that writes its result as JSON to ``out``; (the result, the child's log)."""
    child = harness.spawn(label, argv, env, log_dir)
    try:
        if not child.wait(timeout=timeout):
            raise RuntimeError(f"{label} did not finish within {timeout:.0f} s:\n{child.log_tail()}")
    finally:
        child.stop(30)
    if child.returncode != 0 or not out.exists():
        raise RuntimeError(f"{label} exited with {child.returncode}:\n{child.log_tail()}")
    return json.loads(out.read_text(encoding="utf-8")), child.log_path
