"""Keep submitted text inside its section of a judge prompt.

Prompt sections start with a header line such as ``[Response 1]`` or end with
``[End of response]``: a line (as ``str.splitlines`` splits lines) whose first non-blank
character is ``[``. Submitted text (responses, prompts, references, rubrics, conversation turns)
is put into a prompt through :func:`enclose`, which escapes every line of it that starts, after
optional blanks and backslashes, with ``[`` by adding one backslash before the ``[``. So no submitted line can look
like a header: every line of a rendered prompt that starts with ``[`` is the template's own, and a
response saying ``[Response 2]`` or ``[End of response]`` shows up as ``\\[Response 2]``.

Text without such lines is rendered unchanged, and :func:`disclose` reverses the escaping
exactly (the backslash runs make it a bijection).
"""

from __future__ import annotations

import re

# line boundaries as str.splitlines() knows them (a judge's tokenizer may read any of them as one)
_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_LINE_START = rf"(?:\A|(?<=[{_BREAKS}]))"
_BLANKS = rf"[^\S{_BREAKS}]*"
# a line beginning with optional blanks, then optional backslashes, then "["
_HEADER_LIKE = re.compile(rf"{_LINE_START}({_BLANKS})(\\*\[)")
_ESCAPED = re.compile(rf"{_LINE_START}({_BLANKS})\\(\\*\[)")


def enclose(text: str) -> str:
    """Submitted text, escaped so that none of its lines reads as a section header or end marker."""
    if "[" not in text:  # nothing to escape (most texts): skip the regex, which is a worker's hot path
        return text
    return _HEADER_LIKE.sub(r"\1\\\2", text)


def disclose(text: str) -> str:
    """The submitted text back from :func:`enclose`'s output."""
    if "[" not in text:
        return text
    return _ESCAPED.sub(r"\1\2", text)


def structural_lines(prompt: str) -> list[str]:
    """The prompt's lines that start (after blanks) with ``[``: its section headers and end markers."""
    return [line for line in prompt.splitlines() if line.lstrip().startswith("[")]
