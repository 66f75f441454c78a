"""How answers are written: one plain form for Unicode, Markdown and LaTeX spellings, and the final-answer segment.

Both rules (text and numeric) read answers through ``prepare`` first, so ``x²``, ``x^{2}`` and ``$x^2$`` are
the same text, and ``\\boxed{\\frac{1}{2}}`` is found whatever its nesting.
"""

from __future__ import annotations

import re
import unicodedata

_SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾"
_SUPERSCRIPT_PLAIN = str.maketrans(_SUPERSCRIPTS, "0123456789+-=()")
_SUPERSCRIPT_RUN = re.compile(f"[{_SUPERSCRIPTS}]+")
# Every hyphen, dash and minus reads as '-': which one a writer typed carries no meaning the rule relies on.
_DASHES = str.maketrans({ch: "-" for ch in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d"})
# Thousands grouped by a thin or no-break space (SI style) or LaTeX's \, : 53 211 is 53211.
_SPACED_THOUSANDS = re.compile(r"(?<![\d.,])\d{1,3}(?:(?:[\u00a0\u2009\u202f]|\\,)\d{3})+(?![\d.,])")

_DISPLAY_MATH = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)", re.DOTALL)
# Pandoc's rule for inline math: $ then no space; no space then $ not followed by a digit ($5 and $6 is money).
_INLINE_MATH = re.compile(r"(?<![\\$])\$(?=\S)([^$\n]+?)(?<=\S)\$(?![\d$])")
_BOLD = re.compile(r"\*\*(.+?)\*\*|__(.+?)__", re.DOTALL)
_ITALIC = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")

_LATEX_SYMBOLS = {
    "times": "×", "cdot": "·", "div": "÷", "pm": "±", "mp": "∓", "leq": "≤", "le": "≤", "leqslant": "≤",
    "geq": "≥", "ge": "≥", "geqslant": "≥", "neq": "≠", "ne": "≠", "approx": "≈", "simeq": "≈", "sim": "~",
    "lt": "<", "gt": ">", "ll": "≪", "gg": "≫", "propto": "∝", "to": "→", "rightarrow": "→", "infty": "∞",
    "circ": "°", "degree": "°", "mu": "μ", "Omega": "Ω", "AA": "Å", "angstrom": "Å", "percent": "%",
}
_LATEX_SYMBOL = re.compile(r"\\(" + "|".join(sorted(_LATEX_SYMBOLS, key=len, reverse=True)) + r")(?![A-Za-z])")
_LATEX_DEGREE = re.compile(r"\^\s*\{?\s*\\circ\s*\}?")
_LATEX_ESCAPED = re.compile(r"\\([%$&#])")
_LATEX_SPACE = re.compile(r"\\[,;:> ]|\\q?quad(?![A-Za-z])|(?<=[\d}])~(?=[A-Za-z\\])")
_LATEX_DROPPED = re.compile(r"\\!|\\(?:left|right|big|Big|bigg|Bigg|displaystyle|textstyle)(?![A-Za-z])")
_LATEX_TEXT = re.compile(
    r"\\(?:text|textrm|textup|textnormal|mathrm|mathit|mathbf|textbf|textit|mbox|operatorname|rm)\s*\{")
_LATEX_FRACTION = re.compile(r"\\[dt]?frac\s*\{")
_LATEX_SHORT_FRACTION = re.compile(r"\\[dt]?frac\s*(\d)(\d)")
_SIMPLE = re.compile(r"[\w.]+")

_MARKER = re.compile(r"\banswer\s*(?:is\b|[:=])", re.IGNORECASE)
_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")


_VULGAR = "".join(chr(c) for c in (*range(0xBC, 0xBF), *range(0x2150, 0x2160), 0x2189)
                  if unicodedata.decomposition(chr(c)).startswith("<fraction>"))
_VULGAR_FRACTION = re.compile(f"(\\d?)([{_VULGAR}])")


def _vulgar_fractions(text: str) -> str:
    """½ is 1/2 and 1½ is 1 1/2 (NFKC alone would make 1½ read 11/2)."""
    def spelt(m: re.Match[str]) -> str:
        plain = unicodedata.normalize("NFKC", m.group(2)).replace("\u2044", "/")
        return f"{m.group(1)} {plain}" if m.group(1) else plain
    return _VULGAR_FRACTION.sub(spelt, text)


def unicode_forms(text: str) -> str:
    """NFKC, with superscripts kept as powers (x² is x^{2}, not x2), vulgar fractions spelt out, dashes as '-'."""
    text = _SUPERSCRIPT_RUN.sub(lambda m: "^{" + m.group().translate(_SUPERSCRIPT_PLAIN) + "}", text)
    text = _SPACED_THOUSANDS.sub(lambda m: re.sub(r"[\u00a0\u2009\u202f]|\\,", "", m.group()), text)
    text = unicodedata.normalize("NFKC", _vulgar_fractions(text))
    return text.translate(_DASHES).replace("\u2044", "/").replace("\u2019", "'")


def _closing_brace(text: str, i: int) -> int | None:
    """The index of the brace that closes the group opened just before ``i``, or None when unbalanced."""
    depth = 1
    while i < len(text):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return i
        i += 1
    return None


def _unwrap_text(text: str) -> str:
    """``\\mathrm{J\\,K^{-1}}`` is ``J K^{-1}``: the command goes, its (balanced) argument stays."""
    m = _LATEX_TEXT.search(text)
    while m is not None:
        end = _closing_brace(text, m.end())
        if end is None:
            break
        text = text[:m.start()] + text[m.end():end] + text[end + 1:]
        m = _LATEX_TEXT.search(text, m.start())
    return text


def _fractions(text: str) -> str:
    """``\\frac{a}{b}`` is ``a/b`` (a part that is not one token is bracketed: ``(x+1)/2``)."""
    text = _LATEX_SHORT_FRACTION.sub(r"\1/\2", text)
    m = _LATEX_FRACTION.search(text)
    while m is not None:
        numerator_end = _closing_brace(text, m.end())
        if numerator_end is None or text[numerator_end + 1:numerator_end + 2] != "{":
            break
        denominator_end = _closing_brace(text, numerator_end + 2)
        if denominator_end is None:
            break
        parts = (text[m.end():numerator_end].strip(), text[numerator_end + 2:denominator_end].strip())
        wrapped = [part if _SIMPLE.fullmatch(part) else f"({part})" for part in parts]
        text = text[:m.start()] + f"{wrapped[0]}/{wrapped[1]}" + text[denominator_end + 1:]
        m = _LATEX_FRACTION.search(text, m.start())
    return text


def plain_markup(text: str) -> str:
    """Markdown emphasis, math delimiters and LaTeX spacing, symbols, \\text{} and simple \\frac as plain text."""
    text = _BOLD.sub(lambda m: m.group(1) or m.group(2), text)
    text = _ITALIC.sub(r"\1", text)
    text = _DISPLAY_MATH.sub(lambda m: next(g for g in m.groups() if g is not None), text)
    text = _INLINE_MATH.sub(r"\1", text)
    text = _LATEX_DEGREE.sub("°", text)
    text = _LATEX_ESCAPED.sub(r"\1", text)
    text = _LATEX_DROPPED.sub("", text)
    text = _LATEX_SPACE.sub(" ", text)
    text = _LATEX_SYMBOL.sub(lambda m: _LATEX_SYMBOLS[m.group(1)], text)
    return _fractions(_unwrap_text(text))


def prepare(text: str) -> str:
    """The text in one plain form: ``unicode_forms`` then ``plain_markup``."""
    return plain_markup(unicode_forms(text))


def _boxes(text: str) -> list[tuple[int, str, int]]:
    """(start, content, end) of every ``\\boxed{…}`` with balanced braces."""
    boxes = []
    for m in _BOX.finditer(text):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth == 0:
            boxes.append((m.start(), text[m.end():i - 1], i))
    return boxes


def final_answer_segment(response: str) -> str | None:
    """The text after the response's last answer marker ("answer:", "the answer is", ``\\boxed{}``), or None.

    A box gives its content and everything after it, so a later correction is never cut off.
    """
    text = prepare(response)
    found = [(m.start(), text[m.end():]) for m in _MARKER.finditer(text)]
    found += [(start, content + text[end:]) for start, content, end in _boxes(text)]
    return max(found)[1] if found else None
