"""Batching: the worker's chunked path vs one HTTP request per judgment, on one OpenAI-compatible server.

    .venv/bin/python bench/batching.py            # N=16 items → 32 judgments per mode, ~20 min on 2 cores

Starts vLLM's OpenAI-compatible server on the bundled judge with the embedded judge's engine
settings (``python -m vllm.entrypoints.openai.api_server --model <bundled dir> --dtype float32
--gpu-memory-utilization <the embedded judge's share> --enforce-eager --max-model-len 2048
--seed 0``; waits up to 5 minutes for ``/v1/models``), then judges the same N LLMBar Natural pairs in both orders (the prompts
``PairwiseProtocol.plan_calls`` renders) two ways:

(i)  sequential: one chat-completions request per judgment, sent one after another with httpx
     (what a script-based judge does by default): constrained ``structured_outputs.choice``
     ["1","2","tie"], ``max_tokens`` 5, ``logprobs`` with ``top_logprobs`` 20;
(ii) chunked: ``workers.backends.openai_http.OpenAIBackend(...).generate(requests)`` with all
     2N requests at once (``max_concurrency`` 32), as a judge worker sends a chunk.

Both request bodies are identical. This is done for both of the service's verdict modes, one after
the other on the one server (``--verdict-mode`` picks one): ``logprobs`` (the default mode, above)
and ``rationale`` (``rationale_tokens`` 256 by default), where every judgment is two requests, the
judge's free-text reasoning (up to ``rationale_tokens``), then the constrained verdict after it, in
(i) one judgment after another and in (ii) all at once, as ``OpenAIBackend`` sends them. After a warm-up on two other items, the runs go i, ii, ii, i
(so drift affects both alike), each after resetting the server's prefix cache (dev endpoint
``/reset_prefix_cache``, enabled with ``VLLM_SERVER_DEV_MODE=1``) so no run reuses another's
cached prompts. Target: judgments/s (ii) / (i) >= 3 in each mode; exits 1 when one is missed. The
server is always stopped at the end.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.vllm_common import (GENERATED, HITS, LABELS, MAX_TOKENS, QUERIES, TOP_LOGPROBS,  # noqa: E402
                               bundled_model_dir, counters, cpu_share, cpu_snapshot, cpu_text, load_items,
                               plan_requests, rationale_body, request_body, reset_prefix_cache, retry_on_memory,
                               server_flags, start_server, stop_server, warmup_items)

TARGET = 3.0


# ---------------------------------------------------------------- the two ways to judge


def chat(client, base: str, body: dict) -> str:
    """One chat-completions request; the answer's text."""
    response = client.post(f"{base}/v1/chat/completions", json=body)
    response.raise_for_status()
    return response.json()["choices"][0]["message"]["content"]


def sequential(client, base: str, model: str, requests: list) -> tuple[float, list[str]]:
    """(i) one judgment after another (one request each; two with a rationale): (seconds, verdict texts)."""
    texts = []
    start = time.perf_counter()
    for request in requests:
        messages = None
        if request.rationale_tokens:
            rationale = chat(client, base, rationale_body(model, request))
            messages = [*request.messages, {"role": "assistant", "content": rationale},
                        {"role": "user", "content": request.verdict_followup}]
        texts.append(chat(client, base, request_body(model, request, messages)))
    return time.perf_counter() - start, texts


def chunked(backend, requests: list) -> tuple[float, list[str]]:
    """(ii) the worker's path: all requests in one ``OpenAIBackend.generate``: (seconds, texts)."""
    start = time.perf_counter()
    outputs = backend.generate(requests)
    seconds = time.perf_counter() - start
    errors = [o.error for o in outputs if o.error]
    if errors:
        raise RuntimeError(f"{len(errors)} chunked calls failed, e.g. {errors[0]}")
    return seconds, [o.text for o in outputs]


