"""Settings built from the environment plus command-line overrides."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pydantic-settings comes with the server extra: imported when a server command runs
    from service.config import Settings


def settings_with(data_dir: Path | None = None, **overrides) -> Settings:
    """Environment settings with the given non-None overrides applied."""
    from service.config import Settings

    values = {k: v for k, v in overrides.items() if v is not None}
    if data_dir is not None:
        values["data_dir"] = data_dir
    return Settings(**values)
