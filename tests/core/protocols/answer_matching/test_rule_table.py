"""The answer-matching rule's table: every wrong match found on graded physics and chemistry answers, its correct
counterparts, and more real-world forms. The rule decides "match" or nothing; "nothing" sends the item to the judge.
"""

import pytest

from service.core.protocols.answer_matching.normalize import normalize_answer
from service.core.protocols.answer_matching.protocol import (
    AnswerMatchingItem, AnswerMatchingOptions, AnswerMatchingProtocol, rule_match,
)
from service.core.protocols.answer_matching.quantities import read_quantity

PROTOCOL = AnswerMatchingProtocol()
MATCH, JUDGE = "match", "judge"
NUM, TEXT = "numeric", "text"

# (response, reference, answer type, what the rule decides). A "judge" row is a pair the rule must not match:
# a wrong answer, or one it cannot read unambiguously.
WRONG = [
    # the cases: signs and operators were stripped
    ("T1 < T2", "T1 > T2", TEXT, JUDGE),
    ("CH3+", "CH3-", TEXT, JUDGE),
    # the cases: the last number was an exponent or a unit's power
    ("4.7x10^-9 M", "8.1 x 10^-9 M", NUM, JUDGE),
    ("3.141 x 10^-31", "7.2 \\times 10^{31}", NUM, JUDGE),
    ("-48.2 J K^{-1}", "-9.0 J K^{-1}", NUM, JUDGE),
    ("53211 g mol^-1", "17 g mol^-1", NUM, JUDGE),
    # the case: a range is not the number (either end, either side)
    ("10 to 20", "20", NUM, JUDGE),
    ("10 to 20", "10", NUM, JUDGE),
    ("10-20", "20", NUM, JUDGE),
    ("10–20", "20", NUM, JUDGE),
    ("10 - 20", "10", NUM, JUDGE),
    ("between 10 and 20", "20", NUM, JUDGE),
    ("from 10 to 20 K", "20 K", NUM, JUDGE),
    ("20", "10 to 20", NUM, JUDGE),
    ("10 to 20", "20", TEXT, JUDGE),
    # operators, relations and signs in text answers
    ("T1 ≤ T2", "T1 < T2", TEXT, JUDGE),
    ("x >= 5", "x > 5", TEXT, JUDGE),
    ("T1 + T2", "T1 - T2", TEXT, JUDGE),
    ("Fe^{2+}", "Fe^{3+}", TEXT, JUDGE),
    ("Fe2+", "Fe3+", TEXT, JUDGE),
    ("CO", "Co", TEXT, JUDGE),                 # carbon monoxide, cobalt
    ("NO", "No", TEXT, JUDGE),                 # nitric oxide, nobelium
    ("mM", "MM", TEXT, JUDGE),
    ("F = m a", "F = m", TEXT, JUDGE),         # 'a' is a symbol here, not an article
    ("2 a", "2", TEXT, JUDGE),
    ("x²", "x2", TEXT, JUDGE),
    ("f'(x)", "f(x)", TEXT, JUDGE),
    ("n!", "n", TEXT, JUDGE),
    ("|x|", "x", TEXT, JUDGE),
    ("[H+]", "H+", TEXT, JUDGE),               # a concentration, not the ion
    ("3:2", "32", TEXT, JUDGE),
    (".5", "5", TEXT, JUDGE),
    ("1,2", "12", TEXT, JUDGE),
    ("x, y", "xy", TEXT, JUDGE),
    ("-5", "5", TEXT, JUDGE),
    ("x - 1", "x 1", TEXT, JUDGE),
    ("(x, y)", "x y", TEXT, JUDGE),            # a pair, not a product
    ("x, a", "x", TEXT, JUDGE),
    # the quantity, not its power of ten or its unit's power
    ("6.3 x 10^-7", "6.3", NUM, JUDGE),
    ("6.3 x 10^-7", "-7", NUM, JUDGE),
    ("4.7e-9", "4.7", NUM, JUDGE),
    ("1e6", "6", NUM, JUDGE),
    ("10^3", "3", NUM, JUDGE),
    ("9.8 m/s^2", "2", NUM, JUDGE),
    ("3 s^-1", "-1", NUM, JUDGE),
    ("2.5 K^{-1}", "-1", NUM, JUDGE),
    ("x10^-9", "-9", NUM, JUDGE),
    # units must agree
    ("5 mM", "5 M", NUM, JUDGE),
    ("5 m", "5 km", NUM, JUDGE),
    ("5 ms^-1", "5 m s^-1", NUM, JUDGE),       # per millisecond, metres per second
    ("5 mm", "5", NUM, JUDGE),                 # the reference says nothing of the unit
    ("$5", "€5", NUM, JUDGE),
    ("5 million", "5", NUM, JUDGE),
    ("5 J/mol K", "5 J K/mol", NUM, JUDGE),    # J/mol K is read two ways
    # numbers that change meaning
    ("-5", "5", NUM, JUDGE),
    ("\u22125", "5", NUM, JUDGE),
    ("1,5", "15", NUM, JUDGE),                 # a decimal comma or a list
    ("1,5", "1.5", NUM, JUDGE),
    ("0,500", "500", NUM, JUDGE),
    ("1 1/2", "0.5", NUM, JUDGE),
    ("1½", "5.5", NUM, JUDGE),                 # NFKC alone reads 1½ as 11/2
    ("0.5%", "0.5", NUM, JUDGE),
    ("25%", "25", NUM, JUDGE),                 # a bare 25 may or may not mean 25%
    ("5!", "5", NUM, JUDGE),
    ("2^10", "2", NUM, JUDGE),
    ("2^10", "10", NUM, JUDGE),
    ("6 * 7 = 42", "42", NUM, JUDGE),          # an unevaluated expression before the value: not read
    ("x = 5, y = 3", "3", NUM, JUDGE),
    ("5 ± 0.1", "5", NUM, JUDGE),
    # words and symbols that change the stated number
    ("< 5", "5", NUM, JUDGE),
    ("x > 5", "5", NUM, JUDGE),
    ("x ≠ 5", "5", NUM, JUDGE),
    ("at least 5", "5", NUM, JUDGE),
    ("more than 5", "5", NUM, JUDGE),
    ("not 5", "5", NUM, JUDGE),
    ("The answer isn't 5", "5", NUM, JUDGE),
    ("minus 5", "5", NUM, JUDGE),
    ("maybe 5", "5", NUM, JUDGE),
    ("almost 5", "5", NUM, JUDGE),
    ("It increases by 5", "5", NUM, JUDGE),
    ("5 times larger", "5", NUM, JUDGE),
    ("The answer is 42. No wait, 43.", "42", NUM, JUDGE),
    ("\\boxed{42}. Actually it is 43.", "42", NUM, JUDGE),
    ("√4", "4", NUM, JUDGE),
    ("√ 4", "4", NUM, JUDGE),
    ("\\sqrt 4", "4", NUM, JUDGE),
    ("\\sqrt{4}", "4", NUM, JUDGE),
    ("log 5", "5", NUM, JUDGE),
    ("f(5)", "5", NUM, JUDGE),
    ("x * 5", "5", NUM, JUDGE),
    ("x = - 5", "5", NUM, JUDGE),
    ("50% of x = 5", "5", NUM, JUDGE),
    ("3:45", "45", NUM, JUDGE),
    ("5 /", "5", NUM, JUDGE),
    ("5-", "5", NUM, JUDGE),
    ("0x1F", "0", NUM, JUDGE),
    ("1 3/2", "2.5", NUM, JUDGE),
    ("I doubt it is 5", "5", NUM, JUDGE),
    ("It might be 5", "5", NUM, JUDGE),
    ("I don’t think it is 5", "5", NUM, JUDGE),
    ("Initially 5", "5", NUM, JUDGE),              # 1 and 3/2, or a mixed number written oddly
]

