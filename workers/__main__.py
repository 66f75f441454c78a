"""Start a judge worker: ``python -m workers --judge NAME`` (same as ``judgeserve worker``)."""

from __future__ import annotations

import argparse
import sys


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options of a judge worker."""
    parser = argparse.ArgumentParser(prog="python -m workers", description=__doc__)
    parser.add_argument("--judge", required=True, help="name of the judge this worker serves")
    parser.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    parser.add_argument("--name", default=None, help="RQ worker name (default: generated)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point; the engine is built here, once, before any job runs."""
    from workers.judge_worker import serve

    args = parse_args(argv)
    return serve(args.judge, burst=args.burst, name=args.name)


if __name__ == "__main__":  # vLLM spawns processes: the guard is required
    sys.exit(main())
