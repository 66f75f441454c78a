"""Call a chunk's judge (and the embedding model for similarity calls): one engine call, bounded retries."""

from __future__ import annotations

import logging
import time

from rq.timeouts import BaseTimeoutException

from service.core.judging import JudgeBackend, JudgeOutput, JudgeRequest
from service.evaluations.chunk_queries import ChunkEvaluation
from service.models import Evaluation
from service.outages import is_transient
from workers import runtime

log = logging.getLogger(__name__)

ENGINE_ATTEMPTS = 3
RETRY_DELAY_SECONDS = 2.0


def generate_all(evaluation: ChunkEvaluation | Evaluation, requests: list[JudgeRequest], chunk_index: int) -> list[JudgeOutput]:
    """Judge calls to the judge's engine, similarity calls to the embedding model; outputs in call order."""
    similar = [i for i, r in enumerate(requests) if r.similarity_texts]
    judged = [i for i, r in enumerate(requests) if not r.similarity_texts]
    outputs: dict[int, JudgeOutput] = {}
    if judged:
        backend = _judge_backend(evaluation)
        outputs.update(zip(judged, _generate(backend, [requests[i] for i in judged], evaluation.id, chunk_index)))
    if similar:
        backend = runtime.similarity_backend()
        outputs.update(zip(similar, _generate(backend, [requests[i] for i in similar], evaluation.id, chunk_index)))
    return [outputs[i] for i in range(len(requests))]


def _judge_backend(evaluation: ChunkEvaluation | Evaluation) -> JudgeBackend:
    """The evaluation's judge, or a stand-in that fails every call with the reason it could not start."""
    try:
        return runtime.backend(evaluation.judge)
    except Exception as exc:  # the engine cannot start (e.g. not enough memory): fail the calls, say why
        log.exception("judge %s could not start", evaluation.judge, extra={"evaluation_id": evaluation.id})
        return _Unavailable(runtime.settings().judges()[evaluation.judge].fingerprint(), exc)


class _Unavailable:
    """Stands in for a judge whose engine could not be built: every call fails with the reason."""

    def __init__(self, fingerprint: str, exc: Exception):
        self.fingerprint = fingerprint
        self.reason = f"judge engine could not start: {type(exc).__name__}: {exc}"[:2000]

    def generate(self, requests):
        """Fail every request with the reason."""
        return [JudgeOutput(text="", error=self.reason) for _ in requests]


def _generate(backend: JudgeBackend, requests: list[JudgeRequest], evaluation_id: str, chunk_index: int) -> list[JudgeOutput]:
    """One engine call for the whole chunk, retried a bounded number of times on engine errors."""
    if not requests:
        return []
    for attempt in range(1, ENGINE_ATTEMPTS + 1):
        try:
            outputs = backend.generate(requests)
            if len(outputs) != len(requests):
                raise RuntimeError(f"backend returned {len(outputs)} outputs for {len(requests)} requests")
            return outputs
        except BaseTimeoutException:  # the job's explicit timeout: let RQ stop and retry the job
            raise
        except Exception as exc:  # engine failure: retry, then record it on every call
            log.warning("engine failed on evaluation %s chunk %s (attempt %d/%d): %s",
                        evaluation_id, chunk_index, attempt, ENGINE_ATTEMPTS, exc,
                        extra={"evaluation_id": evaluation_id, "chunk_index": chunk_index})
            if attempt == ENGINE_ATTEMPTS:
                message = f"engine error after {ENGINE_ATTEMPTS} attempts: {type(exc).__name__}: {exc}"
                extra = {"unreachable": True} if is_transient(exc) else {}
                return [JudgeOutput(text="", error=message[:2000], extra=dict(extra)) for _ in requests]
            time.sleep(RETRY_DELAY_SECONDS * attempt)
    raise AssertionError("unreachable")
