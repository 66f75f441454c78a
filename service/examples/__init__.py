"""Bundled example evaluations (LLMBar Natural slice, MIT licence: see LICENSE.llmbar)."""

from __future__ import annotations

import json
from importlib import resources


def load_example(name: str = "pairwise_demo.json") -> dict:
    """A bundled example request body."""
    return json.loads(resources.files(__package__).joinpath(name).read_text(encoding="utf-8"))
