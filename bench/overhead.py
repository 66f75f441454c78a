"""Service overhead: bare ``vllm.LLM.generate`` vs the full gateway → Redis/RQ → worker → Postgres path.

    .venv/bin/python bench/overhead.py            # N=32 items → 64 judgments; ~8-10 min on 2 cores

The same N LLMBar Natural pairs, both orders (2N judge calls), with the embedded judge's engine
settings (``default_embedded_judge()``: the bundled SmolLM2-135M, float32 on CPU):

(a) bare: a child process builds the worker's own ``VLLMBackend`` (the same ``vllm.LLM`` kwargs),
    renders the prompts exactly as the worker does (``PairwiseProtocol.plan_calls`` + the
    backend's chat-template rendering and sampling parameters), warms up on two other items and
    times one ``backend.llm.generate(prompts, params)`` over all 2N prompts (with
    ``--backend-generate`` also the worker's whole ``backend.generate(requests)``: rendering and
    logprob reading included).
(b) end to end: the real gateway (uvicorn) and one long-running worker (``python -m workers
    --judge embedded``); one warm-up evaluation on two other items, then an evaluation of the N
    items with ``{"chunk_size": N, "cache": false}``, timed from POST until GET shows
    ``completed`` (polled every 0.2 s); judgments/s = 2N / that time.

With ``--rounds R`` (default 1) this is done for R disjoint sets of N items (set r = items
rN..rN+N-1), so no timed run profits from prompts another run left in vLLM's prefix cache (in
(a), the cache is also reset before each timed call). The report splits (b)'s wall time by the
timestamps the service stores (evaluation created/started/completed, judgment and verdict rows,
the RQ job) and the engine time the worker records per call.

(a) runs before and after (b), never at the same time as the worker's engine (2 cores, RAM), so
drift shows. Target: rate(b) / rate(a) >= 0.90, rates over all sets and both (a) phases; exits 1
when missed. Uses its own Postgres database
``judgeserve_bench_overhead`` (recreated, dropped at the end) and Redis DB 8.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
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
TARGET = 0.90
MEMORY_ERROR = "less than desired CPU memory utilization"
JUDGE = "embedded"


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


def plan_requests(items: list[dict]) -> list[tuple[str, str, object]]:
    """(item id, order, JudgeRequest) for every call the service makes, in the worker's order."""
    from service.core.pairwise import PairwiseItem, PairwiseOptions, PairwiseProtocol

    protocol, options = PairwiseProtocol(), PairwiseOptions(cache=False)
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


# ---------------------------------------------------------------- (a) bare generate, in a child process


def render(backend, requests: list) -> tuple[list, list]:
    """Token-id prompts and sampling params exactly as ``VLLMBackend._run`` builds them."""
    prompts, params = [], []
    for request in requests:
        sampling = backend._verdict_params(request)
        ids = backend._render(list(request.messages))
        if len(ids) + sampling.max_tokens > backend.max_model_len:
            raise RuntimeError("a prompt exceeds max_model_len: the worker would skip it; pick other items")
        prompts.append({"prompt_token_ids": ids})
        params.append(sampling)
    return prompts, params


def timed_generate(backend, prompts: list, params: list) -> tuple[float, list, dict]:
    """One cold-prefix ``llm.generate`` over all prompts: (seconds, outputs, CPU shares meanwhile)."""
    if not backend.llm.reset_prefix_cache():
        raise RuntimeError("vLLM refused to reset the prefix cache")
    cpu0, start = cpu_snapshot([os.getpid()]), time.perf_counter()
    outputs = backend.llm.generate(prompts, params, use_tqdm=False)
    seconds = time.perf_counter() - start
    return seconds, outputs, cpu_share(cpu0, cpu_snapshot([os.getpid()]), seconds)


