"""bench/vs_vllm_serve.py, both sides: (a) a concurrent client of vLLM's OpenAI-compatible server, as
AlpacaEval-style scripts judge; (b) one evaluation through the real gateway and one worker.
"""

from __future__ import annotations

import asyncio
import json
import os
import time

from bench.vllm_common import cpu_groups, rationale_body, request_body, reset_prefix_cache

JUDGE = "embedded"


# ---------------------------------------------------------------- CPU of each process tree


def engine_core_pid(root: int) -> int | None:
    """The pid of the vLLM engine-core process (``VLLM::EngineCore``) below ``root``, if any."""
    from pathlib import Path

    parents, names = {}, {}
    for path in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = path.read_text()
        except OSError:
            continue
        pid = int(path.parent.name)
        names[pid], parents[pid] = text[text.index("(") + 1:text.rindex(")")], int(text.rsplit(")", 1)[1].split()[1])
    for pid, name in names.items():
        ancestor = parents.get(pid)
        while ancestor and ancestor != root:
            ancestor = parents.get(ancestor)
        if ancestor == root and "EngineCor" in name:
            return pid
    return None


def with_engine(procs: dict[str, int], name: str, root: int) -> dict[str, int]:
    """``procs`` plus ``name`` and, before it (so it is counted apart), its engine core when it has one."""
    core = engine_core_pid(root)
    return procs | ({f"{name} engine core": core} if core else {}) | {name: root}


def cpu_start(procs: dict[str, int]) -> tuple[float, float, dict[str, float]]:
    """A snapshot before a run: (wall clock, machine busy CPU s, {name: CPU s of its tree}).

    ``procs`` maps names to root pids, most specific first; ``client`` (this process, the last) gets
    what no other tree claims (this process is the parent of every child the bench starts)."""
    busy, groups = cpu_groups({name: [pid] for name, pid in procs.items()} | {"client": [os.getpid()]})
    return time.perf_counter(), busy, groups


def cpu_since(start: tuple[float, float, dict[str, float]], procs: dict[str, int]) -> dict[str, float]:
    """CPU seconds per tree and of other jobs since ``start``, plus the wall seconds."""
    wall0, busy0, groups0 = start
    busy, groups = cpu_groups({name: [pid] for name, pid in procs.items()} | {"client": [os.getpid()]})
    used = {name: max(0.0, groups[name] - groups0.get(name, 0.0)) for name in groups}
    used["other jobs"] = max(0.0, (busy - busy0) - sum(used.values()))
    used["wall"] = time.perf_counter() - wall0
    return used


# ---------------------------------------------------------------- (a) the concurrent client


async def _post(client, semaphore, url: str, body: dict) -> dict:
    async with semaphore:
        response = await client.post(url, json=body)
    response.raise_for_status()
    return response.json()


async def _judge(client, semaphore, url: str, model: str, request) -> dict:
    """One judgment: the constrained verdict (after the reasoning, in rationale mode)."""
    usage, messages, rationale = [0, 0], None, None
    if request.rationale_tokens:
        data = await _post(client, semaphore, url, rationale_body(model, request))
        rationale = data["choices"][0]["message"]["content"] or ""
        usage = [data["usage"]["prompt_tokens"], data["usage"]["completion_tokens"]]
        messages = [*request.messages, {"role": "assistant", "content": rationale},
                    {"role": "user", "content": request.verdict_followup}]
    data = await _post(client, semaphore, url, request_body(model, request, messages))
    return {"text": data["choices"][0]["message"]["content"], "rationale": rationale,
            "prompt_tokens": usage[0] + data["usage"]["prompt_tokens"],
            "completion_tokens": usage[1] + data["usage"]["completion_tokens"]}


async def _judge_all(base: str, model: str, requests: list, concurrency: int) -> tuple[float, list[dict]]:
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=httpx.Timeout(1800.0), limits=limits) as client:
        semaphore, url = asyncio.Semaphore(concurrency), f"{base}/v1/chat/completions"
        start = time.perf_counter()
        results = await asyncio.gather(*(_judge(client, semaphore, url, model, r) for r in requests))
        return time.perf_counter() - start, list(results)


