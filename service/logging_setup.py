"""Structured JSON logs on stderr for the gateway, the workers and the CLI.

Lines about a judge job carry ``evaluation_id`` and ``chunk_index``: the job code passes them as
``extra=``; lines logged while an RQ job runs get them from the current job; and RQ's own lines
(job started, OK, failed, retried) get them from the job id or call they mention (``judge-chunk_<id>_<n>``).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import datetime, timezone

_CONTEXT_FIELDS = ("evaluation_id", "chunk_index", "judge", "job_id")
# the job id (judge-chunk_<evaluation id>_<chunk index>) or the call (judge_chunk.run('<id>', <index>))
_CHUNK_JOB = re.compile(r"\bjudge-chunk_([0-9A-Za-z-]{1,64})_(\d+)\b|judge_chunk\.run\('([0-9A-Za-z-]{1,64})', (\d+)\)")
_JUDGE_CHUNK_JOB = "workers.jobs.judge_chunk.run"


class JsonFormatter(logging.Formatter):
    """One JSON object per line with time, level, logger, message and context fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Render a record as JSON."""
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in _CONTEXT_FIELDS:
            if getattr(record, field, None) is not None:
                entry[field] = getattr(record, field)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def _current_rq_job():
    """The RQ job running in this thread, if any (None where RQ is not installed or idle)."""
    try:
        from rq.job import get_current_job
    except ImportError:  # pragma: no cover - RQ is a dependency
        return None
    return get_current_job()


class JobContext(logging.Filter):
    """Adds evaluation_id / chunk_index / job_id to records about a judge-chunk job that lack them."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Annotate the record (never drops it)."""
        if getattr(record, "evaluation_id", None) is not None and getattr(record, "chunk_index", None) is not None:
            return True
        job = _current_rq_job()
        if job is not None and job.func_name == _JUDGE_CHUNK_JOB and len(job.args) >= 2:
            evaluation_id, chunk_index = job.args[0], job.args[1]
            record.job_id = getattr(record, "job_id", None) or job.id
        else:
            try:
                found = _CHUNK_JOB.search(record.getMessage())
            except Exception:  # a broken format string is logging's problem, not ours
                return True
            if found is None:
                return True
            evaluation_id = found.group(1) or found.group(3)
            chunk_index = int(found.group(2) or found.group(4))
            record.job_id = getattr(record, "job_id", None) or f"judge-chunk_{evaluation_id}_{chunk_index}"
        if getattr(record, "evaluation_id", None) is None:
            record.evaluation_id = evaluation_id
        if getattr(record, "chunk_index", None) is None:
            record.chunk_index = chunk_index
        return True


def configure_logging(level: str = "INFO") -> None:
    """Send JSON logs to stderr at ``level`` (idempotent)."""
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        root.setLevel(level)
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(JobContext())
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("httpx", "httpx2", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
