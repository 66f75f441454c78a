"""The protocol interface and its registry; protocols register by name."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Protocol, Sequence

from pydantic import BaseModel

if TYPE_CHECKING:
    from service.core.protocol_meta import LabelForm, MetricKind, PageView

from service.core.judging import JudgeOutput, JudgeRequest

# Calls are planned in stages (e.g. split a conversation into goals first, then one call per goal);
# a worker re-plans after each stage and stops when nothing new is planned or after this many.
MAX_STAGES = 4


@dataclass(frozen=True, slots=True)
class PlannedCall:
    """One judge call a protocol wants made for an item.

    ``order`` is the call's key within the item (``ab``/``ba`` for the two orders of a comparison, ``goal:g1`` for a
    goal, ...; at most 64 characters); (order, sample) is unique per item.
    """

    order: str
    sample: int
    request: JudgeRequest


@dataclass(slots=True)
class CallResult:
    """A parsed judge call, in the protocol's own labels."""

    order: str
    sample: int
    label: str | None
    label_probs: dict[str, float] | None
    raw_output: str
    error: str | None = None
    # free text the judge wrote before its verdict (rationale / critique), when it wrote any
    rationale: str | None = None


@dataclass(slots=True)
class ItemVerdict:
    """The combined, calibrated result for one item.

    ``unscored``: the judge answered but its output could not be read. ``failed``: every judge call
    failed (engine error, prompt too long), so there was no output to read; a failed item counts as
    failed, never as unscored (its ``unscored`` flag is ignored).
    """

    outcome: str | None
    score: float | None
    unscored: bool
    position_inconsistent: bool = False
    bpde: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    # set when a human review replaced the judge's verdict; details["judge"] keeps the judge's
    reviewed: bool = False
    failed: bool = False

    @property
    def scored(self) -> bool:
        """Whether the verdict has a score: neither unscored nor failed."""
        return not self.unscored and not self.failed


def item_counts(verdicts: Sequence[ItemVerdict]) -> dict[str, int]:
    """n_items = n_scored + n_unscored (output unreadable) + n_failed (every call failed)."""
    n_failed = sum(v.failed for v in verdicts)
    n_scored = sum(v.scored for v in verdicts)
    return {"n_items": len(verdicts), "n_scored": n_scored, "n_unscored": len(verdicts) - n_scored - n_failed,
            "n_failed": n_failed}