RIGHT = [
    # the counterparts of the cases
    ("T1 < T2", "T1<T2", TEXT, MATCH),
    ("T1 > T2", "T1 > T2", TEXT, MATCH),
    ("CH3+", "CH3+", TEXT, MATCH),
    ("CH3 +", "CH3+", TEXT, MATCH),
    ("CH3-", "CH3−", TEXT, MATCH),
    ("CH₃⁺", "CH3^+", TEXT, MATCH),
    ("4.7x10^-9 M", "4.7 × 10^{-9} M", NUM, MATCH),
    ("8.1 x 10^-9 M", "8.1e-9 M", NUM, MATCH),
    ("3.141 x 10^-31", "3.141 \\times 10^{-31}", NUM, MATCH),
    ("7.2 \\times 10^{31}", "7.2e31", NUM, MATCH),
    ("-48.2 J K^{-1}", "-48.2 J/K", NUM, MATCH),
    ("−48.2 J K⁻¹", "-48.2 J K^{-1}", NUM, MATCH),
    ("$-48.2\\,\\mathrm{J\\,K^{-1}}$", "-48.2 J/K", NUM, MATCH),
    ("53211 g mol^-1", "53,211 g/mol", NUM, MATCH),
    ("53\u2009211 g/mol", "53211 g mol^-1", NUM, MATCH),
    ("53\\,211 g mol^{-1}", "53211 g/mol", NUM, MATCH),
    ("20", "20", NUM, MATCH),
    ("The answer is 20.", "20", NUM, MATCH),
    ("10 to 20", "10 to 20", TEXT, MATCH),
    # operators in text answers, written differently
    ("T1 ≤ T2", "T1 <= T2", TEXT, MATCH),
    ("$T_1 \\le T_2$", "T_1 ≤ T_2", TEXT, MATCH),
    ("x>5", "x > 5", TEXT, MATCH),
    ("x ≠ 5", "x != 5", TEXT, MATCH),
    ("x^{2}", "x²", TEXT, MATCH),
    ("\\frac{1}{2}", "1/2", TEXT, MATCH),
    ("The answer is (B).", "B", TEXT, MATCH),
    ("'A'", "A", TEXT, MATCH),
    ("STRASSE", "Straße", TEXT, MATCH),
    ("Final answer: **Sodium chloride**", "sodium chloride", TEXT, MATCH),
    ("The answer is \\boxed{\\text{Paris}}.", "Paris", TEXT, MATCH),
    # one quantity in its written forms
    ("6.3x10^-7", "6.3e-7", NUM, MATCH),
    ("6.3 × 10^{-7}", "6.3e-7", NUM, MATCH),
    ("6.3 × 10⁻⁷", "6.3E-07", NUM, MATCH),
    ("6.3 \\times 10^{-7}", "6.3e-7", NUM, MATCH),
    ("6.3 \\cdot 10^{-7}", "6.3e-7", NUM, MATCH),
    ("6.3·10^-7", "6.3e-7", NUM, MATCH),
    ("6.3*10**-7", "6.3e-7", NUM, MATCH),
    ("$6.3 \\times 10^{-7}$", "0.00000063", NUM, MATCH),
    ("10^{-9} M", "1e-9 M", NUM, MATCH),
    ("[H+] = 1.0 \\times 10^{-7} M", "1e-7 M", NUM, MATCH),
    ("5 m/s^2", "5 m s^{-2}", NUM, MATCH),
    ("5 m/s²", "5 m s^-2", NUM, MATCH),
    ("5 J/(mol K)", "5 J mol^{-1} K^{-1}", NUM, MATCH),
    ("25 °C", "25°C", NUM, MATCH),
    ("30^\\circ", "30°", NUM, MATCH),
    ("1,234,567", "1234567", NUM, MATCH),
    ("$1,234.50", "$1234.5", NUM, MATCH),
    ("The total is 1,234,567 dollars", "1234567 dollars", NUM, MATCH),
    ("pH = 7.4", "7.4", NUM, MATCH),
    ("T_1 = 300 K", "300 K", NUM, MATCH),
    ("E_{n=2} = -3.4 eV", "-3.4 eV", NUM, MATCH),
    ("x = \u22127", "-7", NUM, MATCH),
    ("approximately 5", "5", NUM, MATCH),
    ("**Answer:** 42", "42", NUM, MATCH),
    ("The answer is \\boxed{42}.", "42", NUM, MATCH),
    ("First I tried 41. The answer is 42.", "42", NUM, MATCH),
    ("f(x) = 5", "5", NUM, MATCH),
    ("a + b = 5", "5", NUM, MATCH),
    ("x^2 = 5", "5", NUM, MATCH),
    ("It's 5", "5", NUM, MATCH),
    ("1.5 × 10^3 m", "1500 m", NUM, MATCH),
    ("5 m.", "5 m", NUM, MATCH),
    ("+8", "8", NUM, MATCH),
    # equal quantities written differently: 0.5, 1/2, 50%
    ("0.5", "1/2", NUM, MATCH),
    ("\\frac{1}{2}", "0.5", NUM, MATCH),
    ("\\boxed{\\dfrac{1}{2}}", "0.5", NUM, MATCH),
    ("½", "0.5", NUM, MATCH),
    ("1½", "1.5", NUM, MATCH),
    ("50%", "0.5", NUM, MATCH),
    ("0.5", "50%", NUM, MATCH),
    ("12.5%", "1/8", NUM, MATCH),
    ("25 percent", "25%", NUM, MATCH),
    ("25\\%", "25 per cent", NUM, MATCH),
    # written differently but not read by the text rule: the judge decides, never a rule "no match"
    ("0.5", "1/2", TEXT, JUDGE),
    ("50%", "0.5", TEXT, JUDGE),
    ("-48.2 J K^{-1}", "-48.2 J/K", TEXT, JUDGE),
    ("forty-two", "42", NUM, JUDGE),
    ("The answer is 42. I hope this helps!", "42", NUM, JUDGE),
]


