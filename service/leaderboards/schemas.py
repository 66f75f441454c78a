"""The leaderboard as GET /v1/leaderboards/{suite} returns it (the stored snapshot, typed)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from service.protocols.schemas import MetricKindOut


class LeaderboardRow(BaseModel):
    """One model's run: the headline metric with its interval, and its Elo where the protocol ranks by battles.

    Protocols add their leaderboard columns (GET /v1/protocols ``leaderboard.columns``, e.g. a
    length-controlled win rate) as further fields.
    """

    model_config = ConfigDict(extra="allow")
    model: str
    evaluation_id: str
    suite_version: int | None
    completed_at: datetime | None
    metric: str = Field(description="The headline metric's name (the protocol's `headline_metric`).")
    value: float | None = Field(description="The headline metric; null when nothing was scored.")
    ci95: tuple[float, float] | None = Field(description="Its 95% interval.")
    n: int | None = Field(description="Items scored.")
    baseline_model: str | None
    avg_length: float | None = Field(default=None, description="Mean length in characters of the model's judged "
                                                              "responses (AlpacaEval's avg_length); null when the "
                                                              "protocol judges no single response.")
    rank: int | None = Field(default=None, description="1 = best (latest runs only): by Elo where there is one, "
                                                       "then by the metric.")
    elo: float | None = Field(default=None, description="Bradley–Terry strength on the Elo scale (ranked protocols; "
                                                       "null when not finite).")
    elo_ci95: tuple[float | None, float | None] | None = Field(default=None, description="Bootstrap 95% interval "
                                                                                         "of the Elo.")
    rank_best: int | None = Field(default=None, description="Best rank the intervals allow: 1 + the models whose "
                                                           "interval lies entirely above this one (Elo's where every "
                                                           "ranked row has one, else the metric's; latest runs only).")
    rank_worst: int | None = Field(default=None, description="Worst rank the intervals allow: the models whose "
                                                            "interval does not lie entirely below this one.")


class RankingMethod(BaseModel):
    """How Elo was computed: Bradley–Terry anchored at the baseline model's Elo."""

    method: Literal["bradley_terry"]
    anchor: str | None = Field(description="The model rated `anchor_rating`; null: centred on the geometric mean.")
    anchor_rating: float


class LeaderboardOut(BaseModel):
    """A leaderboard of one suite version × protocol × judge."""

    model_config = ConfigDict(extra="allow")
    suite: str
    suite_version: int | None
    protocol: str
    judge: str
    metric: str | None = Field(description="The headline metric every row's `value` holds.")
    metric_kind: MetricKindOut
    ranked_by: Literal["bradley_terry"] | None = Field(
        default=None, description="The protocol's ranking: bradley_terry means each value is a win rate against the "
                                  "baseline (0.5 is parity) and rows carry Elo.")
    columns: list[str] = Field(description="The protocol's leaderboard columns: extra fields of every row.")
    ranking: RankingMethod | None
    runs: Literal["latest", "all"] = Field(description="latest: the newest run per model, ranked; all: every run.")
    tags: list[str] = Field(default_factory=list, description="The tag filters applied (`key=value` or `key`): "
                                                               "only runs with these tags are ranked.")
    rows: list[LeaderboardRow]
