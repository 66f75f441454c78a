"""Deterministic responses to IFEval's 541 prompts: each instruction followed or broken by a seeded coin.

``python -m tests.core.protocols.constraints.ifeval_responses [OUT.jsonl]`` writes the items (IFEval's
fields plus ``id`` and ``response``) for a judgeserve submission. A response is built from plain
sentences and then shaped instruction by instruction; about a third of the responses also get a
chatty first and last line and some ``**bold**``, so IFEval's loose variants differ from strict.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

IFEVAL = Path(__file__).resolve().parent / "ifeval" / "input_data.jsonl"  # IFEval's 541 prompts (see its README)
WORDS = ("river", "garden", "music", "window", "morning", "engine", "forest", "letter", "market", "bridge",
         "planet", "silver", "coffee", "island", "teacher", "winter", "signal", "harbor", "pencil", "lantern")
FOREIGN = {
    "de": "Das ist eine kurze Antwort auf Deutsch. Wir schreiben nur in dieser Sprache und sonst nichts.",
    "fr": "Ceci est une courte réponse en français. Nous écrivons seulement dans cette langue.",
    "es": "Esta es una respuesta corta en español. Escribimos solamente en este idioma.",
    "it": "Questa è una breve risposta in italiano. Scriviamo soltanto in questa lingua.",
    "pt": "Esta é uma resposta curta em português. Escrevemos somente nesta língua.",
    "ru": "Это короткий ответ на русском языке. Мы пишем только на этом языке.",
    "hi": "यह हिंदी में एक छोटा उत्तर है। हम केवल इसी भाषा में लिखते हैं।",
    "ja": "これは日本語の短い答えです。私たちはこの言語だけで書きます。",
    "ko": "이것은 한국어로 된 짧은 대답입니다. 우리는 이 언어로만 씁니다.",
    "ar": "هذه إجابة قصيرة باللغة العربية. نحن نكتب بهذه اللغة فقط.",
}


def load_prompts(path: Path = IFEVAL) -> list[dict[str, Any]]:
    """IFEval's prompts with their instruction ids and kwargs."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _sentences(rng: random.Random, n: int) -> list[str]:
    return [f"The {rng.choice(WORDS)} is near the {rng.choice(WORDS)} and the {rng.choice(WORDS)} today."
            for _ in range(max(n, 0))]


def _args(prompt: dict[str, Any], type_id: str) -> dict[str, Any] | None:
    for found, kwargs in zip(prompt["instruction_id_list"], prompt["kwargs"]):
        if found == type_id:
            return {k: v for k, v in kwargs.items() if v is not None}
    return None


