"""Rejecting maximal bad bodies (issue 18, part 3): gateway memory, answer size, and /healthz meanwhile.

One command: ``.venv/bin/python bench/bad_body.py``. It recreates the Postgres database
``judgeserve_bench_bad_body``, and for each bad body starts a fresh real gateway (uvicorn,
production mode, the default limits: ``max_body_bytes`` = 32 MiB, reviews/webhooks 64 KiB), sends
the body once, samples the gateway's RSS every 5 ms (psutil) and calls ``/healthz`` back to back
from another thread while the body is sent and rejected. Bodies are just under the limit:

- ``eval-non-objects``: ``items: [1, 1, ...]`` (the probe's body, 16 million items);
- ``eval-empty-lists`` / ``eval-empty-objects``: ``items: [[], [], ...]`` / ``[{}, {}, ...]``;
- ``eval-good-then-bad``: good items, and a last one that is not an object (all are read);
- ``eval-big-options``: ``options: {"a": [[], [], ...]}`` (a field built whole, up to 100,000 values);
- ``eval-deep``: items nested 100 deep (the nesting check); ``eval-wide-64``: blocks nested exactly 64 deep
  (the nesting check's slowest case), then one too deep;
- ``suite-non-objects`` / ``suite-good-then-bad``: the same for ``POST /v1/suites``;
- ``webhook-bad-events``: a 64 KiB webhook body of wrong event types.

Targets (exit 1 when one is missed): RSS growth under 4 x the body limit, a 422 under 100 kB, at
least one /healthz answered while the body was being processed, and the longest /healthz under
``--max-healthz-ms`` (default 500). Not a test: `make test` never runs it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

import harness

DATABASE = "judgeserve_bench_bad_body"
MIB = 1024 * 1024
BODY_LIMIT = 32 * MIB  # the default max_body_bytes
SMALL_LIMIT = 64 * 1024  # reviews, webhooks, comparisons
GOOD = json.dumps({"id": "x", "prompt": "q", "response_a": "a", "response_b": "b"}).encode()
HEADER = b'{"protocol": "pairwise", "judge": "scripted", "model": "m", "items": ['


def repeated(unit: bytes, size: int, head: bytes = HEADER, last: bytes = b"1", tail: bytes = b"]}") -> bytes:
    """``head`` + as many ``unit,`` as fit in ``size`` + ``last`` + ``tail``."""
    room = size - len(head) - len(last) - len(tail) - 64
    return head + (unit + b",") * (room // (len(unit) + 1)) + last + tail


def bodies(size: int = BODY_LIMIT) -> dict[str, tuple[str, bytes]]:
    """Name -> (path, body); the large ones of ``size`` bytes."""
    suite_head = b'{"name": "s", "items": ['
    suite_item = b'{"id": "ID", "prompt": "q"}'
    good_items = b",".join(suite_item.replace(b"ID", str(i).encode()) for i in range(size // 30))
    suite_good = suite_head + good_items[:size - 200].rsplit(b",", 1)[0] + b", 1]}"
    deep_item = b"[" * 100 + b"1" + b"]" * 100
    wide = b"[" * 63 + b"1" + b"]" * 63
    events = b'{"url": "https://example.com/h", "event_types": ['
    return {
        "eval-non-objects": ("/v1/evaluations", repeated(b"1", size)),
        "eval-empty-lists": ("/v1/evaluations", repeated(b"[]", size)),
        "eval-empty-objects": ("/v1/evaluations", repeated(b"{}", size)),
        "eval-good-then-bad": ("/v1/evaluations", repeated(GOOD, size)),
        "eval-big-options": ("/v1/evaluations", repeated(b"[]", size, head=HEADER[:-10] + b'"options": {"a": [',
                                                          last=b"[]", tail=b']}, "items": [{}]}')),
        "eval-deep": ("/v1/evaluations", repeated(deep_item, size)),
        "eval-wide-64": ("/v1/evaluations", repeated(wide, size, last=b"[" + wide + b"]")),
        "suite-non-objects": ("/v1/suites", repeated(b"1", size, head=suite_head)),
        "suite-good-then-bad": ("/v1/suites", suite_good),
        "webhook-bad-events": ("/v1/webhooks", repeated(b'"nope"', SMALL_LIMIT, head=events, last=b'"nope"')),
    }


@dataclass
class Run:
    """What one bad body cost."""

    name: str
    size: int
    status: int = 0
    answer_bytes: int = 0
    error_count: int | None = None
    seconds: float = 0.0
    idle_mb: float = 0.0
    peak_mb: float = 0.0
    healthz_ms: list[float] = field(default_factory=list)
    healthz_during: int = 0  # answered after the body was sent and before its answer came

    @property
    def growth_mb(self) -> float:
        return self.peak_mb - self.idle_mb


def sample_rss(process: psutil.Process, stop: threading.Event, peak: list[float]) -> None:
    while not stop.is_set():
        try:
            peak[0] = max(peak[0], process.memory_info().rss / MIB)
        except psutil.Error:
            return
        time.sleep(0.005)


def poll_healthz(base_url: str, stop: threading.Event, run: Run, sent: threading.Event,
                 answered: threading.Event) -> None:
    with httpx.Client(base_url=base_url, timeout=60) as client:
        while not stop.is_set():
            started = time.perf_counter()
            client.get("/healthz").raise_for_status()
            run.healthz_ms.append((time.perf_counter() - started) * 1000)
            if sent.is_set() and not answered.is_set():
                run.healthz_during += 1


def measure(name: str, path: str, body: bytes, env: dict[str, str], folder: Path) -> Run:
    """Start a gateway, send ``body`` once while sampling its RSS and calling /healthz; stop it."""
    run = Run(name, len(body))
    with harness.gateway(env, folder) as gw:
        process = psutil.Process(gw.child.pid)
        time.sleep(0.5)
        run.idle_mb = process.memory_info().rss / MIB
        stop, sent, answered, peak = threading.Event(), threading.Event(), threading.Event(), [run.idle_mb]
        threads = [threading.Thread(target=sample_rss, args=(process, stop, peak), daemon=True),
                   threading.Thread(target=poll_healthz, args=(gw.base_url, stop, run, sent, answered), daemon=True)]
        for thread in threads:
            thread.start()

        def chunks():
            for start in range(0, len(body), MIB):
                yield body[start:start + MIB]
            sent.set()

        started = time.perf_counter()
        with gw.client(timeout=300) as client:
            response = client.post(path, content=chunks(), headers={"Content-Type": "application/json",
                                                                    "Content-Length": str(len(body))})
        answered.set()
        run.seconds = time.perf_counter() - started
        time.sleep(0.2)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        run.peak_mb = peak[0]
        run.status, run.answer_bytes = response.status_code, len(response.content)
        if response.headers.get("content-type", "").startswith("application/problem+json"):
            run.error_count = response.json().get("error_count")
    return run


def report(runs: list[Run], max_healthz_ms: float) -> bool:
    """Print one line per body; whether every target was met."""
    print(f"\n{'body':<20} {'MB':>5} {'status':>6} {'answer':>8} {'errors':>7} {'time s':>7} {'RSS idle':>8} "
          f"{'peak':>6} {'growth':>7} {'x limit':>7} {'healthz max ms':>14} {'answered meanwhile':>18}  verdict")
    all_met = True
    for run in runs:
        ratio = run.growth_mb * MIB / BODY_LIMIT
        slowest = max(run.healthz_ms, default=float("inf"))
        busy = run.size > 16 * MIB  # a smaller body may be rejected before a /healthz could be sent meanwhile
        met = (run.status == 422 and ratio < 4 and run.answer_bytes < 100_000
               and (run.healthz_during >= 1 or not busy) and slowest < max_healthz_ms)
        all_met &= met
        print(f"{run.name:<20} {run.size / MIB:>5.2f} {run.status:>6} {run.answer_bytes:>8} {run.error_count!s:>7} "
              f"{run.seconds:>7.2f} {run.idle_mb:>8.0f} {run.peak_mb:>6.0f} {run.growth_mb:>7.0f} {ratio:>7.2f} "
              f"{slowest:>14.0f} {run.healthz_during:>18}  {harness.verdict(met)}")
    print(f"\ntargets: RSS growth < 4 x max_body_bytes ({4 * BODY_LIMIT // MIB} MiB; 'x limit' is growth / 32 MiB), "
          f"a 422 under 100 kB, >= 1 /healthz answered while a 32 MiB body was processed, the slowest /healthz "
          f"under {max_healthz_ms:.0f} ms")
    return all_met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="run only these bodies")
    parser.add_argument("--max-healthz-ms", type=float, default=500.0)
    parser.add_argument("--mb", type=float, default=BODY_LIMIT / MIB,
                        help="size of the large bodies in MiB (default: the 32 MiB limit; smaller ones let the code "
                             "before issue 18 be measured without running out of memory)")
    args = parser.parse_args()
    print("\n".join(harness.machine_info()))
    db_url = harness.recreate_database(DATABASE)
    runs = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            judges = harness.write_judges_file(folder, [{"name": "scripted", "backend": "scripted", "model": "s"}])
            env = harness.service_env(db_url, judges)
            for name, (path, body) in bodies(int(args.mb * MIB)).items():
                if args.only and name not in args.only:
                    continue
                runs.append(measure(name, path, body, env, folder))
                print(f"{name}: {runs[-1].status} in {runs[-1].seconds:.2f} s", flush=True)
    finally:
        harness.drop_database(DATABASE)
    return 0 if report(runs, args.max_healthz_ms) else 1


if __name__ == "__main__":
    sys.exit(main())
