"""The judge-call cache on real Postgres: a repeated evaluation makes no engine call."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from service.db.engine import session_scope
from service.evaluations import service
from service.evaluations.schemas import EvaluationCreate
from service.models import Evaluation, JudgeCacheEntry, Judgment
from tests.support import project_id
from workers import runtime
from workers.jobs import judge_chunk
from tests.workers.jobs.test_judge_chunk import RecordingDispatcher


@pytest.fixture
def run_evaluation(prod_settings):
    runtime.configure(prod_settings)

    def run(judge="scripted", options=None, items=None):
        items = items or [{"id": f"i{i}", "prompt": f"p{i}", "response_a": "a" * (i + 1), "response_b": "bb"}
                          for i in range(5)]
        body = EvaluationCreate(protocol="pairwise", judge=judge, model="m", items=items,
                                options={"chunk_size": 2} | (options or {}))
        dispatcher = RecordingDispatcher()
        with session_scope(prod_settings.database_url) as session:
            evaluation_id = service.submit(session, dispatcher, prod_settings, body, project_id(prod_settings))
        for _, args, *_ in dispatcher.jobs:
            judge_chunk.run(*args)
        with session_scope(prod_settings.database_url) as session:
            evaluation = session.get(Evaluation, evaluation_id)
            cached = session.scalars(select(Judgment.cached).where(Judgment.evaluation_id == evaluation_id)).all()
            return evaluation.summary, cached

    yield run
    runtime.shutdown()


def test_an_identical_evaluation_makes_zero_engine_calls(run_evaluation):
    backend = runtime.backend("scripted")
    first_summary, first_cached = run_evaluation()
    calls_after_first = backend.generate_calls
    assert calls_after_first == 3 and not any(first_cached)
    second_summary, second_cached = run_evaluation()
    assert backend.generate_calls == calls_after_first  # zero engine calls the second time
    assert len(second_cached) == 10 and all(second_cached)
    assert second_summary["win_rate"] == first_summary["win_rate"]


def test_the_cache_can_be_turned_off_per_evaluation(run_evaluation):
    backend = runtime.backend("scripted")
    run_evaluation()
    before = backend.generate_calls
    _, cached = run_evaluation(options={"cache": False})
    assert backend.generate_calls == before + 3 and not any(cached)


def test_changed_sampling_or_prompt_misses_the_cache(run_evaluation):
    backend = runtime.backend("scripted")
    sampled = {"samples": 2, "temperature": 0.7}
    run_evaluation(options=sampled | {"seed": 1})
    before = backend.requests_seen
    run_evaluation(options=sampled | {"seed": 1})
    assert backend.requests_seen == before  # same seed: every sampled call repeats from the cache
    run_evaluation(options=sampled | {"seed": 2})  # a different seed is a different call
    assert backend.requests_seen == before + 20
    run_evaluation(options=sampled)  # sampled without a fixed seed: never cached, always judged
    run_evaluation(options=sampled)
    assert backend.requests_seen == before + 60
    run_evaluation(items=[{"id": "x", "prompt": "new", "response_a": "a", "response_b": "b"}])
    assert backend.requests_seen == before + 62


def test_failed_calls_are_never_cached(run_evaluation, prod_settings):
    items = [{"id": "ok", "prompt": "fine", "response_a": "a", "response_b": "bb"},
             {"id": "bad", "prompt": "FAIL-ME", "response_a": "a", "response_b": "bb"}]
    run_evaluation(judge="scripted-flaky", items=items)
    with session_scope(prod_settings.database_url) as session:
        assert session.scalar(select(func.count()).select_from(JudgeCacheEntry)) == 2  # only the two good calls
