"""The pairwise verdict scales: three labels (``1``, ``2``, ``tie``) or Arena-Hard's five (``scale: 5``).

With ``scale: 5`` the judge sees the two responses as "Assistant A" (shown first) and "Assistant B"
(shown second) and answers with exactly one of Arena-Hard's verdicts, constrained:
``A>>B`` (A significantly better), ``A>B`` (slightly better), ``A=B`` (tie), ``B>A``, ``B>>A``.
The letters are positions, as in Arena-Hard's two games: in order ``ba`` "Assistant A" is response B.

Preference mapping (Arena-Hard's ``show_result.py``: ``A>B`` is one won battle, ``A>>B`` is
``weight`` won battles, ``A=B`` one tie), for the response shown first:

====== ================= ===================
label  win credit        Bradley–Terry battles
====== ================= ===================
A>>B   1                 strong_weight (3)
A>B    1                 1
A=B    ½                 1
B>A    0                 1
B>>A   0                 strong_weight (3)
====== ================= ===================

So a call's preference for the item's response A is P(A better) + ½·P(tie), exactly as on the
three-label scale: strength never moves the win rate, the tie margin, BPDE or the position
consistency, which all stay comparable across scales. Strength counts where Arena-Hard counts it,
in the battles: each call gives A a win credit Σ P(label)·weight·credit over Σ P(label)·weight
battles; the item's battle (stored in the verdict as ``details.battle``: ``score`` = credit ÷
battles, ``weight`` = battles per call, averaged over orders and samples) is what leaderboards fit
Bradley–Terry on. ``weighted_win_rate`` in the summary is the share of weighted battles A wins,
Arena-Hard's score against the baseline.
"""

from __future__ import annotations

import functools

from service.core.protocols.pairwise.models import PairwiseOptions
from service.core.two_responses import THREE_POINT, VerdictScale

FIVE_POINT_LABELS = ("A>>B", "A>B", "A=B", "B>A", "B>>A")
FIVE_POINT_QUESTION = (
    "Which assistant's answer is better? Answer with exactly one of: \"A>>B\" (Assistant A is significantly "
    "better), \"A>B\" (Assistant A is slightly better), \"A=B\" (tie, relatively the same), \"B>A\" (Assistant B "
    "is slightly better) or \"B>>A\" (Assistant B is significantly better)."
)
FIVE_POINT_RATIONALE_QUESTION = (
    "First explain briefly which assistant's answer is better and by how much. Do not give the final verdict yet."
)
FIVE_POINT_CREDIT = {"A>>B": 1.0, "A>B": 1.0, "A=B": 0.5, "B>A": 0.0, "B>>A": 0.0}
STRONG_LABELS = ("A>>B", "B>>A")


@functools.lru_cache(maxsize=16)  # one scale object per weight: its order tables are computed once
def five_point(strong_weight: float) -> VerdictScale:
    """Arena-Hard's five verdicts, a strong one counting as ``strong_weight`` battles."""
    return VerdictScale(
        labels=FIVE_POINT_LABELS, first_credit=FIVE_POINT_CREDIT, question=FIVE_POINT_QUESTION,
        rationale_question=FIVE_POINT_RATIONALE_QUESTION,
        battle_weight={label: float(strong_weight) for label in STRONG_LABELS},
        slot_names=("Assistant A", "Assistant B"),
    )


def scale_of(options: PairwiseOptions) -> VerdictScale:
    """The verdict scale the options choose (``scale``: 3 or 5, with ``strong_weight``)."""
    return five_point(options.strong_weight) if options.scale == 5 else THREE_POINT