def _item(response: str, reference: str, answer_type: str) -> AnswerMatchingItem:
    return AnswerMatchingItem(id="t", question="q", response=response, reference_answers=[reference],
                              answer_type=answer_type)


@pytest.mark.parametrize("response, reference, answer_type, decision", WRONG + RIGHT)
def test_rule_table(response, reference, answer_type, decision):
    rule = rule_match(_item(response, reference, answer_type))
    assert (MATCH if rule is not None else JUDGE) == decision


@pytest.mark.parametrize("response, reference", [(r, ref) for r, ref, _, _ in WRONG])
@pytest.mark.parametrize("answer_type", [TEXT, NUM])
def test_no_wrong_pair_matches_under_either_rule(response, reference, answer_type):
    assert rule_match(_item(response, reference, answer_type)) is None
    assert rule_match(_item(reference, response, answer_type)) is None


@pytest.mark.parametrize("response, reference, answer_type, decision", WRONG + RIGHT)
def test_an_undecided_item_goes_to_the_judge_and_a_match_costs_no_call(response, reference, answer_type, decision):
    item = _item(response, reference, answer_type)
    calls = PROTOCOL.plan_calls(item, AnswerMatchingOptions())
    assert (calls == []) is (decision == MATCH)
    verdict = PROTOCOL.combine(item, [], AnswerMatchingOptions())
    if decision == MATCH:
        assert (verdict.outcome, verdict.details["method"]) == ("match", "rule")
    else:  # no judge output yet: unscored, never a rule "no_match"
        assert verdict.unscored and verdict.outcome is None and verdict.details["method"] == "judge"


