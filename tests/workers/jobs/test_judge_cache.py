"""The judge-call cache on real Postgres: a repeated evaluation makes no engine call."""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import func, select

from service.db.engine import session_scope
from service.evaluations import chunk_queries
from service.evaluations import service
from service.evaluations.results import protocol_and_options
from service.evaluations.schemas import EvaluationCreate
from service.models import Evaluation, JudgeCacheEntry, Judgment
from tests.support import project_id
from workers import runtime
from workers.jobs import judge_chunk
from tests.workers.jobs.chunk_jobs import RecordingDispatcher


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
        keyed = session.execute(select(Judgment.order, Judgment.error).where(Judgment.cache_key.isnot(None))).all()
        assert session.scalar(select(func.count()).select_from(JudgeCacheEntry)) == 0  # not written any more
    assert sorted(keyed) == [("ab", None), ("ba", None)]  # only the two good calls are cache entries


def _key_by_the_formula_of_2026_12_07(request, fingerprint: str, project: str) -> str:
    """A call's stored judge_cache key as JudgeRequest.cache_key and cache.scoped_key computed it when
    judge_cache rows were written (before migration 0012), copied here literally so it cannot drift."""
    prompt_hash = hashlib.sha256(json.dumps(list(request.messages), sort_keys=True, ensure_ascii=False)
                                 .encode("utf-8")).hexdigest()
    seed = request.seed if request.temperature > 0 else None
    sampling = {"choices": list(request.choices), "temperature": request.temperature, "seed": seed,
                "top_logprobs": request.top_logprobs, "rationale_tokens": request.rationale_tokens,
                "verdict_followup": request.verdict_followup}
    if request.json_schema is not None:
        sampling.update(json_schema=request.json_schema, max_tokens=request.max_tokens)
    call_key = hashlib.sha256(json.dumps([fingerprint, prompt_hash, sampling], sort_keys=True, ensure_ascii=False)
                              .encode("utf-8")).hexdigest()
    return hashlib.sha256(f"{project}\n{call_key}".encode()).hexdigest()


def test_entries_written_to_judge_cache_before_0012_still_hit(prod_settings):
    """judge_cache rows keyed by the old formula answer every call: zero engine calls, their outputs used."""
    runtime.configure(prod_settings)
    try:
        items = [{"id": f"i{i}", "prompt": f"old question {i}", "response_a": "a" * 40, "response_b": "b"}
                 for i in range(3)]
        body = EvaluationCreate(protocol="pairwise", judge="scripted", model="m", items=items)
        project = project_id(prod_settings)
        with session_scope(prod_settings.database_url) as session:
            evaluation_id = service.submit(session, RecordingDispatcher(), prod_settings, body, project)
            evaluation = session.get(Evaluation, evaluation_id)
            protocol, options = protocol_and_options(evaluation)
            fingerprint = prod_settings.judges()["scripted"].fingerprint()
            entries = []
            for item in chunk_queries.items_in_range(session, evaluation_id, 0, 3):
                for planned in protocol.plan_calls(protocol.item_model.model_validate(item.payload), options, []):
                    # the scripted judge prefers the longer response A; the stored answers prefer B
                    slot_of_b = "2" if planned.order == "ab" else "1"
                    entries.append(JudgeCacheEntry(
                        key=_key_by_the_formula_of_2026_12_07(planned.request, fingerprint, project),
                        project_id=project, fingerprint=fingerprint, text=slot_of_b,
                        verdict_top_logprobs={slot_of_b: -0.01, "1" if slot_of_b == "2" else "2": -5.0},
                        prompt_tokens=11, completion_tokens=1))
            session.add_all(entries)
        backend = runtime.backend("scripted")
        before = backend.generate_calls
        judge_chunk.run(evaluation_id, 0)
        assert backend.generate_calls == before  # zero engine calls
        with session_scope(prod_settings.database_url) as session:
            stored = session.execute(select(Judgment.cached, Judgment.raw_output, Judgment.prompt_tokens,
                                            Judgment.cache_key).where(Judgment.evaluation_id == evaluation_id)).all()
            summary = session.get(Evaluation, evaluation_id).summary
        assert len(stored) == 6 and all(cached and tokens == 11 and key is None for cached, _, tokens, key in stored)
        assert (summary["wins"], summary["losses"]) == (0, 3)  # the stored answers, not the judge's
    finally:
        runtime.shutdown()