def measure_bare(backend, n: int, rounds: int, full: bool) -> dict:
    """Warm up on other items; then per item set: bare generate (and, if ``full``, the backend's generate)."""
    warm_prompts, warm_params = render(backend, [r for _, _, r in plan_requests(warmup_items())])
    backend.llm.generate(warm_prompts, warm_params, use_tqdm=False)
    results = []
    for index in range(rounds):
        planned = plan_requests(item_set(index, n))
        requests = [r for _, _, r in planned]
        start = time.perf_counter()
        prompts, params = render(backend, requests)
        render_s = time.perf_counter() - start
        bare_s, outputs, cpu = timed_generate(backend, prompts, params)
        backend_s = None
        if full:
            backend.llm.reset_prefix_cache()  # the same prompts again: start cold again
            start = time.perf_counter()
            backend.generate(requests)
            backend_s = time.perf_counter() - start
        results.append({
            "calls": len(prompts), "render_s": render_s, "bare_s": bare_s, "backend_s": backend_s, "cpu": cpu,
            "prompt_tokens": sum(len(p["prompt_token_ids"]) for p in prompts),
            "labels": {f"{i}/{o}": out.outputs[0].text for (i, o, _), out in zip(planned, outputs)},
            "prompt_hashes": sorted(r.prompt_hash() for r in requests),
        })
    return {"rounds": results}


def bare_child(out_path: str, n: int, rounds: int, full: bool) -> None:
    """Child-process entry: build the worker's backend, measure, write JSON, shut the engine down."""
    from service.config import Settings, default_embedded_judge
    from workers.backends.vllm_engine import VLLMBackend

    start = time.perf_counter()
    backend = VLLMBackend(default_embedded_judge(), Settings())
    startup = time.perf_counter() - start
    try:
        result = measure_bare(backend, n, rounds, full)
    finally:
        backend.close()
    result["startup_s"] = startup
    Path(out_path).write_text(json.dumps(result), encoding="utf-8")


def child_env(cache_dir: str | None) -> dict[str, str]:
    """This environment without JUDGESERVE_* settings, plus the model cache dir when one is given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUDGESERVE_")}
    if cache_dir:
        env["JUDGESERVE_MODEL_CACHE_DIR"] = cache_dir
    return env


def run_bare(harness, label: str, args: argparse.Namespace, log_dir: Path) -> dict:
    """Run (a) in a fresh child process (its engine is gone when this returns)."""
    wait_for_memory(harness)
    out = log_dir / f"{label}.json"
    argv = [sys.executable, str(Path(__file__).resolve()), "--bare-child", str(out), "--n", str(args.n),
            "--rounds", str(args.rounds)] + (["--backend-generate"] if args.backend_generate else [])
    child = harness.spawn(label, argv, child_env(args.model_cache_dir), log_dir)
    try:
        if not child.wait(timeout=1800):
            raise RuntimeError(f"{label} did not finish within 1800 s:\n{child.log_tail()}")
    finally:
        child.stop(30)
    if child.returncode != 0 or not out.exists():
        raise RuntimeError(f"{label} exited with {child.returncode}:\n{child.log_tail()}")
    return json.loads(out.read_text(encoding="utf-8"))


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


# ---------------------------------------------------------------- (b) end to end


def evaluate(harness, client, items: list[dict], chunk_size: int, procs: list, poll: float) -> dict:
    """POST one evaluation and poll until it ends; wall time from POST to the observed ``completed``.

    ``procs`` = [gateway, worker] (harness children); CPU of their process trees and of this
    process counts as ours.
    """
    body = {"protocol": "pairwise", "judge": JUDGE, "model": "llmbar-output-1", "items": items,
            "options": {"chunk_size": chunk_size, "cache": False}}
    content = json.dumps(body).encode()
    roots = [child.pid for child in procs] + [os.getpid()]
    cpu0, wall0, start = cpu_snapshot(roots), time.time(), time.perf_counter()
    created, post_s = harness.post_evaluation(client, content)
    final = harness.wait_terminal(client, created["id"], timeout=900, interval=poll, watch=procs[-1])
    elapsed, wall1 = time.perf_counter() - start, time.time()
    cpu = cpu_share(cpu0, cpu_snapshot(roots), elapsed)
    progress = final["progress"]
    if final["status"] != "completed" or progress["failed"]:
        raise RuntimeError(f"evaluation {created['id']} ended {final['status']}: {final}")
    return {"id": created["id"], "elapsed": elapsed, "post_s": post_s, "wall0": wall0, "wall1": wall1,
            "final": final, "cpu": cpu}


def run_e2e(harness, args: argparse.Namespace, log_dir: Path) -> dict:
    """(b): gateway + one long-running worker; a warm-up evaluation, then one timed evaluation per set."""
    db_url = harness.recreate_database(DB_NAME)
    harness.flush_redis(REDIS_URL)
    cache = {"model_cache_dir": args.model_cache_dir} if args.model_cache_dir else {}
    env = harness.service_env(db_url, **cache)
    wait_for_memory(harness)
    import httpx

    rounds = []
    with harness.gateway(env, log_dir) as gw, httpx.Client(base_url=gw.base_url, timeout=60) as client:
        with harness.worker(env, log_dir, JUDGE) as worker:
            ready_s = harness.wait_judge_available(client, JUDGE, 900, worker)
            procs = [gw.child, worker]
            evaluate(harness, client, warmup_items(), 2, procs, args.poll)
            for index in range(args.rounds):
                timed = evaluate(harness, client, item_set(index, args.n), args.n, procs, args.poll)
                timed["judgments"] = fetch_judgments(client, timed["id"])
                rounds.append(timed)
    for timed in rounds:
        timed["db"] = harness.query(db_url, "SELECT count(*), sum(latency_ms), min(created_at), "
                                    "sum(prompt_tokens) FROM judgments WHERE evaluation_id = %s", (timed["id"],))[0]
        timed["verdicts_at"] = harness.query(db_url, "SELECT max(created_at) FROM verdicts WHERE evaluation_id = %s",
                                             (timed["id"],))[0][0]
        timed["rq"] = rq_times(timed["id"])
    return {"ready_s": ready_s, "env": harness.env_summary(env), "rounds": rounds}


def fetch_judgments(client, evaluation_id: str) -> dict:
    """{item/order: (raw_output, prompt_hash)} from the verdicts API."""
    out, cursor = {}, None
    while True:
        params = {"limit": 100} | ({"cursor": cursor} if cursor else {})
        page = client.get(f"/v1/evaluations/{evaluation_id}/verdicts", params=params).raise_for_status().json()
        for verdict in page["data"]:
            for j in verdict["judgments"]:
                out[f"{verdict['item_id']}/{j['order']}"] = (j["raw_output"], j["prompt_hash"])
        cursor = page.get("next_cursor")
        if not cursor:
            return out


def rq_times(evaluation_id: str) -> dict:
    """The RQ job's enqueued/started/ended times (epoch seconds) for chunk 0."""
    from redis import Redis
    from rq.job import Job

    job = Job.fetch(f"judge-chunk_{evaluation_id}_0", connection=Redis.from_url(REDIS_URL))
    return {k: epoch(getattr(job, k)) for k in ("enqueued_at", "started_at", "ended_at")}


