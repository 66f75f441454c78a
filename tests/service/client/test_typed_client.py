"""The client is a typed package (it ships `py.typed`): a CI script that uses it passes `mypy --strict`, and
a misspelt field or a wrong type in it fails."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]

CI_SCRIPT = '''
"""A CI step: submit a pairwise evaluation, wait for it, gate it against a baseline."""
from __future__ import annotations

import sys
from typing import Any

from service.client import DECISION_RULES, Evaluation, JudgeserveClient, WaitTimeout


def items() -> list[dict[str, Any]]:
    return [{"id": f"q{i}", "prompt": f"question {i}", "response_a": "new", "response_b": "old"} for i in range(3)]


def main(url: str, baseline_id: str) -> int:
    with JudgeserveClient(url, retries=2) as client:
        evaluation: Evaluation = client.submit_evaluation(protocol="pairwise", judge="embedded", model="m",
                                                          items=items())
        try:
            done = client.wait(evaluation.id, timeout=600.0)
        except WaitTimeout as exc:
            print(f"still {exc.evaluation.status}", file=sys.stderr)
            return 3
        gate = client.compare(baseline_id, done.id, margin=0.02, decision_rule="bound_or_significant")
    print(done.progress.finished, gate.difference_ci95[0], DECISION_RULES)
    return 0 if gate.passed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
'''

TYPED_ITEMS_SCRIPT = '''
"""A CI step that builds typed pairwise items."""
from __future__ import annotations

import sys

from service.client import Evaluation, JudgeserveClient, PairwiseItem, PairwiseOptions


def items(answers: dict[str, tuple[str, str, str]]) -> list[PairwiseItem]:
    return [PairwiseItem(id=key, prompt=prompt, response_a=new, response_b=old)
            for key, (prompt, new, old) in sorted(answers.items())]


def main(url: str) -> int:
    answers = {"q1": ("What is 2+2?", "4", "5"), "q2": ("Capital of France?", "Paris", "Lyon")}
    with JudgeserveClient(url) as client:
        evaluation: Evaluation = client.submit_evaluation(
            protocol="pairwise", judge="embedded", model="candidate",
            items=items(answers), options=PairwiseOptions(orders="both", tie_margin=0.1))
        done = client.wait(evaluation.id, timeout=600.0)
    return 0 if done.status == "completed" else 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
'''


def mypy_strict(script: str, directory: Path, package_root: Path = REPO, cache: Path | None = None
                ) -> subprocess.CompletedProcess[str]:
    """``mypy --strict`` on ``script`` with the ``service`` package found as an installed one (under
    ``package_root`` on the Python path, where mypy uses a package only when it has a ``py.typed`` marker)."""
    # a file name of its own per script: mypy's cache knows a module by name, size and mtime, and a one-letter
    # variant written within the same second would be taken for the cached one
    path = directory / f"ci_script_{hashlib.sha256(script.encode()).hexdigest()[:12]}.py"
    path.write_text(textwrap.dedent(script), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(package_root)}
    env.pop("MYPYPATH", None)
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-color-output", "--cache-dir",
         str(cache or directory / ".mypy_cache"), path.name], cwd=directory, env=env, capture_output=True, text=True,
        timeout=600)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """One mypy cache for the checks against this repository (pydantic and httpx are analysed once)."""
    return tmp_path_factory.mktemp("mypy_cache")


def test_the_clients_decision_rules_are_the_servers():
    from service.client import DECISION_RULES
    from service.core.paired import DECISION_RULES as SERVER_RULES

    assert DECISION_RULES == SERVER_RULES


def test_the_client_package_passes_mypy_strict(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "mypy_cache"), "-p", "service.client"],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_ci_script_using_the_client_passes_mypy_strict(tmp_path, cache):
    result = mypy_strict(CI_SCRIPT, tmp_path, cache=cache)
    assert result.returncode == 0, result.stdout + result.stderr


def test_without_the_py_typed_marker_mypy_refuses_the_package(tmp_path):
    copy = tmp_path / "site"
    shutil.copytree(REPO / "service", copy / "service", ignore=shutil.ignore_patterns("__pycache__", "py.typed"))
    result = mypy_strict(CI_SCRIPT, tmp_path, copy)
    assert result.returncode == 1
    assert 'Skipping analyzing "service.client": module is installed, but missing library stubs or py.typed marker' \
        in result.stdout


@pytest.mark.parametrize("mistake, expected", [
    (("timeout=600.0", 'timeout="10 minutes"'), 'Argument "timeout" to "wait" of "JudgeserveClient" has incompatible'),
    (("done.progress.finished", "done.progress.finish"), '"Progress" has no attribute "finish"'),
    (('decision_rule="bound_or_significant"', 'decision_rule="bound_or_signifcant"'), 'Argument "decision_rule"'),
])
def test_a_mistake_in_the_ci_script_fails_mypy(tmp_path, cache, mistake, expected):
    old, new = mistake
    assert CI_SCRIPT.count(old) == 1
    result = mypy_strict(CI_SCRIPT.replace(old, new), tmp_path, cache=cache)
    assert result.returncode == 1, result.stdout + result.stderr
    assert expected in result.stdout, result.stdout


def test_a_ci_script_building_typed_items_passes_mypy_strict_and_a_misspelt_field_fails(tmp_path, cache):
    result = mypy_strict(TYPED_ITEMS_SCRIPT, tmp_path, cache=cache)
    assert result.returncode == 0, result.stdout + result.stderr
    # these fail only when mypy sees PairwiseItem's fields: when it passes silently, no py.typed marker covers the
    # module that defines it (service/py.typed covers the protocol packages the client re-exports them from)
    misspelt = mypy_strict(TYPED_ITEMS_SCRIPT.replace("response_b=old", "response_c=old"), tmp_path, cache=cache)
    assert misspelt.returncode == 1, misspelt.stdout
    assert '"response_c"' in misspelt.stdout and "PairwiseItem" in misspelt.stdout, misspelt.stdout
    wrong_type = mypy_strict(TYPED_ITEMS_SCRIPT.replace("id=key,", "id=len(key),"), tmp_path, cache=cache)
    assert wrong_type.returncode == 1, wrong_type.stdout
    assert '"id"' in wrong_type.stdout and "incompatible type" in wrong_type.stdout, wrong_type.stdout
