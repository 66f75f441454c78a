"""Rebuild ifeval_reference.json: IFEval's published checks, strict and loose, on the written responses.

The reference is lm-eval-harness's copy of google-research's ``instruction_following_eval`` (the wheel
``lm-eval==0.4.13``, ``lm_eval/tasks/ifeval/instructions*.py``), with one line changed as google-research's
current ``instructions.py`` has it (a ``letter_frequency`` letter that is not a-z is kept, not drawn at random).
It runs with langdetect seeded at 0 and NLTK 3.10.4 reading this package's English Punkt model from a punkt_tab directory.

    pip download --no-deps lm-eval==0.4.13 && unzip lm_eval-0.4.13-py3-none-any.whl 'lm_eval/tasks/ifeval/*' -d REF
    # delete the two `or ord(letter.lower()) ...` lines of REF/lm_eval/tasks/ifeval/instructions.py,
    # add empty __init__.py files and an `immutabledict` stand-in (immutabledict = dict), then
    python -m tests.core.protocols.constraints.make_reference REF
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

OUT = Path(__file__).with_name("ifeval_reference.json")
RATES = (0.7, 0.3)


def _variants(response: str) -> list[str]:
    lines = response.split("\n")
    first, last, both = ("\n".join(part).strip() for part in (lines[1:], lines[:-1], lines[1:-1]))
    return [response, response.replace("*", ""), first, last, both,
            first.replace("*", ""), last.replace("*", ""), both.replace("*", "")]


def main(reference_root: str) -> None:
    """Write the reference's strict and loose results for every prompt and follow rate."""
    import nltk
    from nltk.tokenize.punkt import save_punkt_params

    from service.core.protocols.constraints import text
    from tests.core.protocols.constraints import ifeval_responses

    data = Path(tempfile.mkdtemp())
    model = data / "tokenizers" / "punkt_tab" / "english"
    model.mkdir(parents=True)
    for folder in (data / "tokenizers", data / "tokenizers" / "punkt_tab", model):
        os.chmod(folder, 0o700)
    nltk.data.path.insert(0, str(data))
    save_punkt_params(text.punkt_tokenizer()._params, dir=str(model))
    sys.path.insert(0, reference_root)
    import langdetect

    langdetect.DetectorFactory.seed = 0  # IFEval fixes the seed (its instructions_test.py checks seed == 0)
    from lm_eval.tasks.ifeval import instructions_registry  # type: ignore[import-not-found]

    def follows(type_id, kwargs, response, loose):
        instruction = instructions_registry.INSTRUCTION_DICT[type_id](type_id)
        instruction.build_description(**{k: v for k, v in kwargs.items() if v is not None})
        return any(v.strip() and instruction.check_following(v) for v in (_variants(response) if loose else [response]))

    rows = []
    for rate in RATES:
        for item in ifeval_responses.items(rate):
            pairs = list(zip(item["instruction_id_list"], item["kwargs"]))
            rows.append({"key": item["key"], "follow_rate": rate,
                         "strict": [follows(t, k, item["response"], False) for t, k in pairs],
                         "loose": [follows(t, k, item["response"], True) for t, k in pairs]})
    OUT.write_text(json.dumps(rows, separators=(",", ":")), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1])