def run_rounds(client, backend, base: str, model: str, requests: list, order: str, server_pid: int,
               options: dict) -> dict:
    """Warm up both ways on other items, then the timed runs in ``order`` (e.g. 'i,ii,ii,i')."""
    warm = [r for _, _, r in plan_requests(warmup_items(), **options)]
    sequential(client, base, model, warm)
    chunked(backend, warm)
    runs = {"i": [], "ii": []}
    texts = {}
    for mode in order.split(","):
        reset_prefix_cache(client, base)
        before, cpu0 = counters(client, base), cpu_snapshot([server_pid, os.getpid()])
        if mode == "i":
            seconds, texts[mode] = sequential(client, base, model, requests)
        else:
            seconds, texts[mode] = chunked(backend, requests)
        cpu = cpu_share(cpu0, cpu_snapshot([server_pid, os.getpid()]), seconds)
        after = counters(client, base)
        tokens, hits = after[QUERIES] - before[QUERIES], after[HITS] - before[HITS]
        generated = after[GENERATED] - before[GENERATED]
        runs[mode].append({"seconds": seconds, "tokens": tokens, "hits": hits, "generated": generated})
        print(f"  run {mode:<2}: {seconds:6.2f} s = {len(requests) / seconds:5.2f} judgments/s; {tokens:.0f} prompt "
              f"tokens, {hits:.0f} from the prefix cache; {(tokens - hits) / seconds:.0f} prefilled tokens/s; "
              f"{generated:.0f} generated tokens; "
              f"{cpu_text(cpu)}", flush=True)
    agree = sum(a == b for a, b in zip(texts["i"], texts["ii"]))
    return {"runs": runs, "agree": agree, "probe": probe(client, backend, base, model, len(requests))}


def probe(client, backend, base: str, model: str, count: int) -> dict[str, float]:
    """Fixed cost per call: ``count`` calls with a ~10-token prompt, both ways (seconds per call)."""
    from service.core.judging import JudgeRequest

    messages = ({"role": "user", "content": 'Answer "1", "2" or "tie".'},)
    requests = [JudgeRequest(messages=messages, choices=tuple(LABELS), seed=i) for i in range(count)]
    sequential(client, base, model, requests[:2])  # the prompt is now in the prefix cache for both
    return {"i": sequential(client, base, model, requests)[0] / count,
            "ii": chunked(backend, requests)[0] / count}


# ---------------------------------------------------------------- report and main


def mode_text(options: dict) -> str:
    """What one judgment is in this verdict mode."""
    if not options:
        return (f"one request per judgment, the constrained verdict: max_tokens {MAX_TOKENS}, logprobs top_logprobs "
                f"{TOP_LOGPROBS}, structured_outputs choice {LABELS}")
    return (f"two requests per judgment, the reasoning (max_tokens = rationale_tokens {options['rationale_tokens']}), "
            f"then the constrained verdict with the reasoning in the conversation")


def header(harness, n: int, model_dir: Path, order: str) -> None:
    import vllm

    print("== bench/batching: worker's chunked path vs one HTTP request per judgment (same server) ==")
    for line in harness.machine_info():
        if not line.startswith("PostgreSQL"):
            print(line)
    print(f"vLLM {vllm.__version__}; server: python -m vllm.entrypoints.openai.api_server --model {model_dir} "
          f"{' '.join(server_flags())} (the embedded judge's engine settings; prefix caching on, the default)")
    kv = os.environ.get("VLLM_CPU_KVCACHE_SPACE")
    flags = server_flags()
    own = (f"--kv-cache-memory-bytes {flags[flags.index('--kv-cache-memory-bytes') + 1]}"
           if "--kv-cache-memory-bytes" in flags else "the --gpu-memory-utilization share of RAM")
    print(f"KV cache: {f'VLLM_CPU_KVCACHE_SPACE={kv} GiB' if kv else own}")
    print(f"N = {n} items (LLMBar Natural 0..{n - 1}) x 2 orders = {2 * n} judgments; warm-up items "
          f"{[i['id'] for i in warmup_items()]}; runs {order}, prefix cache reset before each")
    print("requests: chat completions, temperature 0, per-call seed, as OpenAIBackend sends them; (ii) max_concurrency "
          "32", flush=True)


