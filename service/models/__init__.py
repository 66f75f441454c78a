"""ORM models, one module per table."""

from service.models.base import Base
from service.models.chunk import Chunk
from service.models.evaluation import Evaluation
from service.models.idempotency import IdempotencyRecord
from service.models.item import Item
from service.models.judge_cache import JudgeCacheEntry
from service.models.judgment import Judgment
from service.models.leaderboard_snapshot import LeaderboardSnapshot
from service.models.project import DEFAULT_PROJECT_ID, ApiKey, Project
from service.models.review import Review
from service.models.suite import Suite, SuiteItem
from service.models.verdict import Verdict
from service.models.webhook import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from service.models.worker_heartbeat import WorkerHeartbeat

__all__ = [
    "DEFAULT_PROJECT_ID", "ApiKey", "Base", "IdempotencyRecord", "Project", "Chunk", "Evaluation", "Item", "JudgeCacheEntry", "Judgment", "LeaderboardSnapshot", "Review", "Suite", "SuiteItem", "Verdict",
    "WebhookAttempt", "WebhookDelivery", "WebhookEndpoint", "WebhookEvent", "WorkerHeartbeat",
]
