"""Rating vs ranking: do a judge's ratings of two models' responses imply the preference its comparison verdicts give?

*Peering Through Preferences* (Bansal et al.) found that ratings and rankings of the same pairs disagree
about 60% of the time, for humans and AI judges alike. Per shared item, the score-implied preference is
X when X's score is higher, Y when lower, and a tie when they are equal; the ranking is the comparison
verdict's outcome for X (response A) against Y (response B). The report gives the agreement rate with
its Wilson interval, the 3×3 matrix (rows: ratings, columns: ranking), Cohen's κ and the items that disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from service.core.statistics import cohen_kappa, wilson_interval

X, TIE, Y = "x", "tie", "y"
PREFERENCES = (X, TIE, Y)


@dataclass(frozen=True)
class PairedJudgments:
    """One item judged three ways: X's and Y's score, and the comparison outcome of X against Y."""

    item_id: str
    score_x: float
    score_y: float
    ranking: str  # X, TIE or Y

    @property
    def from_scores(self) -> str:
        """The preference the two scores imply."""
        return X if self.score_x > self.score_y else Y if self.score_x < self.score_y else TIE


def ranking_preference(outcome_for_a: str, first: str, second: str, tie: str) -> str | None:
    """A comparison outcome (``first``: A better, ``second``: B better, ``tie``) as X/TIE/Y; None for anything else."""
    return {first: X, second: Y, tie: TIE}.get(outcome_for_a)


def consistency(pairs: Sequence[PairedJudgments]) -> dict[str, Any]:
    """Agreement of score-implied preferences with comparison verdicts over ``pairs`` (see the module docstring)."""
    ratings = [p.from_scores for p in pairs]
    rankings = [p.ranking for p in pairs]
    agreed = sum(r == k for r, k in zip(ratings, rankings))
    n = len(pairs)
    matrix = {r: {k: 0 for k in PREFERENCES} for r in PREFERENCES}
    for r, k in zip(ratings, rankings):
        matrix[r][k] += 1
    interval = wilson_interval(agreed, n)
    return {
        "n_items": n,
        "n_agree": agreed,
        "agreement_rate": agreed / n if n else None,
        "agreement_rate_ci95": list(interval) if interval else None,
        "disagreement_rate": (n - agreed) / n if n else None,
        "matrix": matrix,
        "cohen_kappa": cohen_kappa(ratings, rankings),
        "ties": {"from_scores": ratings.count(TIE), "from_comparison": rankings.count(TIE)},
        "disagreements": [{"item_id": p.item_id, "score_x": p.score_x, "score_y": p.score_y,
                           "from_scores": p.from_scores, "from_comparison": p.ranking}
                          for p in pairs if p.from_scores != p.ranking],
    }
