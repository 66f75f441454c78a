"""The in-process dispatcher of embedded mode: jobs that raise are retried later, a bounded number of times."""

from __future__ import annotations

import threading

from service import queue
from service.config import Settings
from tests.support import wait_for


def _dispatcher(monkeypatch, tmp_path, judges_file, retries: int, job):
    """A dispatcher whose jobs all resolve to ``job`` (the embedded runtime itself is not started)."""
    monkeypatch.setattr(queue, "IN_PROCESS_RETRY_DELAYS", (0.05, 0.1))
    monkeypatch.setattr(queue, "EMBEDDED_RUNTIME_START", "builtins.print")
    monkeypatch.setattr(queue, "EMBEDDED_RUNTIME_STOP", "builtins.print")
    monkeypatch.setattr(queue, "resolve", lambda name: job if name == "job" else print)
    settings = Settings(data_dir=tmp_path / "data", judges_file=judges_file, job_retries=retries)
    return queue.InProcessDispatcher(settings)


def _always_failing(runs: list):
    """A job that records its arguments and raises every time."""
    def fails(*args):
        runs.append(args)
        raise RuntimeError("bad chunk")
    return fails


def test_a_job_that_raises_runs_again_up_to_job_retries_times(monkeypatch, tmp_path, judges_file):
    runs = []
    dispatcher = _dispatcher(monkeypatch, tmp_path, judges_file, 2, _always_failing(runs))
    dispatcher.enqueue("job", ("e1", 0), queue="q", job_id="j", timeout=10)
    wait_for(lambda: len(runs) == 3, timeout=10)
    threading.Event().wait(0.5)  # no fourth run comes later
    dispatcher.close()
    assert runs == [("e1", 0)] * 3


def test_a_job_that_succeeds_on_a_retry_is_not_run_again(monkeypatch, tmp_path, judges_file):
    runs = []

    def fails_once(*args):
        runs.append(args)
        if len(runs) == 1:
            raise RuntimeError("passing trouble")

    dispatcher = _dispatcher(monkeypatch, tmp_path, judges_file, 3, fails_once)
    dispatcher.enqueue("job", ("e1", 1), queue="q", job_id="j", timeout=10)
    wait_for(lambda: len(runs) == 2, timeout=10)
    threading.Event().wait(0.5)
    dispatcher.close()
    assert len(runs) == 2


def test_closing_cancels_the_retries_still_waiting(monkeypatch, tmp_path, judges_file):
    runs = []
    dispatcher = _dispatcher(monkeypatch, tmp_path, judges_file, 3, _always_failing(runs))
    monkeypatch.setattr(queue, "IN_PROCESS_RETRY_DELAYS", (2.0,))
    dispatcher.enqueue("job", ("e1", 0), queue="q", job_id="j", timeout=10)
    wait_for(lambda: runs, timeout=10)
    dispatcher.close()
    threading.Event().wait(2.5)  # past the retry's due time: it was cancelled, not merely late
    assert len(runs) == 1
