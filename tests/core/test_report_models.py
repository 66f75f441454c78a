"""The shared report models and the checks every protocol's summary test uses (imported from here).

``assert_exact(model, data)`` is the contract check: ``data`` (what summarize() returned) validates,
has no key the model does not declare (``undeclared_keys``, recursive), is JSON (no NaN) and survives
``model_validate(data).model_dump(mode="json")`` unchanged but for absent keys coming back as null.
``field_coverage`` collects which declared fields the fixtures filled and which they left null or
absent, so each protocol's test can show its fixtures reach every field.
"""

from __future__ import annotations

import collections.abc
import copy
import json
import subprocess
import sys
import types
import typing
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, Union

import pytest
from pydantic import BaseModel, Field, ValidationError

from service.core.protocol import ItemVerdict
from service.core.report_models import (
    Agreement,
    BpdeBin,
    HumanAgreementReport,
    ItemCounts,
    JudgeAgreementFields,
    LengthControlledFields,
    PerOrderAgreement,
    ReliabilityBasics,
    ReportModel,
    TwoResponseHumanAgreementReport,
    TwoResponseReliability,
    undeclared_keys,
)

REPO = Path(__file__).resolve().parents[2]
SUMMARY_MODULES = tuple(f"service.core.protocols.{name}.summary"
                        for name in ("pairwise", "rating", "answer_matching", "href", "goal_success"))


# ---------------------------------------------------------------- helpers for the protocol tests


def failed(verdict: ItemVerdict) -> ItemVerdict:
    """``verdict`` as the service stores an item whose every call failed (service.evaluations.results.verdict_row)."""
    return replace(verdict, unscored=False, failed=True, details={**verdict.details, "errors": ["engine error"]})


FAILED_BEFORE_COMBINING = ItemVerdict(outcome=None, score=None, unscored=False, failed=True,
                                      details={"errors": ["prompt too long"]})  # failed_verdict_row


def as_json(data: Any) -> Any:
    """``data`` as JSON gives it back (tuples become lists); NaN or infinity is an error."""
    return json.loads(json.dumps(data, allow_nan=False))


def with_absent_as_none(model: Any, data: Any) -> Any:
    """JSON ``data`` with every declared field the model does not find filled in as None (recursively)."""
    model = _strip(model)
    origin = typing.get_origin(model)
    if isinstance(model, type) and issubclass(model, BaseModel) and isinstance(data, dict):
        out = dict(data)
        for name, field in model.model_fields.items():
            out[name] = with_absent_as_none(field.annotation, data[name]) if name in data else None
        return out
    if origin in (Union, types.UnionType):
        if data is None:
            return None
        models = [a for a in typing.get_args(model) if a is not type(None)]
        return with_absent_as_none(models[0], data) if len(models) == 1 else data
    args = typing.get_args(model)
    if origin is dict and isinstance(data, dict):
        return {k: with_absent_as_none(args[1], v) for k, v in data.items()}
    if origin is list and isinstance(data, list):
        return [with_absent_as_none(args[0], v) for v in data]
    return data


def assert_exact(model: type[BaseModel], data: dict[str, Any]) -> None:
    """The contract check: validates, declares every key (recursively), JSON round trip equal up to absent = null."""
    model.model_validate(data)
    assert undeclared_keys(model, data) == [], f"{model.__name__} does not declare {undeclared_keys(model, data)}"
    dumped = model.model_validate(data).model_dump(mode="json")
    assert dumped == with_absent_as_none(model, as_json(data))
    assert model.model_validate(dumped).model_dump(mode="json") == dumped


def field_coverage(model: Any, data: Any, filled: set[str], empty: set[str]) -> None:
    """Add "Model.field" to ``filled`` where ``data`` gives it a value, to ``empty`` where it is null or absent."""
    model = _strip(model)
    origin = typing.get_origin(model)
    if isinstance(model, type) and issubclass(model, BaseModel):
        if not isinstance(data, collections.abc.Mapping):
            return
        for name, field in model.model_fields.items():
            key = f"{model.__name__}.{name}"
            value = data.get(name)
            if value is None:
                empty.add(key)
            else:
                filled.add(key)
                field_coverage(field.annotation, value, filled, empty)
    elif origin in (Union, types.UnionType):
        for arg in typing.get_args(model):
            if arg is not type(None):
                field_coverage(arg, data, filled, empty)
    elif origin is dict and isinstance(data, collections.abc.Mapping):
        for value in data.values():
            field_coverage(typing.get_args(model)[1], value, filled, empty)
    elif origin is list and isinstance(data, list):
        for value in data:
            field_coverage(typing.get_args(model)[0], value, filled, empty)


