"""Goal-success items from ConvLab unified-format dialogues (e.g. ../shared/data/goal-dialogues)."""

from __future__ import annotations

import html
import re
from typing import Any

_SPEAKER_ROLES = {"user": "user", "system": "assistant"}


def from_convlab(dialogue: dict[str, Any]) -> dict[str, Any]:
    """An item (JSON) from a ConvLab unified-format dialogue: its turns, and its goal description as goal g1."""
    conversation = []
    for index, turn in enumerate(dialogue.get("turns") or []):
        role = _SPEAKER_ROLES.get(turn.get("speaker"))
        if role is None:
            raise ValueError(f"turn {index}: unknown speaker {turn.get('speaker')!r}")
        conversation.append({"role": role, "content": str(turn.get("utterance", ""))})
    item: dict[str, Any] = {"id": str(dialogue["dialogue_id"]), "conversation": conversation}
    if dialogue.get("dataset"):
        item["category"] = str(dialogue["dataset"])
    raw = (dialogue.get("goal") or {}).get("description") or ""
    description = re.sub(r"^Task \d+:\s*", "", " ".join(html.unescape(re.sub(r"<[^>]+>", "", raw)).split()))
    if description:
        item["goals"] = [{"id": "g1", "description": description}]
    return item