def _body(prompt: dict[str, Any], follow: dict[str, bool], rng: random.Random) -> list[str]:
    """Paragraphs sized for the sentence, word and paragraph counts asked for (or deliberately not)."""
    n_sentences = rng.randint(2, 6)
    if (a := _args(prompt, "length_constraints:number_sentences")) is not None:
        wanted = a["num_sentences"] - 1 if a["relation"] == "less than" else a["num_sentences"]
        n_sentences = max(1, wanted if follow["length_constraints:number_sentences"] else wanted + 2 * (
            1 if a["relation"] == "less than" else -1))
    if (a := _args(prompt, "length_constraints:number_words")) is not None:
        wanted = a["num_words"] // 12 + (0 if a["relation"] == "less than" else 2)
        n_sentences = max(1, wanted if follow["length_constraints:number_words"] else wanted * 3 + 1)
    n_paragraphs = 1
    for type_id in ("length_constraints:number_paragraphs", "length_constraints:nth_paragraph_first_word"):
        if (a := _args(prompt, type_id)) is not None:
            n_paragraphs = a["num_paragraphs"] + (0 if follow[type_id] else 1)
    sentences = _sentences(rng, max(n_sentences, n_paragraphs))
    size = -(-len(sentences) // n_paragraphs)
    paragraphs = [" ".join(sentences[i:i + size]) for i in range(0, len(sentences), size)]
    if (a := _args(prompt, "length_constraints:nth_paragraph_first_word")) is not None:
        n = min(a["nth_paragraph"], len(paragraphs)) - 1
        word = a["first_word"] if follow["length_constraints:nth_paragraph_first_word"] else "Meanwhile"
        paragraphs[n] = f"{word.capitalize()} {paragraphs[n]}"
    return paragraphs


def _add_content(prompt: dict[str, Any], follow: dict[str, bool], rng: random.Random) -> list[str]:
    """Extra lines for keywords, placeholders, lists, highlights, sections and capital words."""
    lines: list[str] = []
    for type_id, kwargs in zip(prompt["instruction_id_list"], prompt["kwargs"]):
        a = {k: v for k, v in kwargs.items() if v is not None}
        ok = follow[type_id]
        if type_id == "keywords:existence" and ok:
            lines.append("We mention " + " and ".join(a["keywords"]) + " here.")
        elif type_id == "keywords:frequency":
            times = a["frequency"] - 1 if a["relation"] == "less than" else a["frequency"]
            times = times if ok else (a["frequency"] + 1 if a["relation"] == "less than" else a["frequency"] - 1)
            lines += [f"Think about {a['keyword']} again."] * max(times, 0)
        elif type_id == "keywords:forbidden_words" and not ok:
            lines.append(f"Some say {rng.choice(a['forbidden_words'])} matters.")
        elif type_id == "keywords:letter_frequency":
            at_least = a["let_relation"] == "at least"
            if at_least == ok:
                lines.append("Also " + a["letter"] * (a["let_frequency"] + 1) + " noted.")
        elif type_id == "detectable_content:number_placeholders":
            lines.append(" ".join(f"[field {i}]" for i in range(a["num_placeholders"] - (0 if ok else 1))))
        elif type_id == "detectable_format:number_bullet_lists":
            lines += [f"* point {i + 1}" for i in range(a["num_bullets"] + (0 if ok else 1))]
        elif type_id == "detectable_format:number_highlighted_sections":
            lines.append(" ".join(f"*part {i}*" for i in range(a["num_highlights"] - (0 if ok else 1))))
        elif type_id == "detectable_format:multiple_sections":
            lines += [f"{a['section_spliter']} {i + 1}\nThe {rng.choice(WORDS)} part."
                      for i in range(a["num_sections"] - (0 if ok else 1))]
        elif type_id == "change_case:capital_word_frequency":
            wanted = a["capital_frequency"] - 1 if a["capital_relation"] == "less than" else a["capital_frequency"]
            count = wanted if ok else (a["capital_frequency"] + 2 if a["capital_relation"] == "less than" else 0)
            lines.append(" ".join(["NOTE"] * max(count, 0)))
        elif type_id == "detectable_format:constrained_response":
            lines.append("My answer is yes." if ok else "My answer is probably.")
    return [line for line in lines if line]


def _frame(prompt: dict[str, Any], follow: dict[str, bool], text: str, rng: random.Random) -> str:
    """The response around its body: title, repeat, language, two answers, postscript, end, case, quotes, JSON."""
    ids = prompt["instruction_id_list"]
    if (a := _args(prompt, "language:response_language")) is not None and follow["language:response_language"]:
        text = FOREIGN.get(a["language"], text)
    if "detectable_format:title" in ids and follow["detectable_format:title"]:
        text = f"<<The {rng.choice(WORDS)} answer>>\n{text}"
    if "combination:two_responses" in ids:
        second = text if not follow["combination:two_responses"] else " ".join(_sentences(rng, 2))
        text = f"{text}\n******\n{second}"
    if (a := _args(prompt, "combination:repeat_prompt")) is not None:
        text = ("" if follow["combination:repeat_prompt"] else "Sure. ") + a["prompt_to_repeat"] + "\n" + text
    if (a := _args(prompt, "detectable_content:postscript")) is not None and follow["detectable_content:postscript"]:
        text += f"\n{a['postscript_marker']} The {rng.choice(WORDS)} waits."
    if (a := _args(prompt, "startend:end_checker")) is not None and follow["startend:end_checker"]:
        text += f"\n{a['end_phrase']}"
    if "change_case:english_lowercase" in ids:
        text = text.lower() if follow["change_case:english_lowercase"] else text
    if "change_case:english_capital" in ids:
        text = text.upper() if follow["change_case:english_capital"] else text
    if "punctuation:no_comma" in ids:
        text = text.replace(",", "") if follow["punctuation:no_comma"] else text + " Yes, indeed."
    if "detectable_format:json_format" in ids:
        text = json.dumps({"answer": text}) if follow["detectable_format:json_format"] else "{" + text
    if "startend:quotation" in ids and follow["startend:quotation"]:
        text = f'"{text}"'
    return text


def write_response(prompt: dict[str, Any], follow_rate: float = 0.7) -> str:
    """A response to one IFEval prompt; each instruction followed with probability ``follow_rate`` (seeded by key)."""
    rng = random.Random(prompt["key"])
    follow = {type_id: rng.random() < follow_rate for type_id in prompt["instruction_id_list"]}
    lines = ["\n\n".join(_body(prompt, follow, rng))] + _add_content(prompt, follow, rng)
    text = _frame(prompt, follow, "\n".join(lines), rng)
    if rng.random() < 0.35:  # chatty framing and bold: the loose variants see past these
        text = f"Sure, here is my **answer**:\n{text}\nI hope this helps."
    return text


def items(follow_rate: float = 0.7) -> list[dict[str, Any]]:
    """Submission items for all 541 prompts: IFEval's fields with an id and the written response."""
    return [{"id": str(p["key"]), "key": p["key"], "prompt": p["prompt"], "response": write_response(p, follow_rate),
             "instruction_id_list": p["instruction_id_list"], "kwargs": p["kwargs"]} for p in load_prompts()]


if __name__ == "__main__":
    out = open(sys.argv[1], "w", encoding="utf-8") if len(sys.argv) > 1 else sys.stdout
    for item in items():
        out.write(json.dumps(item, ensure_ascii=False) + "\n")
