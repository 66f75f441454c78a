"""Typed Python client for the judgeserve REST API (used by the ``judgeserve`` CLI)."""

from service.client.client import API_KEY_ENV, DEFAULT_URL, URL_ENV, JudgeserveClient, RetryEvent, new_idempotency_key
from service.client.errors import (
    ApiError, BadRequest, Conflict, ConnectionFailed, FieldProblem, JudgeserveError, NotFound, Problem, ServerError,
    UnexpectedResponse, Unauthorized, ValidationFailed, WaitTimeout,
)
from service.client.models import (
    DECISION_RULES, TERMINAL_STATUSES, Comparison, DecisionRule, Evaluation, EvaluationListItem, EvaluationPage,
    Judge, Judgment, Leaderboard, LeaderboardRow, Progress, ProtocolInfo, RatingVsRanking, Review, ReviewPage,
    Suite, SuiteDetail, Verdict,
    VerdictPage,
)
from service.client.protocols import (  # the built-in protocols' typed items, options and review labels
    AnswerMatchingItem,
    AnswerMatchingOptions,
    AnswerMatchingReview,
    AnswerMatchingSuiteItem,
    Candidate, Constraint, ConstraintsItem, ConstraintsOptions, ConstraintsReview, ConstraintsSuiteItem,
    Goal,
    GoalLabel,
    GoalSuccessItem,
    GoalSuccessOptions,
    GoalSuccessReview,
    Turn,
    HrefItem,
    HrefOptions,
    HrefReview,
    HrefSuiteItem,
    Message,
    PairwiseItem,
    PairwiseOptions,
    PairwiseReview,
    PairwiseSuiteItem,
    RatingItem,
    RatingOptions,
    RatingReview,
    RatingSuiteItem,
)

__all__ = [
    "API_KEY_ENV", "DEFAULT_URL", "URL_ENV", "JudgeserveClient", "RetryEvent", "new_idempotency_key",
    "ApiError", "BadRequest", "Conflict", "ConnectionFailed", "FieldProblem", "JudgeserveError", "NotFound", "Problem",
    "ServerError", "UnexpectedResponse", "Unauthorized", "ValidationFailed", "WaitTimeout",
    "DECISION_RULES", "TERMINAL_STATUSES", "ProtocolInfo", "Comparison", "DecisionRule", "Evaluation",
    "EvaluationListItem", "EvaluationPage", "Judge", "Judgment", "Leaderboard", "LeaderboardRow", "Progress", "Review",
    "RatingVsRanking", "ReviewPage", "Suite", "SuiteDetail", "Verdict", "VerdictPage",
    "AnswerMatchingItem", "AnswerMatchingOptions", "AnswerMatchingReview", "AnswerMatchingSuiteItem",
    "Candidate", "Constraint", "ConstraintsItem", "ConstraintsOptions", "ConstraintsReview", "ConstraintsSuiteItem", "Goal",
    "GoalLabel", "GoalSuccessItem", "GoalSuccessOptions", "GoalSuccessReview", "Turn", "HrefItem", "HrefOptions",
    "HrefReview", "HrefSuiteItem", "Message", "PairwiseItem", "PairwiseOptions", "PairwiseReview",
    "PairwiseSuiteItem", "RatingItem", "RatingOptions", "RatingReview", "RatingSuiteItem",
]
