"""The constraints protocol's data models: items in IFEval's own fields or a generic list, options, review label.

Pure (pydantic and the argument catalog): the light client imports these; the verifiers (NLTK,
langdetect) are imported by the protocol module only.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

from service.core.options import CalibrationOptions
from service.core.protocols.constraints.catalog import JUDGE, checked_arguments, known_type

InstructionId = Annotated[str, AfterValidator(known_type)]


def _refuse(model: str, loc: tuple[Any, ...], message: str, value: Any) -> ValidationError:
    """A validation error at ``loc`` inside the item (so the submission's pointer names the exact field)."""
    return ValidationError.from_exception_data(model, [InitErrorDetails(
        type=PydanticCustomError("constraint", message), loc=loc, input=value)])


class Constraint(BaseModel):
    """One constraint in the generic form: ``{"type": "<group>:<name>", ...its arguments}`` or ``{"type": "judge", "text": ...}``."""

    model_config = ConfigDict(extra="allow")
    type: InstructionId = Field(description="An IFEval instruction id (e.g. 'keywords:existence') or 'judge'.")

    @model_validator(mode="after")
    def _arguments(self) -> "Constraint":
        try:
            checked = checked_arguments(self.type, dict(self.model_extra or {}))
        except ValueError as exc:
            raise _refuse("Constraint", (), str(exc), self.model_extra) from None
        self.__pydantic_extra__ = checked
        return self

    @property
    def arguments(self) -> dict[str, Any]:
        """The constraint's arguments (everything but ``type``)."""
        return dict(self.model_extra or {})


class Candidate(BaseModel):
    """One model's response, when an item compares several models by constraint satisfaction."""

    model_config = ConfigDict(extra="forbid")
    model: str = Field(min_length=1, max_length=256, description="Who wrote the response.")
    response: str


class ConstraintsItem(BaseModel):
    """A prompt, its verifiable constraints and one response (or several models' responses).

    Constraints come in IFEval's fields (``instruction_id_list`` with aligned ``kwargs``), in the
    generic ``constraints`` list, or both (IFEval's first, then the generic ones).
    """

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=256)
    key: int | None = Field(default=None, description="IFEval's prompt key, kept as given.")
    prompt: str = Field(description="The prompt the response answers (the repeat_prompt check does not read it).")
    response: str | None = Field(default=None, description="The response to check; or give `responses`.")
    responses: list[Candidate] | None = Field(
        default=None, min_length=1, description="Several models' responses to the same prompt, ranked by CSR.")
    instruction_id_list: list[InstructionId] | None = Field(
        default=None, description="IFEval instruction ids, e.g. ['punctuation:no_comma', 'keywords:existence'].")
    kwargs: list[dict[str, Any]] | None = Field(
        default=None, description="The arguments of each instruction id, aligned with instruction_id_list "
                                  "({} where none; null values are ignored, as in IFEval's Hugging Face copy).")
    constraints: list[Constraint] | None = Field(default=None, description="Constraints in the generic form.")
    category: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _id_from_key(cls, data: Any) -> Any:
        """An IFEval line as published (``key``, no ``id``) takes its key as its id."""
        if isinstance(data, dict) and "id" not in data and isinstance(data.get("key"), int):
            return {**data, "id": str(data["key"])}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> "ConstraintsItem":
        if (self.response is None) == (self.responses is None):
            raise _refuse(type(self).__name__, ("response",), "give either response or responses (not both)",
                          self.response)
        if self.responses is not None:
            seen: set[str] = set()
            for index, candidate in enumerate(self.responses):
                if candidate.model in seen:
                    raise _refuse(type(self).__name__, ("responses", index, "model"),
                                  f"model {candidate.model!r} appears twice", candidate.model)
                seen.add(candidate.model)
        self.kwargs = self._checked_kwargs()
        if not self.instruction_id_list and not self.constraints:
            raise _refuse(type(self).__name__, ("instruction_id_list",),
                          "give at least one constraint (instruction_id_list or constraints)", None)
        return self

    def _checked_kwargs(self) -> list[dict[str, Any]] | None:
        ids = self.instruction_id_list or []
        given = self.kwargs if self.kwargs is not None else [{} for _ in ids]
        if len(given) != len(ids):
            raise _refuse(type(self).__name__, ("kwargs",), f"kwargs has {len(given)} entries for {len(ids)} "
                          "instruction ids: give one object per id, in the same order", self.kwargs)
        checked = []
        for index, (type_id, arguments) in enumerate(zip(ids, given)):
            try:
                checked.append(checked_arguments(type_id, arguments))
            except ValueError as exc:
                raise _refuse(type(self).__name__, ("kwargs", index), str(exc), arguments) from None
        return checked if self.instruction_id_list is not None else self.kwargs

    def specs(self) -> list[tuple[str, dict[str, Any]]]:
        """Every constraint as (type, arguments): IFEval's list first, then the generic ones."""
        listed = list(zip(self.instruction_id_list or [], self.kwargs or []))
        return listed + [(c.type, c.arguments) for c in self.constraints or []]

    def candidates(self) -> list[tuple[str | None, str]]:
        """(model, response) of each response: one unnamed response, or the listed models' responses."""
        if self.responses is not None:
            return [(c.model, c.response) for c in self.responses]
        return [(None, self.response or "")]

    @property
    def judged(self) -> bool:
        """Whether some constraint is for the judge (a program verifies all the others)."""
        return any(type_id == JUDGE for type_id, _ in self.specs())


class ConstraintsOptions(CalibrationOptions):
    """Options of a constraints evaluation: the calibration options apply to judge constraints only."""


class ConstraintsReview(BaseModel):
    """A human's verdict: does the response follow every constraint?"""

    model_config = ConfigDict(extra="forbid")
    label: Literal["followed", "not_followed"]


class ConstraintsSuiteItem(BaseModel):
    """A submission's item on a stored suite: the suite gives the prompt, the submission its constraints."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=256, description="The suite item's id.")
    response: str | None = Field(default=None, description="The candidate model's response.")
    responses: list[Candidate] | None = Field(default=None, min_length=1,
                                              description="Several models' responses, ranked by CSR.")
    instruction_id_list: list[str] | None = Field(default=None, description="IFEval instruction ids.")
    kwargs: list[dict[str, Any]] | None = Field(default=None, description="Their arguments, aligned.")
    constraints: list[dict[str, Any]] | None = Field(default=None, description="Constraints in the generic form.")
