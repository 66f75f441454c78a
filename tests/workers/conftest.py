"""Fixtures for worker tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def bundled_model_cache() -> Path:
    """Model cache shared across test files: $JUDGESERVE_MODEL_CACHE_DIR, else the real default."""
    configured = os.environ.get("JUDGESERVE_MODEL_CACHE_DIR")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "judgeserve" / "models"
