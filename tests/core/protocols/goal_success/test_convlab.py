"""Goal-success items from ConvLab dialogues, on the real files in ../shared/data/goal-dialogues."""

import json

import pytest

from service.core.protocols.goal_success.convlab import from_convlab
from service.core.protocols.goal_success.protocol import SEGMENT_ORDER, GoalSuccessItem, GoalSuccessOptions, GoalSuccessProtocol
from tests.support import REPO

PROTOCOL = GoalSuccessProtocol()
DIALOGUES = REPO.parent / "shared" / "data" / "goal-dialogues"


def _dialogues(name):
    path = DIALOGUES / name
    if not path.exists():
        pytest.skip(f"{path} not available")
    return json.loads(path.read_text(encoding="utf-8"))


def test_from_convlab_on_a_real_camrest_dialogue():
    dialogue = _dialogues("camrest.json")[0]
    item = GoalSuccessItem.model_validate(from_convlab(dialogue))
    assert item.id == dialogue["dialogue_id"] and item.category == "camrest"
    assert len(item.conversation) == len(dialogue["turns"])
    assert [t.role for t in item.conversation[:2]] == ["user", "assistant"]
    assert item.conversation[0].content == dialogue["turns"][0]["utterance"]
    assert item.goals[0].id == "g1"
    assert item.goals[0].description.startswith("You are looking for an expensive restaurant")


def test_from_convlab_strips_markup_and_leaves_goalless_dialogues_to_segmentation():
    multiwoz = from_convlab(_dialogues("multiwoz21.json")[0])
    description = multiwoz["goals"][0]["description"]
    assert "<span" not in description and "place to stay" in description
    sgd = GoalSuccessItem.model_validate(from_convlab(_dialogues("sgd.json")[0]))
    assert sgd.goals is None
    assert [c.order for c in PROTOCOL.plan_calls(sgd, GoalSuccessOptions())] == [SEGMENT_ORDER]


def test_from_convlab_refuses_unknown_speakers():
    with pytest.raises(ValueError, match="unknown speaker"):
        from_convlab({"dialogue_id": "d", "turns": [{"speaker": "narrator", "utterance": "x"}]})