def epoch(value) -> float | None:
    """Epoch seconds of an ISO string or datetime (naive = UTC)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()


# ---------------------------------------------------------------- report


def bundled_model_dir(cache_dir: str | None) -> Path:
    """The converted bundled model (converted now if this cache dir does not hold it yet)."""
    from service.config import Settings
    from service.judges.bundled import ensure_bundled_model

    return ensure_bundled_model(Path(cache_dir) if cache_dir else Settings().resolved_model_cache_dir())


def header(harness, args: argparse.Namespace) -> None:
    """Machine, N and the engine settings."""
    import vllm

    from service.config import default_embedded_judge
    from workers.backends.vllm_engine import engine_kwargs

    model_dir = bundled_model_dir(args.model_cache_dir)
    n, rounds = args.n, args.rounds
    print("== bench/overhead: bare vllm.LLM.generate vs gateway -> Redis/RQ -> worker -> Postgres ==")
    for line in harness.machine_info():
        print(line)
    print(f"vLLM {vllm.__version__}")
    sets = "; ".join(f"set {r}: LLMBar Natural {r * n}..{(r + 1) * n - 1}" for r in range(rounds))
    print(f"N = {n} items x 2 orders = {2 * n} judgments per set, {rounds} set(s) ({sets}); warm-up items "
          f"{[i['id'] for i in warmup_items()]}; (b) poll interval {args.poll} s; order: (a) before, (b), "
          f"{'(a) after' if not args.no_after else 'no (a) after'}")
    judge = default_embedded_judge()
    print(f"engine (both sides, the worker's engine_kwargs): {engine_kwargs(judge, str(model_dir))}")
    kv = os.environ.get("VLLM_CPU_KVCACHE_SPACE")
    own = {k: v for k, v in judge.engine.items() if k in ("gpu_memory_utilization", "kv_cache_memory_bytes")}
    print(f"KV cache: {f'VLLM_CPU_KVCACHE_SPACE={kv} GiB (every engine)' if kv else f'{own} (the service)'}")
    print(f"sampling: judge {judge.sampling}; verdict = constrained choice ['1','2','tie'], logprobs top-20, "
          f"max_tokens 4; one LLM.generate per set (chunk_size N)", flush=True)


def print_bare(label: str, result: dict) -> None:
    print(f"(a) {label}: engine start {result['startup_s']:.0f} s")
    for index, r in enumerate(result["rounds"]):
        full = "" if r["backend_s"] is None else (
            f"; backend.generate (render + generate + logprobs) {r['calls'] / r['backend_s']:.2f}/s")
        print(f"    set {index}: {r['calls']} calls, {r['prompt_tokens']} prompt tokens, render "
              f"{r['render_s'] * 1000:.0f} ms; bare llm.generate {r['bare_s']:.2f} s = "
              f"{r['calls'] / r['bare_s']:.2f} judgments/s{full}; {cpu_text(r['cpu'])}", flush=True)


def breakdown(timed: dict) -> list[tuple[str, float]]:
    """Where one evaluation's wall time went, from the stored timestamps (seconds)."""
    final, rq = timed["final"], timed["rq"]
    created, started, completed = (epoch(final[k]) for k in ("created_at", "started_at", "completed_at"))
    rows_at, engine_s = epoch(timed["db"][2]), (timed["db"][1] or 0) / 1000
    verdicts_at = epoch(timed["verdicts_at"])
    return [
        ("POST until the evaluation row is stamped", created - timed["wall0"]),
        ("rest of POST, enqueue, RQ pickup, up to the chunk claim", started - created),
        ("  of which RQ enqueued -> job started", (rq["started_at"] or 0) - (rq["enqueued_at"] or 0)),
        ("worker: claim + render + parse (claim -> rows, minus engine)", rows_at - started - engine_s),
        ("worker: llm.generate (sum of stored latency_ms)", engine_s),
        ("worker: store judgments, read back, compute verdicts", verdicts_at - rows_at),
        ("worker: store verdicts + progress, finalize (bootstrap CI)", completed - verdicts_at),
        ("completed -> seen by the poll", timed["wall1"] - completed),
    ]


