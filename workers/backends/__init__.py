"""Judge backends behind one interface (service.core.judging.JudgeBackend)."""

from __future__ import annotations

from service.config import JudgeConfig, Settings
from service.core.judging import JudgeBackend


def build_backend(judge: JudgeConfig, settings: Settings) -> JudgeBackend:
    """Create the backend a judge's configuration names (loads the engine: call once)."""
    if judge.backend == "vllm":
        from workers.backends.vllm_engine import VLLMBackend

        return VLLMBackend(judge, settings)
    if judge.backend == "openai":
        from workers.backends.openai_http import OpenAIBackend

        return OpenAIBackend(judge)
    if judge.backend == "scripted":
        from workers.backends.scripted import ScriptedBackend

        return ScriptedBackend(judge)
    raise ValueError(f"unknown backend {judge.backend!r} for judge {judge.name!r}")
