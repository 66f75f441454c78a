"""Verdict rows from stored judge calls: failed and unscored are apart."""

import pytest

from service.core.protocols.pairwise.protocol import PairwiseItem, PairwiseOptions, PairwiseProtocol
from service.core.protocol import CallResult
from service.evaluations.results import as_item_verdict, failed_verdict_row, protocol_and_options, verdict_row
from service.models import Evaluation, Verdict

PROTOCOL, OPTIONS = PairwiseProtocol(), PairwiseOptions()
ITEM = PairwiseItem(id="i1", prompt="p", response_a="a", response_b="b")


def call(order, label=None, error=None):
    return CallResult(order, 0, label, None, label or "", error=error)


@pytest.mark.parametrize("results, unscored, failed", [
    ([call("ab", "1"), call("ba", "2")], False, False),
    # the judge answered, but nothing it said could be read
    ([call("ab"), call("ba")], True, False),
    ([call("ab", error="engine error"), call("ba")], True, False),
    # every call failed: no output to read, so failed and not unscored
    ([call("ab", error="engine error"), call("ba", error="prompt too long")], False, True),
    ([call("ab", error="engine error"), call("ba", "2")], False, False),
])
def test_verdict_row_flags(results, unscored, failed):
    row = verdict_row(PROTOCOL, OPTIONS, "e1", 1, ITEM, results)
    assert (row["unscored"], row["failed"]) == (unscored, failed)


def test_a_chunk_given_up_fails_its_items_without_calling_them_unscored():
    row = failed_verdict_row("e1", 1, "chunk given up")
    assert row["failed"] and not row["unscored"] and row["details"] == {"errors": ["chunk given up"]}


def test_the_item_verdict_knows_it_failed():
    stored = Verdict(item_id=1, evaluation_id="e1", outcome=None, score=None, unscored=False, failed=True,
                     position_inconsistent=False, bpde=None, details={}, reviewed=False)
    verdict = as_item_verdict(stored)
    assert verdict.failed and not verdict.unscored and not verdict.scored


def test_options_stored_with_logprobs_samples_are_still_read():
    """An evaluation submitted before samples > 1 needed rationales keeps being judged and recomputed as it was."""
    old = Evaluation(protocol="pairwise", options=PairwiseOptions.model_construct(
        samples=2, temperature=0.7, verdict_mode="logprobs").model_dump(mode="json"))
    _, options = protocol_and_options(old)
    assert (options.samples, options.verdict_mode, options.rationale_budget()) == (2, "logprobs", 0)