class EvaluationProtocol(Protocol):
    """What every protocol provides; all methods are pure."""

    name: ClassVar[str]
    item_model: ClassVar[type[BaseModel]]
    options_model: ClassVar[type[BaseModel]]

    review_model: ClassVar[type[BaseModel]]
    # the reduced item of a submission on a stored suite (None: the protocol does not run on suites)
    suite_item_model: ClassVar[type[BaseModel] | None]
    summary_model: ClassVar[type[BaseModel]]
    reliability_model: ClassVar[type[BaseModel]]
    # what the rest of the service reads (service.core.protocol_meta; checked when the protocol registers)
    description: ClassVar[str]
    headline_metric: ClassVar[str]
    metric_kind: ClassVar[MetricKind]
    leaderboard_columns: ClassVar[tuple[str, ...]]
    ranking: ClassVar[str | None]
    label_form: ClassVar[LabelForm]
    page_view: ClassVar[PageView]
    # optional: True when plan_calls ignores ``prior`` (every call is planned at once), so a worker
    # need not re-plan after the first stage; a protocol without it is re-planned (see is_single_stage).
    # Optional ``staged(options) -> bool``: True when these options add stages (the worker then re-plans).
    single_stage: ClassVar[bool]

    def plan_calls(self, item: BaseModel, options: BaseModel, prior: Sequence[CallResult] = ()) -> list[PlannedCall]:
        """Every judge call the item needs, given the results made so far (``prior``).

        Single-stage protocols ignore ``prior``. A multi-stage protocol returns the next
        stage's calls once the results it depends on are in ``prior``. The worker makes
        only the planned calls not already stored.
        """
        ...

    def parse(self, call: PlannedCall, output: JudgeOutput, options: BaseModel) -> CallResult:
        """Turn a backend output into the protocol's label and probabilities."""
        ...

    def combine(self, item: BaseModel, results: Sequence[CallResult], options: BaseModel) -> ItemVerdict:
        """Combine an item's calls into its verdict."""
        ...

    def summarize(
        self, items: Sequence[BaseModel], verdicts: Sequence[ItemVerdict], options: BaseModel
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Evaluation metrics and the judge reliability report."""
        ...

    def apply_review(self, item: BaseModel, verdict: ItemVerdict, label: BaseModel) -> ItemVerdict:
        """The verdict with a human label (validated by ``review_model``) replacing the judge's."""
        ...

    # optional: validate_items(items, options) -> [(index, field, message)] for checks that need the
    # options (the submission reports them as 422 at /items/{index}/{field}; nothing is stored)

    def from_suite(self, suite_item: dict[str, Any], submitted: dict[str, Any]) -> dict[str, Any]:
        """A full item (not yet validated) from a suite item and the submitted fields; ValueError if unusable."""
        ...


_REGISTRY: dict[str, EvaluationProtocol] = {}


def register(factory: Callable[[], EvaluationProtocol]) -> Callable[[], EvaluationProtocol]:
    """Class decorator: instantiate, check its declarations (ValueError if wrong) and register under its name."""
    from service.core.protocol_meta import check_declarations

    instance = factory()
    check_declarations(instance)
    if instance.name in _REGISTRY and type(_REGISTRY[instance.name]) is not type(instance):
        raise ValueError(f"two protocols are called {instance.name!r}: {type(_REGISTRY[instance.name]).__qualname__} "
                         f"and {type(instance).__qualname__}")
    _REGISTRY[instance.name] = instance
    return factory


def unregister(name: str) -> None:
    """Remove a registered protocol (tests that register a protocol of their own clean up with it)."""
    _REGISTRY.pop(name, None)


def is_single_stage(protocol: EvaluationProtocol, options: BaseModel | None = None) -> bool:
    """Whether the protocol plans every call at once (declared by ``single_stage``; undeclared means no).

    A protocol whose options can add a stage also has ``staged(options) -> bool``: given the evaluation's
    options, True there means the worker must re-plan after each stage whatever ``single_stage`` says.
    """
    staged = getattr(protocol, "staged", None)
    if options is not None and callable(staged) and staged(options):
        return False
    return bool(getattr(protocol, "single_stage", False))


def get_protocol(name: str) -> EvaluationProtocol:
    """The registered protocol called ``name`` (KeyError if unknown)."""
    _load_registered_packages()
    return _REGISTRY[name]


def protocol_names() -> list[str]:
    """Names of all registered protocols, in registry order."""
    return [protocol.name for protocol in all_protocols()]


def all_protocols() -> list[EvaluationProtocol]:
    """Every registered protocol: the registry's packages in its order (whatever imported one first), then others."""
    from service.core.protocols import PACKAGES

    _load_registered_packages()
    rank = {f"{package}.protocol": index for index, package in enumerate(PACKAGES)}
    return sorted(_REGISTRY.values(), key=lambda protocol: rank.get(type(protocol).__module__, len(rank)))


def _load_registered_packages() -> None:
    import importlib

    from service.core.protocols import PACKAGES

    if _LOADED:
        return
    for package in PACKAGES:
        module = importlib.import_module(f"{package}.protocol")  # each registers itself
        if not any(type(p).__module__ == module.__name__ for p in _REGISTRY.values()):
            raise ValueError(f"{package}.protocol registers no protocol (is its class decorated with @register?)")
    _LOADED.append(True)


# set once every registered package has been imported and checked
_LOADED: list[bool] = []


def call_seed(base_seed: int, item_id: str, order: str, sample: int) -> int:
    """A deterministic per-call seed, so reruns draw the same samples."""
    key = f"{base_seed}|{item_id}|{order}|{sample}".encode("utf-8")
    return int.from_bytes(hashlib.sha256(key).digest()[:4], "big") & 0x7FFFFFFF
