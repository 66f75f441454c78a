"""Gateway memory while it accepts a large NDJSON upload (issue 5): peak RSS vs upload size.

One command: ``.venv/bin/python bench/upload.py`` (``--mb 100`` by default). It recreates the
Postgres database ``judgeserve_bench_upload``, starts the real gateway (uvicorn, production mode:
Postgres + Redis), writes an NDJSON file of pairwise items (~1 KB each) to a temporary folder,
streams it to ``POST /v1/evaluations`` (Content-Type application/x-ndjson) and samples the
gateway's RSS while it parses, validates and stores the items. It prints the idle RSS, the peak
(VmHWM) and the growth, and exits 1 when the growth exceeds ``--max-growth-mb`` (default 256 MB):
the upload must be handled in bounded memory, not loaded whole. Not a test: `make test` never runs it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

import harness

DATABASE = "judgeserve_bench_upload"


def write_upload(path: Path, megabytes: int) -> int:
    """An NDJSON file of about ``megabytes`` MB; returns its number of items."""
    filler = "lorem ipsum dolor sit amet " * 16
    count, target = 0, megabytes * 1024 * 1024
    with path.open("w", encoding="utf-8") as handle:
        while handle.tell() < target:
            item = {"id": f"item-{count}", "prompt": f"question {count}: {filler[:200]}",
                    "response_a": f"answer A {count} {filler}", "response_b": f"answer B {count} {filler[:300]}"}
            handle.write(json.dumps(item) + "\n")
            count += 1
    return count


def stream(path: Path, chunk: int = 1 << 20):
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            yield block


def sample_peak(child, stop: threading.Event, peak: list[float]) -> None:
    """Largest resident size seen while the upload runs (VmRSS every 20 ms; VmHWM would include start-up)."""
    while not stop.is_set():
        peak[0] = max(peak[0], child.rss_mb())
        time.sleep(0.02)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=100, help="upload size in MB (default 100)")
    parser.add_argument("--max-growth-mb", type=float, default=256.0)
    args = parser.parse_args()
    print("\n".join(harness.machine_info()))
    db_url = harness.recreate_database(DATABASE)
    harness.flush_redis()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        upload = folder / "items.ndjson"
        n_items = write_upload(upload, args.mb)
        size_mb = upload.stat().st_size / 2**20
        judges = harness.write_judges_file(folder, [{"name": "scripted", "backend": "scripted", "model": "s"}])
        env = harness.service_env(db_url, judges)
        with harness.gateway(env, folder) as gw:
            key = create_key(db_url)
            idle = gw.child.rss_mb()
            stop, peak_seen = threading.Event(), [idle]
            sampler = threading.Thread(target=sample_peak, args=(gw.child, stop, peak_seen), daemon=True)
            sampler.start()
            started = time.perf_counter()
            response = httpx.post(f"{gw.base_url}/v1/evaluations", content=stream(upload), timeout=1800,
                                  params={"protocol": "pairwise", "judge": "scripted", "model": "bench"},
                                  headers={"Content-Type": "application/x-ndjson", "Authorization": f"Bearer {key}"})
            elapsed = time.perf_counter() - started
            stop.set()
            sampler.join()
            peak = peak_seen[0]
    harness.drop_database(DATABASE)
    if response.status_code != 202:
        print(f"upload answered {response.status_code}: {response.text[:2000]}")
        return 1
    total = response.json()["progress"]["total"]
    growth = peak - idle
    print(f"upload: {size_mb:.1f} MB, {n_items} items (stored: {total}), accepted in {elapsed:.1f} s "
          f"({size_mb / elapsed:.1f} MB/s)")
    print(f"gateway RSS: idle {idle:.0f} MB, peak {peak:.0f} MB, growth {growth:.0f} MB "
          f"({growth / size_mb:.2f} MB per MB uploaded); limit {args.max_growth_mb:.0f} MB: "
          f"{harness.verdict(growth <= args.max_growth_mb and total == n_items)}")
    return 0 if growth <= args.max_growth_mb and total == n_items else 1


def create_key(db_url: str) -> str:
    from service.db.engine import session_scope
    from service.projects.service import create_key as make_key

    with session_scope(db_url) as session:
        return make_key(session, "bench").key


if __name__ == "__main__":
    sys.exit(main())