def declared_fields(model: Any, nullable_only: bool = False) -> set[str]:
    """Every "Model.field" reachable from ``model`` (only the ones that admit null with ``nullable_only``)."""
    found: set[str] = set()

    def visit(annotation: Any, seen: set[type]) -> None:
        annotation = _strip(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation in seen:
                return
            seen.add(annotation)
            for name, field in annotation.model_fields.items():
                if not nullable_only or _admits_none(field.annotation):
                    found.add(f"{annotation.__name__}.{name}")
                visit(field.annotation, seen)
        for arg in typing.get_args(annotation):
            visit(arg, seen)

    visit(model, set())
    return found


def assert_fixtures_cover(models: dict[str, type[BaseModel]], reports: list[dict[str, dict[str, Any]]],
                          never_null: dict[str, str]) -> None:
    """Every declared field is filled by some fixture; every nullable one is null or absent in some fixture.

    ``never_null``: nullable fields no fixture can make null, each with the reason.
    """
    filled: set[str] = set()
    empty: set[str] = set()
    for report in reports:
        for part, model in models.items():
            field_coverage(model, report[part], filled, empty)
    declared = set().union(*(declared_fields(m) for m in models.values()))
    nullable = set().union(*(declared_fields(m, nullable_only=True) for m in models.values()))
    assert sorted(declared - filled) == [], "declared fields no fixture fills"
    assert sorted(nullable - empty - set(never_null)) == [], "nullable fields no fixture leaves null or absent"
    assert sorted(set(never_null) & empty) == [], "listed as never null, but a fixture left them null"


def add_key(data: dict[str, Any], path: tuple[Any, ...], key: str = "surprise") -> dict[str, Any]:
    """A deep copy of ``data`` with an extra ``key`` in the mapping at ``path`` (keys and list indices)."""
    data = copy.deepcopy(data)
    target: Any = data
    for step in path:
        target = target[step]
    target[key] = 1
    return data


def _strip(annotation: Any) -> Any:
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _admits_none(annotation: Any) -> bool:
    annotation = _strip(annotation)
    return annotation is type(None) or (typing.get_origin(annotation) in (Union, types.UnionType)
                                        and type(None) in typing.get_args(annotation))


# ---------------------------------------------------------------- tests of the shared models and the checks


class Leaf(BaseModel):
    value: int


class Tree(ReportModel):
    leaf: Leaf | None = None
    leaves: list[Leaf] = Field(default_factory=list)
    by_name: dict[str, Leaf] = Field(default_factory=dict)
    pair: tuple[Leaf, Leaf] | None = None
    tagged: Annotated[Leaf | None, Field(description="x")] = None
    bare: dict[str, int] = Field(default_factory=dict)


FULL_TREE = {"leaf": {"value": 1}, "leaves": [{"value": 2}], "by_name": {"a b": {"value": 3}},
             "pair": [{"value": 4}, {"value": 5}], "tagged": {"value": 6}, "bare": {"x": 1}}


@pytest.mark.parametrize("path, found", [
    ((), "surprise"),
    (("leaf",), "leaf.surprise"),
    (("leaves", 0), "leaves[0].surprise"),
    (("by_name", "a b"), "by_name['a b'].surprise"),
    (("pair", 1), "pair[1].surprise"),
    (("tagged",), "tagged.surprise"),
])
def test_undeclared_keys_finds_an_extra_key_at_any_depth(path, found):
    assert undeclared_keys(Tree, FULL_TREE) == []
    data = add_key(FULL_TREE, path)
    assert undeclared_keys(Tree, data) == [found]
    Tree.model_validate(data)  # extra="allow" keeps it: only the check notices
    with pytest.raises(AssertionError):
        assert_exact(Tree, data)


def test_dict_of_plain_values_and_null_branches_have_no_keys_to_check():
    assert undeclared_keys(Tree, {"bare": {"anything": 1}, "leaf": None, "pair": None}) == []


@pytest.mark.parametrize("model, data, found", [
    (TwoResponseHumanAgreementReport,
     {"n_human_labelled": 2, "calibrated": None, "after_review": {"n": 1, "accuracy": 1.0, "cohen_kappa": None,
                                                                  "scott_pi": None, "extra": 0},
      "per_order": {"ab": None, "ba": None}},
     ["after_review.extra"]),
    (TwoResponseHumanAgreementReport,
     {"n_human_labelled": 2, "calibrated": None, "after_review": None, "per_order": {"ab": None, "similarity": None}},
     ["per_order.similarity"]),
    (TwoResponseReliability,
     {"unscored_rate": None, "mean_bpde": None, "n_calls_scored": 0, "n_reviewed": 0, "tie_rate": None,
      "position_consistency_rate": None, "first_position_win_rate": None,
      "bpde_histogram": [{"low": 0.0, "high": 0.2, "count": 0, "width": 0.2}], "bias_factors": {"rows": [], "sides": {}}},
     ["bpde_histogram[0].width"]),
    (TwoResponseReliability,
     {"unscored_rate": None, "mean_bpde": None, "n_calls_scored": 0, "n_reviewed": 0, "tie_rate": None,
      "position_consistency_rate": None, "first_position_win_rate": None, "bpde_histogram": [],
      "bias_factors": {"rows": [{"factor": "longer", "description": "d", "humans": None, "judge_same_items": None,
                                 "difference": None, "judge": {"n": 0, "n_ties": 0, "rate": None, "ci95": None,
                                                               "odds": 1}}],
                       "sides": {"a": {"factor": "a", "description": "d", "judge": {"n": 1, "n_ties": 0, "rate": 1.0,
                                                                                    "ci95": [0.2, 1.0]},
                                       "humans": None, "judge_same_items": None, "difference": None, "note": ""}}}},
     ["bias_factors.rows[0].judge.odds", "bias_factors.sides['a'].note"]),
])
def test_undeclared_keys_in_the_shared_models(model, data, found):
    model.model_validate(data)
    assert undeclared_keys(model, data) == found


def test_assert_exact_fills_absent_keys_with_null_and_compares_intervals_as_lists():
    data = {"lc_win_rate": 0.5, "lc_win_rate_ci95": (0.4, 0.6), "lc_note": None}
    assert_exact(LengthControlledFields, data)
    per_order = {"ab": {"n": 1, "accuracy": 1.0, "cohen_kappa": 1.0, "scott_pi": None}}  # ba absent: single order
    assert_exact(PerOrderAgreement, per_order)
    assert PerOrderAgreement.model_validate(per_order).model_dump(mode="json")["ba"] is None


@pytest.mark.parametrize("model, data", [
    (LengthControlledFields, {"lc_win_rate": 0.5, "lc_win_rate_ci95": (0.4, None), "lc_note": None}),
    (LengthControlledFields, {"lc_win_rate": 0.5, "lc_win_rate_ci95": (0.4, 0.5, 0.6), "lc_note": None}),
    (LengthControlledFields, {"lc_win_rate": float("nan"), "lc_win_rate_ci95": None, "lc_note": None}),
    (LengthControlledFields, {"lc_win_rate": 0.5, "lc_win_rate_ci95": (0.4, float("inf")), "lc_note": None}),
    (LengthControlledFields, {"lc_win_rate_ci95": None, "lc_note": None}),  # always present, may be null
    (Agreement, {"n": 1, "accuracy": None, "cohen_kappa": None, "scott_pi": None}),
    (ItemCounts, {"n_items": 1, "n_scored": 1, "n_unscored": 0}),
    (BpdeBin, {"low": 0.0, "high": 0.2, "count": 1.5}),
])
def test_invalid_reports_are_refused(model, data):
    with pytest.raises(ValidationError):
        model.model_validate(data)


def test_keys_present_only_sometimes_default_to_null_and_always_present_ones_are_required():
    assert JudgeAgreementFields.model_validate({}).model_dump() == {
        "n_human_labelled": None, "judge_accuracy": None, "judge_cohen_kappa": None, "judge_scott_pi": None}
    assert set(ReliabilityBasics.model_json_schema()["required"]) == set(ReliabilityBasics.model_fields)
    assert "ba" not in PerOrderAgreement.model_json_schema()["required"]
    assert HumanAgreementReport.model_json_schema()["required"] == ["n_human_labelled", "calibrated", "after_review"]


def test_every_field_of_every_report_model_says_what_it_means():
    import importlib

    models = [m for name in ("service.core.report_models", *SUMMARY_MODULES)
              for m in vars(importlib.import_module(name)).values()
              if isinstance(m, type) and issubclass(m, ReportModel)]
    assert len(models) > 20
    for model in models:
        schema = model.model_json_schema()  # no arbitrary types: every model has a JSON schema
        assert model.model_config["extra"] == "allow"
        for name, field in model.model_fields.items():
            assert field.description and len(field.description) > 15, f"{model.__name__}.{name}"
        assert schema["type"] == "object"


def test_the_report_models_import_without_numpy_or_scipy():
    code = ("import sys\n"
            f"for name in {('service.core.report_models', *SUMMARY_MODULES)!r}:\n"
            "    __import__(name)\n"
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'scipy'))\n"
            "assert not heavy, heavy\n")
    result = subprocess.run([sys.executable, "-c", code], check=False, cwd=REPO, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr


def test_interval_and_metric_types_in_the_schema():
    from service.core.protocols.pairwise.summary import PairwiseSummary

    properties = PairwiseSummary.model_json_schema()["properties"]
    interval = properties["win_rate_ci95"]["anyOf"]
    assert {"type": "null"} in interval
    array = next(s for s in interval if s.get("type") == "array")
    assert array["minItems"] == array["maxItems"] == 2 and array["prefixItems"] == [{"type": "number"}] * 2
    assert properties["metric"].get("const") == "win_rate" or properties["metric"].get("enum") == ["win_rate"]


def summarize_fixtures(protocol, fixtures: dict) -> dict[str, dict]:
    """Each fixture's ``{"summary", "reliability"}`` as the protocol's summarize() reports them."""
    out = {}
    for name, build in fixtures.items():
        summary, reliability = protocol.summarize(*build())
        out[name] = {"summary": summary, "reliability": reliability}
    return out
