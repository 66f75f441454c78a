"""The protocol registry: one line per protocol package, whose ``protocol`` module registers it by name.

A package holds everything about its protocol (models, prompts, parser, combiner, aggregator and the
declarations in service.core.protocol_meta); the rest of the service reads them from the registry.
"""

PACKAGES = (
    "service.core.protocols.pairwise",
    "service.core.protocols.rating",
    "service.core.protocols.answer_matching",
    "service.core.protocols.href",
    "service.core.protocols.goal_success",
    "service.core.protocols.constraints",
)
# what the CLI, the client and the leaderboard pages ask for when no protocol is named
DEFAULT_PROTOCOL = "pairwise"
