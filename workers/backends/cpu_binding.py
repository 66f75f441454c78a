"""Which cores an in-process vLLM engine on CPU gives its model (vLLM's OpenMP thread binding).

vLLM's CPU platform binds the model's OpenMP threads to the physical cores of a NUMA node and, by
default, keeps one core per engine out of that set for an API front end
(``VLLM_CPU_NUM_OF_RESERVED_CPU``; log: ``reserved_cpus=[1]``, "Reducing Torch threads from 2 to 1").
An engine built in-process (the embedded judge, a judge worker, the demo) has no such front end: the
caller waits in ``LLM.generate`` while the model runs. So for those engines the service sets
``VLLM_CPU_NUM_OF_RESERVED_CPU=0`` and keeps vLLM's ``auto`` core selection (one logical CPU per
physical core of the first NUMA node), which gives the model every core.

Precedence, highest first: the judge's own ``engine`` settings ``cpu_threads_bind`` (vLLM's
``VLLM_CPU_OMP_THREADS_BIND``: ``auto``, ``nobind`` or a core list such as ``0-3``) and
``cpu_reserved_cpus`` (``VLLM_CPU_NUM_OF_RESERVED_CPU``); then either variable set in the process
environment by the operator (then the service changes neither); then every core.

Both are deployment settings, not judge behaviour: they are left out of the judge's fingerprint.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Iterator, Mapping

BIND_ENV = "VLLM_CPU_OMP_THREADS_BIND"
RESERVED_ENV = "VLLM_CPU_NUM_OF_RESERVED_CPU"
# judge.engine key -> the vLLM environment variable it sets
ENGINE_KEYS = {"cpu_threads_bind": BIND_ENV, "cpu_reserved_cpus": RESERVED_ENV}
ALL_CORES = {RESERVED_ENV: "0"}


def split_engine_settings(engine: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The judge's engine settings without the binding keys, and those keys as vLLM variables."""
    kwargs = {key: value for key, value in engine.items() if key not in ENGINE_KEYS}
    binding = {ENGINE_KEYS[key]: _env_value(key, engine[key]) for key in ENGINE_KEYS if key in engine}
    return kwargs, binding


def binding_env(judge_binding: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, str]:
    """The vLLM variables to set: the judge's own, else none when the operator set one, else every core."""
    if judge_binding:
        return dict(judge_binding)
    if BIND_ENV in environ or RESERVED_ENV in environ:
        return {}
    return dict(ALL_CORES)


@contextmanager
def engine_binding(variables: Mapping[str, str]) -> Iterator[None]:
    """Set ``variables`` while an engine starts (its processes read them), then restore the environment."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _env_value(key: str, value: Any) -> str:
    """One binding setting as vLLM reads it; ValueError naming the key when it cannot be."""
    if key == "cpu_reserved_cpus":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"engine.{key} must be a whole number >= 0, got {value!r}")
        return str(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"engine.{key} must be 'auto', 'nobind' or a core list such as '0-3', got {value!r}")
    return value.strip()