@pytest.mark.parametrize("text, unit", [
    ("-48.2 J K^{-1}", "J K^-1"),
    ("-48.2 J/K", "J K^-1"),
    ("53,211 g/mol", "g mol^-1"),
    ("9.8 m/s^2", "m s^-2"),
    ("5 J/(mol·K)", "J mol^-1 K^-1"),
    ("4.7 × 10^{-9} M", "M"),
    ("$5", "$"),
    ("42", ""),
    ("5 J/mol K", '"J/mol K"'),   # not read as a unit: only the same words match it
])
def test_units_are_read_in_one_form(text, unit):
    assert read_quantity(text).unit == unit


@pytest.mark.parametrize("text, expected", [
    ("T1 < T2", "T1<T2"),
    ("T1 > T2", "T1>T2"),
    ("x <= 5", "x≤5"),
    ("CH3+", "CH3+"),
    ("CH3-", "CH3-"),
    ("CH₃⁺", "CH3^+"),
    ("F = m a", "F=m a"),
    ("(B)", "B"),
    ("[H+]", "[H+]"),
    ("n!", "n!"),
    ("f'(x)", "f'(x)"),
    ("don't", "dont"),
    ("Co", "Co"),
    ("NaCl", "NaCl"),
    ("$x \\le 5$", "x≤5"),
    ("\\frac{x+1}{2}", "(x+1)/2"),
    ("10–20", "10-20"),
    (".5", ".5"),
    ("Paris?", "paris?"),
    ("Paris, London", "paris london"),
    ("(x, y)", "x, y"),
    ("1, 5", "1, 5"),
])
def test_normalisation_keeps_what_carries_meaning(text, expected):
    assert normalize_answer(text) == expected