def print_e2e(result: dict) -> None:
    print(f"(b) end to end: worker ready after {result['ready_s']:.0f} s")
    for index, timed in enumerate(result["rounds"]):
        calls, tokens = timed["db"][0], timed["db"][3]
        print(f"    set {index}: {calls} judgments, {tokens} prompt tokens; POST -> completed "
              f"{timed['elapsed']:.2f} s = {calls / timed['elapsed']:.2f} judgments/s; {cpu_text(timed['cpu'])}")
        for name, seconds in breakdown(timed):
            print(f"      {name:<62} {seconds * 1000:7.0f} ms ({seconds / timed['elapsed']:5.1%})")


def compare(bare: list[dict], e2e: dict) -> float:
    """Print rates, ratios and sanity checks; returns the headline ratio."""
    def rate(runs: list[dict], key: str) -> float:
        return sum(r["calls"] for r in runs) / sum(r[key] for r in runs)

    b_runs = [dict(t, calls=t["db"][0]) for t in e2e["rounds"]]
    a_runs = [r for phase in bare for r in phase["rounds"]]
    rate_a, rate_b = rate(a_runs, "bare_s"), rate(b_runs, "elapsed")
    for phase in bare:
        print(f"ratio (b)/(a {phase['label']}) = {rate_b / rate(phase['rounds'], 'bare_s'):.3f}")
    for index, timed in enumerate(b_runs):
        same = [phase["rounds"][index] for phase in bare]
        print(f"set {index}: ratio (b)/(a) = {timed['calls'] / timed['elapsed'] / rate(same, 'bare_s'):.3f}")
    engine_b = sum((t["db"][1] or 0) / 1000 for t in b_runs) / len(b_runs)
    engine_a = sum(r["bare_s"] for r in a_runs) / len(a_runs)
    elapsed_b = sum(t["elapsed"] for t in b_runs) / len(b_runs)
    print(f"per set: engine time in the worker {engine_b:.2f} s vs bare {engine_a:.2f} s "
          f"({engine_b / engine_a:.2f}x); non-engine time end to end {elapsed_b - engine_b:.2f} s")
    print(f"(b)'s own engine time / its wall time = {engine_b / elapsed_b:.3f}: the ratio if the worker's engine "
          f"ran exactly as fast as the bare one (insensitive to load drift between phases)")
    checks = []
    for index, timed in enumerate(b_runs):
        a = bare[0]["rounds"][index]
        same_prompts = sorted(h for _, h in timed["judgments"].values()) == a["prompt_hashes"]
        agree = sum(a["labels"].get(k) == v for k, (v, _) in timed["judgments"].items())
        checks.append(f"set {index}: same prompts {same_prompts}, same verdict {agree}/{len(timed['judgments'])}")
    print("(a) vs (b): " + "; ".join(checks))
    ratio = rate_b / rate_a
    print(f"(a) bare generate {rate_a:.2f} judgments/s (all phases and sets); (b) end to end {rate_b:.2f} judgments/s")
    print(f"RATIO (b)/(a) = {ratio:.3f}  target >= {TARGET:.2f}: {'met' if ratio >= TARGET else 'MISSED'}")
    return ratio


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=32, help="items per set (judgments = 2N per set)")
    parser.add_argument("--rounds", type=int, default=1, help="disjoint item sets, each timed on both sides")
    parser.add_argument("--backend-generate", action="store_true", help="in (a), also time the worker's "
                        "whole VLLMBackend.generate (render + generate + logprobs) on each set")
    parser.add_argument("--poll", type=float, default=0.2, help="seconds between GETs in (b)")
    parser.add_argument("--no-after", action="store_true", help="skip the second (a) phase")
    parser.add_argument("--keep-db", action="store_true", help="keep the bench database at the end")
    parser.add_argument("--model-cache-dir", help="JUDGESERVE_MODEL_CACHE_DIR for every engine "
                        "(default: the service's, ~/.cache/judgeserve/models)")
    parser.add_argument("--kv-cache-gib", type=int, help="set VLLM_CPU_KVCACHE_SPACE for every engine "
                        "(default: unset, i.e. the embedded judge's gpu_memory_utilization x RAM)")
    parser.add_argument("--bare-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.n < 1 or args.rounds < 1 or args.n * args.rounds > 98:
        parser.error("need N >= 1, rounds >= 1 and N x rounds <= 98 (the last two items are the warm-up)")
    return args


def bare_phase(harness, when: str, args: argparse.Namespace, log_dir: Path) -> dict:
    label = f"bare-{when}"
    run = functools.partial(run_bare, harness, label, args, log_dir)
    return retry_on_memory(harness, f"(a) {when}", log_dir / f"{label}.log", run) | {"label": when}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.bare_child:
        bare_child(args.bare_child, args.n, args.rounds, args.backend_generate)
        return 0
    from bench import harness

    if args.kv_cache_gib:
        os.environ["VLLM_CPU_KVCACHE_SPACE"] = str(args.kv_cache_gib)  # inherited by every engine
    header(harness, args)
    log_dir = Path(tempfile.mkdtemp(prefix="bench-overhead-"))
    print(f"logs: {log_dir}", flush=True)
    try:
        bare = [bare_phase(harness, "before", args, log_dir)]
        print_bare("before (b)", bare[0])
        e2e = retry_on_memory(harness, "(b)", log_dir / f"worker-{JUDGE}.log",
                              functools.partial(run_e2e, harness, args, log_dir))
        print_e2e(e2e)
        if not args.no_after:
            bare.append(bare_phase(harness, "after", args, log_dir))
            print_bare("after (b)", bare[1])
        ratio = compare(bare, e2e)
    finally:
        harness.flush_redis(REDIS_URL)
        if not args.keep_db:
            harness.drop_database(DB_NAME)
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":  # vLLM spawns processes: the guard is required
    sys.exit(main())
