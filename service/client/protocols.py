"""The built-in protocols' typed items, options and review labels: the server's own models, for building
submissions that a type checker and the server both check (``JudgeserveClient.submit_evaluation`` takes them).

They import only pydantic. GET /v1/protocols describes every protocol a server runs, including ones
registered there that this client does not know; for those, items are plain mappings.
"""

from service.core.protocols.answer_matching.models import (
    AnswerMatchingItem, AnswerMatchingOptions, AnswerMatchingReview, AnswerMatchingSuiteItem,
)
from service.core.protocols.constraints.models import (
    Candidate, Constraint, ConstraintsItem, ConstraintsOptions, ConstraintsReview, ConstraintsSuiteItem,
)
from service.core.protocols.goal_success.models import (
    Goal, GoalLabel, GoalSuccessItem, GoalSuccessOptions, GoalSuccessReview, Turn,
)
from service.core.protocols.href.models import HrefItem, HrefOptions, HrefReview, HrefSuiteItem
from service.core.protocols.pairwise.models import (
    Message, PairwiseItem, PairwiseOptions, PairwiseReview, PairwiseSuiteItem,
)
from service.core.protocols.rating.models import RatingItem, RatingOptions, RatingReview, RatingSuiteItem

__all__ = [
    "AnswerMatchingItem", "AnswerMatchingOptions", "AnswerMatchingReview", "AnswerMatchingSuiteItem",
    "Candidate", "Constraint", "ConstraintsItem", "ConstraintsOptions", "ConstraintsReview", "ConstraintsSuiteItem",
    "Goal", "GoalLabel", "GoalSuccessItem", "GoalSuccessOptions", "GoalSuccessReview", "Turn",
    "HrefItem", "HrefOptions", "HrefReview", "HrefSuiteItem",
    "Message", "PairwiseItem", "PairwiseOptions", "PairwiseReview", "PairwiseSuiteItem",
    "RatingItem", "RatingOptions", "RatingReview", "RatingSuiteItem",
]
