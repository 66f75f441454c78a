"""The numeric rule's reader: the one quantity a final answer states, or nothing when it does not state exactly one.

A quantity is a signed mantissa with its power of ten (``6.3x10^-7``, ``6.3 × 10^{-7}``, ``6.3e-7``,
``6.3\\times 10^{-7}``, ``6.3·10^-7``, ``6.3*10**-7``), a fraction (``3/4``, ``1 1/2``, ``\\frac{3}{4}``) or a
percentage, with its unit (``J K^{-1}`` and ``J/K`` are one unit). The power of a unit (``K^{-1}``, ``mol^-1``,
``m/s^2``), a subscript (``T_1``) and a digit inside a formula (``H2O``) are never the quantity. Anything that
makes the reading uncertain gives no quantity, and then the judge decides: a second number (``10 to 20``,
``10-20``, ``between 10 and 20``, ``6 * 7 = 42``), an operator or comparison around it (``< 5``, ``2^10``,
``± 0.1``, ``5!``), a word that changes it (``not``, ``at least``, ``minus``, ``maybe``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from service.core.protocols.answer_matching.forms import final_answer_segment, prepare

_POWER = r"\^\s*(?:\{\s*[-+]?\d+\s*\}|\(\s*[-+]?\d+\s*\)|[-+]?\d+(?![\d.]))"
_TIMES = r"[x×X*·⋅∙]"
_MANTISSA = r"(?:[1-9]\d{0,2}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+"
_QUANTITY = re.compile(rf"""
    (?<![\w.^_])(?<!\^[-+{{(])(?<!\^\{{[-+])(?<!\^\([-+])   # not glued to a word, a decimal point or a power
    (?P<sign>[-+])?
    (?:
        10\s*(?P<bare>{_POWER})                     # a power of ten alone: 10^-9
      | (?P<whole>\d+)[ ]+(?P<mnum>\d+)\s*/\s*(?P<mden>\d+)   # a mixed number: 1 1/2
      | (?P<num>\d+)\s*/\s*(?P<den>\d+)             # a fraction: 3/4
      | (?P<mant>{_MANTISSA})
        (?:\s*{_TIMES}\s*10\s*(?P<p10>{_POWER}) | [eE](?P<e>[-+]?\d+))?
    )
    (?![\d.,]?\d)
    (?P<pct>\s*(?:%|percent\b|per\s?cent\b))?
""", re.VERBOSE)

# What is masked before quantities are looked for: it holds digits that are not a stated number.
_SUBSCRIPT = re.compile(r"_\s*(?:\{[^{}]*\}|\w+)")
_UNIT_POWER = re.compile(rf"(?<=[^\W\d_])\s*{_POWER}")            # K^{-1}, mol^-1, s^2, x^2
_IN_FORMULA = re.compile(r"(?<![\w.])[^\W\d_][\w]*")               # H2O, T1, CO2 (but not the e of 6.3e7)

_BEFORE_OK = set("=≈~:,$€£¥₹")        # what may stand right before the number, besides a space
_OPERATOR_END = set("+-*/×÷·^<>≤≥≠±∓(|\\[{")
# Besides letters, digits (masked ones: H2O, x^2) and spaces, what the text before the number may hold:
# x =, [H+] =, T_{1} =, f(x) =, a + b = ... but not √, \sqrt, <, ±, !, ?, % or any other sign.
_LEAD_SYMBOLS = set("=≈~:,.'$€£¥₹_{}[]()+-*/·^")
_FORBIDDEN_WORDS = frozenset("""
    not no never neither nor none cannot without except excluding but instead rather wrong incorrect false unless
    besides other apart less more fewer greater larger smaller bigger higher lower least most max maximum min
    minimum under over above below beyond exceed exceeds exceeding exceeded than up within between from range
    ranging at almost nearly times plus minus negative positive half twice double triple quarter third thirds
    square squared cube cubed root sqrt log ln exp sin cos tan reciprocal inverse factor increase increases
    increased decrease decreases decreased change changes changed by difference ratio order per percent each every
    multiple fraction product sum divided multiplied maybe perhaps possibly probably guess either or unsure
    uncertain if wait actually arcsin arccos arctan sinh cosh tanh sec csc cot det lim mod floor ceil abs gcd
    lcm choose factorial power exponent doubt doubtful unlikely hardly barely scarcely impossible could might may
    should would suppose supposing assume assuming whether aside unlike versus vs compared initially previously
    originally earlier formerly
""".split())
_CURRENCY = re.compile(r"([$€£¥₹])\s*$")
_UNIT_FACTOR = re.compile(rf"([^\W\d_][\w']*|°[^\W\d_]?|[$€£¥₹‰])\s*({_POWER})?")
_UNIT_SEPARATORS = " ·⋅*"


@dataclass(frozen=True)
class Quantity:
    """A stated quantity: its value, whether it was written as a percentage, and its unit ('' when none)."""

    value: float
    percent: bool = False
    unit: str = ""


def _power(text: str) -> int:
    return int(re.sub(r"[\^{}()\s]", "", text))


def _magnitude(m: re.Match[str]) -> float | None:
    """The token's unsigned value; None for a zero denominator or a mixed number like 1 3/2."""
    if m.group("bare") is not None:
        return float(f"1e{_power(m.group('bare'))}")
    if m.group("mden") is not None:
        numerator, denominator = int(m.group("mnum")), int(m.group("mden"))
        return int(m.group("whole")) + numerator / denominator if 0 <= numerator < denominator else None
    if m.group("den") is not None:
        denominator = int(m.group("den"))
        return int(m.group("num")) / denominator if denominator else None
    power = int(m.group("e")) if m.group("e") else _power(m.group("p10")) if m.group("p10") else 0
    return float(f"{m.group('mant').replace(',', '')}e{power}")  # one rounding: 4.7x10^-9 is 4.7e-9


def _value(m: re.Match[str]) -> float | None:
    """The token's value, or None when it is not a finite number (3/0, 1e999)."""
    try:
        value = _magnitude(m)
    except OverflowError:
        return None
    if value is None or not math.isfinite(value):
        return None
    return -value if m.group("sign") == "-" else value


def _mask(text: str) -> str:
    """The text with subscripts, powers of letters and digits inside formulas blanked out (same length)."""
    def blank(m: re.Match[str]) -> str:
        return "\0" * len(m.group())
    text = _SUBSCRIPT.sub(blank, text)
    text = _UNIT_POWER.sub(blank, text)
    return _IN_FORMULA.sub(lambda m: re.sub(r"\d", "\0", m.group()), text)


def _plain_lead(lead: str) -> bool:
    """Whether what precedes the number leaves it as stated: ``x =``, ``about``, ``The speed is``, ``$``."""
    if lead and not lead[-1].isspace() and lead[-1] not in _BEFORE_OK:
        return False
    stripped = lead.rstrip()
    if stripped and stripped[-1] in _OPERATOR_END:
        return False
    if any(not (ch.isalnum() or ch.isspace() or ch in _LEAD_SYMBOLS) for ch in lead):
        return False
    words = re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", lead.casefold())
    return not any(w in _FORBIDDEN_WORDS or w.endswith("n't") for w in words)


def _unit_factors(text: str) -> list[tuple[str, int]] | None:
    """``J K^{-1}``, ``J/K``, ``J/(mol K)``, ``m/s^2`` as (symbol, power) in written order; None if not a unit.

    After ``/`` only one factor or one bracketed group may follow: ``J/mol K`` is read two ways by people.
    """
    factors: list[tuple[str, int]] = []
    head, slash, tail = text.partition("/")
    if "/" in tail:
        return None
    for part, sign in ((head, 1), (tail, -1)) if slash else ((head, 1),):
        part = part.strip()
        if sign == -1 and part.startswith("(") and part.endswith(")"):
            part = part[1:-1]
        elif sign == -1 and not _UNIT_FACTOR.fullmatch(part):
            return None
        pos = 0
        while pos < len(part):
            if part[pos] in _UNIT_SEPARATORS:
                pos += 1
                continue
            m = _UNIT_FACTOR.match(part, pos)
            if m is None:
                return None
            factors.append((m.group(1), sign * (_power(m.group(2)) if m.group(2) else 1)))
            pos = m.end()
    return factors


def _unit(lead: str, trail: str) -> str | None:
    """The unit written around the number (a currency sign before it, the rest after it), or None if unclear."""
    if trail[:1] == "!":  # 5! is a factorial
        return None
    text = re.sub(r"[.,;]+$", "", trail.strip()).strip()
    if text and (text[0] in _OPERATOR_END | set("=!?:,") and not re.match(r"/\s*[^\W\d_(]", text)):
        return None
    currency = _CURRENCY.search(lead)
    text = " ".join(filter(None, [currency.group(1) if currency else "", text]))
    if not text:
        return ""
    factors = _unit_factors(text)
    if factors is None:
        return f'"{" ".join(text.split())}"'  # an unparsed unit matches only the same words
    return " ".join(symbol if power == 1 else f"{symbol}^{power}" for symbol, power in factors)


def read_quantity(text: str) -> Quantity | None:
    """The one quantity the text's final answer (after its last answer marker, if any) states, or None."""
    segment = final_answer_segment(text)
    segment = prepare(text) if segment is None else segment
    segment = segment.replace("**", "^")  # Python's power: 10**-7
    masked = _mask(segment)
    found = list(_QUANTITY.finditer(masked))
    if len(found) != 1:
        return None
    (token,) = found
    if re.search(r"\d", masked[:token.start()] + masked[token.end():]):
        return None
    value = _value(token)
    lead, trail = segment[:token.start()], segment[token.end():]
    if value is None or not _plain_lead(lead):
        return None
    unit = _unit(lead, trail)
    return None if unit is None else Quantity(value, token.group("pct") is not None, unit)


def _close(x: float, reference: float, tolerance: float) -> bool:
    return abs(x - reference) <= tolerance * abs(reference)


def quantities_match(answer: Quantity, reference: Quantity, tolerance: float) -> bool:
    """Same unit, and values within ``tolerance`` relative to the reference.

    A percentage on one side only counts by its value (25% is 0.25): whether a bare 25 meant 25% the rule
    cannot tell, so that pair goes to the judge.
    """
    if answer.unit != reference.unit:
        return False
    x = answer.value / 100.0 if answer.percent and not reference.percent else answer.value
    r = reference.value / 100.0 if reference.percent and not answer.percent else reference.value
    return _close(x, r, tolerance)