def report(result: dict, calls: int, prefill_bound: bool) -> float:
    """Aggregate rate per mode (all calls / all seconds) and the ratio."""
    runs = result["runs"]
    seconds = {m: sum(r["seconds"] for r in rs) for m, rs in runs.items()}
    rate = {m: calls * len(runs[m]) / seconds[m] for m in runs}
    for mode, name in (("i", "sequential, one judgment after another"), ("ii", "chunked OpenAIBackend.generate")):
        per_run = ", ".join(f"{calls / r['seconds']:.2f}" for r in runs[mode])
        prefilled = sum(r["tokens"] - r["hits"] for r in runs[mode])
        hit_share = sum(r["hits"] for r in runs[mode]) / max(1.0, sum(r["tokens"] for r in runs[mode]))
        print(f"({mode}) {name}: {rate[mode]:.2f} judgments/s (runs: {per_run}); "
              f"{seconds[mode] / len(runs[mode]) / calls * 1000:.0f} ms per judgment; prefix-cache hits "
              f"{hit_share:.0%} of prompt tokens; {prefilled / seconds[mode]:.0f} prefilled tokens/s; "
              f"{sum(r['generated'] for r in runs[mode]) / seconds[mode]:.1f} generated tokens/s")
    fixed, per_call_i = result["probe"], 1 / rate["i"]
    rest = "prefill of its prompt" if prefill_bound else "prefill, the reasoning's decode steps and the verdict"
    print(f"fixed cost per call (~10-token prompt, {calls} calls): (i) {fixed['i'] * 1000:.0f} ms, "
          f"(ii) {fixed['ii'] * 1000:.0f} ms; the rest of a judgment's time is {rest}")
    if prefill_bound and per_call_i > fixed["i"]:
        print(f"upper bound on (ii)/(i) here, even if chunking removed ALL of (i)'s fixed cost per call: "
              f"{per_call_i / (per_call_i - fixed['i']):.2f}")
    ratio = rate["ii"] / rate["i"]
    print(f"same verdict text in (i) and (ii): {result['agree']}/{calls}")
    print(f"RATIO (ii)/(i) = {ratio:.2f}  target >= {TARGET:.1f}: {'met' if ratio >= TARGET else 'MISSED'}")
    return ratio


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=16, help="items (judgments = 2N per mode); at most 98")
    parser.add_argument("--order", default="i,ii,ii,i", help="timed runs, comma-separated i/ii")
    parser.add_argument("--concurrency", type=int, default=32, help="max_concurrency of OpenAIBackend")
    parser.add_argument("--verdict-mode", choices=("both", "logprobs", "rationale"), default="both",
                        help="the pairwise verdict_mode(s) judged, one after the other on the one server "
                             "(default: both; logprobs is the service's default)")
    parser.add_argument("--rationale-tokens", type=int, default=256,
                        help="rationale_tokens in rationale mode (default: 256, the service's default)")
    parser.add_argument("--kv-cache-gib", type=int, help="set VLLM_CPU_KVCACHE_SPACE for the server "
                        "(default: unset, i.e. the --gpu-memory-utilization share of RAM)")
    parser.add_argument("--model-cache-dir", help="where the converted bundled model is (default: the "
                        "service's, ~/.cache/judgeserve/models)")
    args = parser.parse_args(argv)
    modes = args.order.split(",")
    if not 1 <= args.n <= 98 or not {"i", "ii"} <= set(modes) or not set(modes) <= {"i", "ii"}:
        parser.error("--n must be 1..98 and --order must use both i and ii (and nothing else)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import httpx

    from bench import harness
    from service.config import JudgeConfig
    from workers.backends.openai_http import OpenAIBackend

    if args.kv_cache_gib:
        os.environ["VLLM_CPU_KVCACHE_SPACE"] = str(args.kv_cache_gib)  # inherited by the server
    model_dir = bundled_model_dir(args.model_cache_dir)
    modes = ["logprobs", "rationale"] if args.verdict_mode == "both" else [args.verdict_mode]
    header(harness, args.n, model_dir, args.order)
    log_dir = Path(tempfile.mkdtemp(prefix="bench-batching-"))
    start = functools.partial(start_server, harness, model_dir, log_dir)
    child, base, model, ready_s = retry_on_memory(harness, "server", log_dir / "vllm-server.log", start)
    ratios = {}
    try:
        print(f"server ready after {ready_s:.0f} s at {base} (model {model}); log {child.log_path}", flush=True)
        judge = JudgeConfig(name="b", backend="openai", base_url=f"{base}/v1", model=model,
                            max_concurrency=args.concurrency)
        backend = OpenAIBackend(judge)
        try:
            with httpx.Client(timeout=120) as client:
                for mode in modes:
                    options = {} if mode == "logprobs" else {"verdict_mode": mode, "rationale_tokens": args.rationale_tokens}
                    print(f"\n-- verdict_mode {mode}: {mode_text(options)}", flush=True)
                    requests = [r for _, _, r in plan_requests(load_items(0, args.n), **options)]
                    result = run_rounds(client, backend, base, model, requests, args.order, child.pid, options)
                    ratios[mode] = report(result, len(requests), prefill_bound=not options)
        finally:
            backend.close()
    finally:
        stop_server(child)
    print("\n" + "; ".join(f"{mode}: {ratio:.2f}x ({'met' if ratio >= TARGET else 'MISSED'})"
                           for mode, ratio in ratios.items()) + f"  (target >= {TARGET:.1f}x in each mode)")
    return 0 if all(ratio >= TARGET for ratio in ratios.values()) else 1


if __name__ == "__main__":  # vLLM spawns processes: the guard is required
    sys.exit(main())
