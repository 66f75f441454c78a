"""Calibration options shared by every judged protocol (DESIGN.md §5)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from service.core.protocol import call_seed

# validation context for options already stored with an evaluation: read them as they were judged
STORED = {"stored": True}
LOGPROBS_SAMPLES_ERROR = (
    "verdict_mode 'logprobs' cannot be combined with samples > 1: a logprobs verdict has no evidence before it "
    "and its probabilities do not depend on the temperature, so every sample would be identical. Use "
    "verdict_mode 'rationale' (the default when samples > 1) or samples 1."
)


class CalibrationOptions(BaseModel):
    """Sampling, multiple evidence, review and batching options of a judged protocol."""

    model_config = ConfigDict(extra="forbid")
    samples: int = Field(default=1, ge=1, le=16, description="Judge outputs per order (Multiple Evidence Calibration).")
    temperature: float | None = Field(default=None, ge=0.0, le=2.0,
                                      description="Sampling temperature; default 0 for one sample, 0.7 for several.")
    verdict_mode: Literal["logprobs", "rationale"] = Field(
        default="logprobs", description="Default logprobs for one sample, rationale for several (each sample "
                                        "gives its evidence before its verdict).")
    review_fraction: float = Field(default=0.1, ge=0.0, le=1.0,
                                   description="Share of items, highest BPDE first, flagged for human review.")
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1,
                             description="Fixes sampled calls (temperature > 0) so they repeat and can be cached.")
    chunk_size: int | None = Field(default=None, ge=1, le=10_000)
    rationale_tokens: int = Field(default=256, ge=16, le=4096)
    cache: bool = Field(default=True, description="Answer repeated judge calls from the judge-call cache.")

    @field_validator("verdict_mode")
    @classmethod
    def _no_logprobs_samples(cls, mode: str, info: ValidationInfo) -> str:
        """Runs only on a verdict_mode the user gave (defaults are not validated), so it names the field."""
        stored = bool(info.context and info.context.get("stored"))
        if mode == "logprobs" and info.data.get("samples", 1) > 1 and not stored:
            raise ValueError(LOGPROBS_SAMPLES_ERROR)
        return mode

    @model_validator(mode="after")
    def _samples_need_temperature(self) -> "CalibrationOptions":
        if self.samples > 1 and self.temperature == 0.0:
            raise ValueError("samples > 1 needs temperature > 0 (greedy samples are identical)")
        return self

    @model_validator(mode="after")
    def _samples_give_evidence(self) -> "CalibrationOptions":
        """Multiple Evidence Calibration (DESIGN §5): with samples > 1 and no verdict_mode given, rationales."""
        if self.samples > 1 and "verdict_mode" not in self.model_fields_set:
            self.verdict_mode = "rationale"
        return self

    def effective_temperature(self) -> float:
        """Greedy for one sample, 0.7 by default for multiple evidence."""
        if self.temperature is not None:
            return self.temperature
        return 0.0 if self.samples == 1 else 0.7

    def rationale_budget(self) -> int:
        """Tokens of free-text evidence before the verdict (0 in logprobs mode)."""
        return self.rationale_tokens if self.verdict_mode == "rationale" else 0

    def call_seed(self, item_id: str, order: str, sample: int) -> int | None:
        """Greedy calls are deterministic anyway; sampled calls repeat only when the user fixed a seed."""
        if self.seed is None and self.effective_temperature() > 0:
            return None
        return call_seed(self.seed or 0, item_id, order, sample)
