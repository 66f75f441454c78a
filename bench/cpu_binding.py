"""Every core for an in-process engine: bare ``LLM.generate`` with vLLM's default CPU binding vs the service's.

    .venv/bin/python bench/cpu_binding.py                          # N=32 items -> 64 judgments per run; 4 runs
    .venv/bin/python bench/cpu_binding.py --verdict-mode rationale --n 16   # with 256 reasoning tokens

vLLM's CPU platform binds the model's OpenMP threads to the cores of a NUMA node minus one core per
engine that it reserves for an API front end (``VLLM_CPU_NUM_OF_RESERVED_CPU``). An in-process engine
(the embedded judge, a judge worker, the demo) has no such front end, so since issue 17 the service starts
it with ``VLLM_CPU_NUM_OF_RESERVED_CPU=0`` (``workers/backends/cpu_binding.py``).

Each run is bench/overhead.py's side (a) in a fresh child process: the worker's own ``VLLMBackend`` with
the embedded judge's settings, the service's prompts for N LLMBar Natural pairs in both orders, a warm-up on
two other items, the prefix cache reset, then one timed ``llm.generate`` over all 2N prompts. Two bindings:

- ``vllm-default``: the child gets ``VLLM_CPU_OMP_THREADS_BIND=auto`` (vLLM's own default, set explicitly,
  so the service leaves the binding to vLLM): one core reserved;
- ``service``: no binding variable set, so the service's default applies: every core.

The runs alternate ``vllm-default, service, service, vllm-default`` (``--pairs`` such blocks), so drift on
the shared machine hits both alike. Each run prints what vLLM logged about its binding and the CPU used.
Target (logprobs mode, the service's default): judgments/s(service) / judgments/s(vllm-default) >= 1.5 over
all runs; the rationale mode (decode-heavy) is measured the same way. Exit 1 when a measured mode misses it.
"""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.overhead_bare import run_bare  # noqa: E402
from bench.vllm_common import BINDING_VARIABLES, binding_text, child_env, cpu_text, retry_on_memory  # noqa: E402

TARGET = 1.5
BINDINGS = {
    "vllm-default": {"VLLM_CPU_OMP_THREADS_BIND": "auto"},
    "service": {},
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=32, help="items per run (judgments = 2N)")
    parser.add_argument("--pairs", type=int, default=1,
                        help="blocks of 'vllm-default, service, service, vllm-default' runs")
    parser.add_argument("--verdict-mode", choices=("logprobs", "rationale", "both"), default="logprobs",
                        help="logprobs: one LLM.generate of constrained one-token verdicts; rationale: the "
                             "backend's own generate with 256 reasoning tokens, then the verdict; both: each")
    parser.add_argument("--model-cache-dir", help="JUDGESERVE_MODEL_CACHE_DIR of the engines")
    args = parser.parse_args(argv)
    if not 1 <= args.n <= 98 or args.pairs < 1:
        parser.error("need 1 <= N <= 98 (the last two items are the warm-up) and --pairs >= 1")
    # bench/overhead.py's child reads these
    args.rounds, args.backend_generate = 1, False
    return args


def binding_env(name: str, cache_dir: str | None) -> dict[str, str]:
    """The child's environment: no binding variable of ours, then the binding under test."""
    env = {k: v for k, v in child_env(cache_dir).items() if k not in BINDING_VARIABLES}
    return env | BINDINGS[name]


def run_once(harness, name: str, index: int, args: argparse.Namespace, log_dir: Path) -> dict:
    """One bare run in a fresh child with binding ``name``; its result plus vLLM's binding log lines."""
    label = f"{args.verdict_mode}-{index:02d}-{name}"
    run = functools.partial(run_bare, harness, label, args, log_dir, binding_env(name, args.model_cache_dir))
    result = retry_on_memory(harness, label, log_dir / f"{label}.log", run)
    timed = result["rounds"][0]
    timed["binding"] = binding_text((log_dir / f"{label}.log").read_text(errors="replace"))
    timed["name"] = name
    what = "llm.generate" if args.verdict_mode == "logprobs" else "backend.generate (reasoning, then verdicts)"
    print(f"  run {index} {name:<12}: {timed['calls']} judgments, {timed['prompt_tokens']} prompt tokens; bare "
          f"{what} {timed['bare_s']:.2f} s = {timed['calls'] / timed['bare_s']:.2f} judgments/s; "
          f"{cpu_text(timed['cpu'])}\n      vLLM: {timed['binding']}", flush=True)
    return timed


def report(runs: list[dict]) -> float:
    """Rates per binding, agreement of verdicts, and the ratio; returns the ratio."""
    rates = {}
    for name in BINDINGS:
        mine = [r for r in runs if r["name"] == name]
        rates[name] = sum(r["calls"] for r in mine) / sum(r["bare_s"] for r in mine)
        each = ", ".join(f"{r['calls'] / r['bare_s']:.2f}" for r in mine)
        print(f"{name:<12}: {rates[name]:.2f} judgments/s over {len(mine)} runs ({each})")
    first = {name: next(r for r in runs if r["name"] == name) for name in BINDINGS}
    labels = [first[name]["labels"] for name in BINDINGS]
    same = sum(labels[0][key] == labels[1].get(key) for key in labels[0])
    print(f"same prompts: {first['vllm-default']['prompt_hashes'] == first['service']['prompt_hashes']}; "
          f"same verdict text: {same}/{len(labels[0])}")
    ratio = rates["service"] / rates["vllm-default"]
    print(f"RATIO service / vllm-default = {ratio:.2f}  target >= {TARGET}: {'met' if ratio >= TARGET else 'MISSED'}")
    return ratio


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from bench import harness

    print("== bench/cpu_binding: bare llm.generate, vLLM's default CPU binding vs every core ==")
    for line in harness.machine_info():
        print(line)
    print(f"N = {args.n} LLMBar Natural items (0..{args.n - 1}) x 2 orders = {2 * args.n} judgments per run; "
          f"embedded judge's engine settings; runs: {args.pairs} x (vllm-default, service, service, vllm-default)")
    log_dir = Path(tempfile.mkdtemp(prefix="bench-binding-"))
    print(f"logs: {log_dir}", flush=True)
    order = ["vllm-default", "service", "service", "vllm-default"] * args.pairs
    modes = ("logprobs", "rationale") if args.verdict_mode == "both" else (args.verdict_mode,)
    ratios = {}
    for mode in modes:
        print(f"\n-- verdict_mode {mode}", flush=True)
        mode_args = argparse.Namespace(**(vars(args) | {"verdict_mode": mode}))
        runs = [run_once(harness, name, index, mode_args, log_dir) for index, name in enumerate(order)]
        ratios[mode] = report(runs)
    if len(modes) > 1:
        print("; ".join(f"{mode}: {ratio:.2f}x" for mode, ratio in ratios.items()) + f"  (target >= {TARGET})")
    return 0 if all(ratio >= TARGET for ratio in ratios.values()) else 1


if __name__ == "__main__":  # vLLM spawns processes: the guard is required
    sys.exit(main())