def client_run(base: str, model: str, requests: list, concurrency: int) -> tuple[float, list[dict]]:
    """(a): every judgment at once, at most ``concurrency`` requests in flight: (seconds, results in order)."""
    return asyncio.run(_judge_all(base, model, requests, concurrency))


def timed_client_run(sync_client, base: str, model: str, requests: list, warm: list, concurrency: int,
                     procs: dict[str, int]) -> dict:
    """Reset the server's prefix cache, one untimed warm-up judgment, then one timed ``client_run``."""
    from bench.vllm_common import HITS, QUERIES, counters

    reset_prefix_cache(sync_client, base)
    client_run(base, model, warm[:1], 1)  # the shared system prompt cached, as in (b) after its warm-up
    before, cpu0 = counters(sync_client, base), cpu_start(procs)
    seconds, results = client_run(base, model, requests, concurrency)
    cpu = cpu_since(cpu0, procs)
    after = counters(sync_client, base)
    return {"side": "a", "concurrency": concurrency, "seconds": seconds, "results": results, "cpu": cpu,
            "tokens": after[QUERIES] - before[QUERIES], "hits": after[HITS] - before[HITS]}


# ---------------------------------------------------------------- (b) the service end to end


def evaluation_body(items: list[dict], options: dict) -> bytes:
    """The evaluation the user POSTs: one chunk, no judge-call cache, the mode's options."""
    body = {"protocol": "pairwise", "judge": JUDGE, "model": "llmbar-output-1", "items": items,
            "options": {"chunk_size": max(1, len(items)), "cache": False, **options}}
    return json.dumps(body).encode()


def evaluate(harness, client, items: list[dict], options: dict, watch, poll: float) -> tuple[float, dict]:
    """POST one evaluation, poll until it ends: (seconds POST -> completed seen, final body)."""
    content = evaluation_body(items, options)
    start = time.perf_counter()
    created, _ = harness.post_evaluation(client, content)
    final = harness.wait_terminal(client, created["id"], timeout=3600, interval=poll, watch=watch)
    seconds = time.perf_counter() - start
    if final["status"] != "completed" or final["progress"]["failed"]:
        raise RuntimeError(f"evaluation {created['id']} ended {final['status']}: {final}")
    return seconds, final


def fetch_judgments(client, evaluation_id: str) -> dict[str, dict]:
    """{"item/order": stored judgment} from the verdicts API."""
    out, cursor = {}, None
    while True:
        params = {"limit": 100} | ({"cursor": cursor} if cursor else {})
        page = client.get(f"/v1/evaluations/{evaluation_id}/verdicts", params=params).raise_for_status().json()
        for verdict in page["data"]:
            for judgment in verdict["judgments"]:
                out[f"{verdict['item_id']}/{judgment['order']}"] = judgment
        cursor = page.get("next_cursor")
        if not cursor:
            return out


def service_run(harness, env: dict, log_dir, gw, client, items: list[dict], warm: list[dict], options: dict,
                procs: dict[str, int], poll: float) -> dict:
    """(b): a fresh worker (cold prefix cache), a warm-up evaluation, then the timed evaluation."""
    with harness.worker(env, log_dir, JUDGE) as worker:
        ready_s = harness.wait_judge_available(client, JUDGE, 900, worker)
        evaluate(harness, client, warm, options, worker, poll)
        procs = with_engine(procs, "worker", worker.pid)
        cpu0 = cpu_start(procs)
        seconds, final = evaluate(harness, client, items, options, worker, poll)
        cpu = cpu_since(cpu0, procs)
        log_text = worker.log_path.read_text(errors="replace")
    return {"side": "b", "seconds": seconds, "cpu": cpu, "ready_s": ready_s, "log": log_text,
            "judgments": fetch_judgments(client, final["id"])}
