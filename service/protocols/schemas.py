"""GET /v1/protocols: each registered protocol with its JSON Schemas and declarations."""

from __future__ import annotations

import functools
from typing import Any, Literal

from pydantic import BaseModel, Field, create_model

from service.core.protocol import EvaluationProtocol, all_protocols
from service.core.protocol_meta import LabelForm, PageView


class MetricKindOut(BaseModel):
    """How an item counts in the headline metric; decides the regression gate's test."""

    kind: Literal["binary", "continuous", "bounded"] = Field(
        description="binary: share of items with `counted_outcome` (exact McNemar); bounded: mean of scores in "
                    "`range`; continuous: mean of unbounded scores (both: sign-flip permutation test).")
    range: tuple[float, float] | None = Field(description="[low, high] of an item's value; null when unbounded.")
    counted_outcome: str | None = Field(description="binary metrics: the verdict outcome that counts 1.")


class LeaderboardSpec(BaseModel):
    """What a leaderboard of the protocol shows besides the headline metric."""

    columns: list[str] = Field(description="Summary fields copied into each leaderboard row.")
    ranking: Literal["bradley_terry"] | None = Field(
        description="bradley_terry: rows also carry Elo from Bradley–Terry over every verdict against the baseline.")


class ProtocolSchemas(BaseModel):
    """JSON Schemas (draft 2020-12) of what the protocol accepts and returns."""

    item: dict[str, Any] = Field(description="An item of `POST /v1/evaluations` `items`.")
    suite_item: dict[str, Any] | None = Field(description="An item of a submission on a stored suite; null: the "
                                                          "protocol does not run on suites.")
    options: dict[str, Any] = Field(description="`options` of `POST /v1/evaluations`.")
    review: dict[str, Any] = Field(description="A human label: the body of `POST /v1/reviews/{id}` (with reviewer).")
    summary: dict[str, Any] = Field(description="`summary` of a completed evaluation, with the review counts.")
    reliability: dict[str, Any] = Field(description="`reliability` of a completed evaluation.")


class ProtocolOut(BaseModel):
    """One registered protocol."""

    name: str
    description: str = Field(description="One line on what the protocol judges and reports.")
    headline_metric: str = Field(description="The summary field that `summary.metric` names and leaderboards rank by.")
    metric_kind: MetricKindOut
    leaderboard: LeaderboardSpec
    label_form: LabelForm
    page_view: PageView
    schemas: ProtocolSchemas


class ProtocolList(BaseModel):
    """Every registered protocol, in registry order."""

    data: list[ProtocolOut]


def class_prefix(protocol: EvaluationProtocol) -> str:
    """``multi_turn_chat`` → ``MultiTurnChat``: the prefix of the protocol's generated schema names."""
    return "".join(part.capitalize() for part in protocol.name.split("_"))


@functools.cache
def stored_summary_model(protocol: EvaluationProtocol) -> type[BaseModel]:
    """The protocol's summary as stored: plus the review counts the service keeps current."""
    return create_model(
        f"{class_prefix(protocol)}EvaluationSummary", __base__=protocol.summary_model,
        __doc__=f"{protocol.summary_model.__doc__ or ''} With the review queue's counts.",
        n_needs_review=(int | None, Field(default=None, description="Items flagged for human review.")),
        n_reviews_open=(int | None, Field(default=None, description="Flagged items still waiting for a label.")),
        n_reviewed=(int | None, Field(default=None, description="Items whose verdict a human label replaced.")),
    )


def describe(protocol: EvaluationProtocol) -> ProtocolOut:
    """The protocol's public description, its schemas generated from its own models."""
    suite_item = protocol.suite_item_model
    return ProtocolOut(
        name=protocol.name, description=protocol.description, headline_metric=protocol.headline_metric,
        metric_kind=MetricKindOut(**protocol.metric_kind.as_json()),
        leaderboard=LeaderboardSpec(columns=list(protocol.leaderboard_columns), ranking=protocol.ranking),
        label_form=protocol.label_form, page_view=protocol.page_view,
        schemas=ProtocolSchemas(
            item=protocol.item_model.model_json_schema(),
            suite_item=suite_item.model_json_schema() if suite_item is not None else None,
            options=protocol.options_model.model_json_schema(),
            review=protocol.review_model.model_json_schema(),
            summary=stored_summary_model(protocol).model_json_schema(mode="serialization"),
            reliability=protocol.reliability_model.model_json_schema(mode="serialization"),
        ),
    )


def list_protocols() -> ProtocolList:
    """Every registered protocol described."""
    return ProtocolList(data=[describe(protocol) for protocol in all_protocols()])
