"""Start a judge worker: ``python -m workers --judge NAME`` (same as ``judgeserve worker``)."""

from __future__ import annotations

import argparse
import sys


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options of a judge worker."""
    parser = argparse.ArgumentParser(prog="python -m workers", description=__doc__)
    parser.add_argument("--judge", help="name of the judge this worker serves")
    parser.add_argument("--deliveries", action="store_true",
                        help="send webhook deliveries only (every judge worker starts such a process)")
    parser.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    parser.add_argument("--name", default=None, help="RQ worker name (default: generated)")
    parser.add_argument("--parent-pid", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.judge and not args.deliveries:
        parser.error("--judge NAME is required (or --deliveries)")
    return args


def main(argv: list[str] | None = None) -> int:
    """Entry point; the engine is built here, once, before any job runs."""
    args = parse_args(argv)
    if args.deliveries:
        from workers.delivery_worker import serve_deliveries

        return serve_deliveries(burst=args.burst, name=args.name, parent_pid=args.parent_pid)
    from workers.judge_worker import serve

    return serve(args.judge, burst=args.burst, name=args.name)


if __name__ == "__main__":  # vLLM spawns processes: the guard is required
    sys.exit(main())
