"""The judge-call cache is per project unless the judge says cache_scope: global (real Postgres, scripted judges)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import delete, func, select

from service.db.engine import session_scope
from service.evaluations import service
from service.evaluations.schemas import EvaluationCreate
from service.models import Evaluation, JudgeCacheEntry, Judgment, Project
from tests.support import project_id
from tests.workers.jobs.chunk_jobs import RecordingDispatcher
from workers import runtime
from workers.jobs import judge_chunk

# the same judge twice, per project and global: the same fingerprint, so the same call keys
JUDGES = [{"name": "scoped", "backend": "scripted", "model": "scripted-longer", "engine": {"policy": "longer"}},
          {"name": "shared", "backend": "scripted", "model": "scripted-longer", "engine": {"policy": "longer"},
           "cache_scope": "global"}]
ITEMS = [{"id": f"i{i}", "prompt": f"question {i}", "response_a": "a" * (i + 1), "response_b": "bb"} for i in range(3)]


@pytest.fixture
def settings(prod_settings, tmp_path):
    path = tmp_path / "scoped-judges.json"
    path.write_text(json.dumps(JUDGES))
    configured = prod_settings.model_copy(update={"judges_file": path})
    runtime.configure(configured)
    yield configured
    runtime.shutdown()


def judge(settings, judge_name: str, project: str) -> tuple[int, int]:
    """Run one evaluation of ITEMS for ``project``: (calls answered from the cache, calls the engine made)."""
    body = EvaluationCreate(protocol="pairwise", judge=judge_name, model="m", items=ITEMS)
    with session_scope(settings.database_url) as session:
        evaluation_id = service.submit(session, RecordingDispatcher(), settings, body, project_id(settings, project))
    before = runtime.backend(judge_name).requests_seen
    judge_chunk.run(evaluation_id, 0)
    with session_scope(settings.database_url) as session:
        cached = session.scalar(select(func.count()).select_from(Judgment).where(
            Judgment.evaluation_id == evaluation_id, Judgment.cached.is_(True)))
    return cached, runtime.backend(judge_name).requests_seen - before


def entries(settings) -> list[str | None]:
    """The project of each cache entry: the judgments that carry a cache key (a judge_cache row's own project)."""
    with session_scope(settings.database_url) as session:
        keyed = select(Evaluation.project_id).join(Judgment, Judgment.evaluation_id == Evaluation.id).where(
            Judgment.cache_key.isnot(None))
        return sorted([*session.scalars(keyed), *session.scalars(select(JudgeCacheEntry.project_id))], key=str)


def keys(settings, project: str) -> set[str]:
    """The cache keys on the judgments of a project's evaluations."""
    with session_scope(settings.database_url) as session:
        return set(session.scalars(select(Judgment.cache_key).join(Evaluation, Evaluation.id == Judgment.evaluation_id).where(
            Evaluation.project_id == project_id(settings, project), Judgment.cache_key.isnot(None))))


def test_another_project_does_not_get_a_projects_cached_call(settings):
    assert judge(settings, "scoped", "a") == (0, 6)
    assert judge(settings, "scoped", "b") == (0, 6)  # B cannot tell that A judged the same calls
    assert judge(settings, "scoped", "a") == (6, 0)  # A's own entries still hit
    assert entries(settings) == sorted([project_id(settings, "a")] * 6 + [project_id(settings, "b")] * 6)
    assert len(keys(settings, "a")) == len(keys(settings, "b")) == 6 and not keys(settings, "a") & keys(settings, "b")


def test_a_global_judge_shares_its_entries_between_projects(settings):
    assert judge(settings, "shared", "a") == (0, 6)
    assert judge(settings, "shared", "b") == (6, 0)
    assert entries(settings) == [project_id(settings, "a")] * 6  # A's judgments serve B; B's own hits add none
    assert len(keys(settings, "a")) == 6 and keys(settings, "b") == set()


def test_entries_without_a_project_serve_global_judges_only(settings):
    """judge_cache entries from before scopes existed have no project and the unbound key, as a global judge's have."""
    judge(settings, "shared", "a")
    with session_scope(settings.database_url) as session:  # A's entries as such an old judge_cache would hold them
        moved = session.execute(select(Judgment.cache_key, Judgment.fingerprint, Judgment.raw_output,
                                       Judgment.verdict_top_logprobs).where(Judgment.cache_key.isnot(None))).all()
        session.execute(delete(Evaluation))
        session.add_all(JudgeCacheEntry(key=key, project_id=None, fingerprint=fingerprint, text=text,
                                        verdict_top_logprobs=logprobs) for key, fingerprint, text, logprobs in moved)
    assert entries(settings) == [None] * 6
    assert judge(settings, "scoped", "a") == (0, 6)  # a per-project judge does not read them, not even their maker's
    assert judge(settings, "shared", "b") == (6, 0)  # a global judge does


def test_deleting_a_project_deletes_its_entries(settings):
    judge(settings, "scoped", "a")
    judge(settings, "scoped", "b")
    with session_scope(settings.database_url) as session:
        session.execute(delete(Project).where(Project.id == project_id(settings, "b")))
    assert entries(settings) == [project_id(settings, "a")] * 6
