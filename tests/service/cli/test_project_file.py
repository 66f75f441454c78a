"""judgeserve.yaml: found upwards, ${ENV} interpolation, and errors that name the key and its line."""

from __future__ import annotations

import textwrap

import pytest

from service.cli import project_file
from service.cli.project_file import ProjectFileError, find, load

FULL = """\
url: http://judge.internal:8000
judge: llama-judge
protocol: pairwise
suite: chat-bench
suite_version: 3
model: my-model@${GITHUB_SHA}
outputs: out/outputs.jsonl
options:
  samples: 3
tags:
  branch: ${GITHUB_REF_NAME:-local}
  pr: 123
  release: 2.1
leaderboard: false
fail_under: 0.45
gate:
  against:
    latest:
      model: my-model
      tags: {branch: main}
  margin: 0.02
  alpha: 0.1
  rule: bound_or_significant
timeout: 600
reports:
  markdown: report.md
  junit: junit.xml
"""


def write(tmp_path, text, name="judgeserve.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_a_full_file_reads_with_interpolation(tmp_path):
    settings = load(write(tmp_path, FULL), environ={"GITHUB_SHA": "0123abc"})
    assert settings.model == "my-model@0123abc"
    assert settings.tags == {"branch": "local", "pr": "123", "release": "2.1"}  # numbers read as their text
    assert settings.leaderboard is False and settings.fail_under == 0.45 and settings.options == {"samples": 3}
    assert settings.gate.against.latest.model == "my-model" and settings.gate.against.latest.tags == {"branch": "main"}
    assert (settings.gate.margin, settings.gate.alpha, settings.gate.rule) == (0.02, 0.1, "bound_or_significant")
    assert settings.reports.junit == "junit.xml" and settings.timeout == 600
    assert project_file.resolve_path(tmp_path / "judgeserve.yaml", settings.outputs) == tmp_path / "out/outputs.jsonl"


def test_the_gate_may_name_an_evaluation_id(tmp_path):
    settings = load(write(tmp_path, "gate:\n  against: 7d0e5f9a-0000-4000-8000-000000000001\n"), environ={})
    assert settings.gate.against == "7d0e5f9a-0000-4000-8000-000000000001" and settings.gate.margin == 0.0


@pytest.mark.parametrize(("text", "expected"), [
    ("judge: j\ncolour: red\n", "line 2: colour: unknown key (allowed here: url, judge,"),
    ("gate:\n  against: x\n  margn: 0.1\n", "line 3: gate.margn: unknown key (allowed here: against, margin, alpha, rule)"),
    ("gate:\n  against:\n    latest:\n      modle: m\n", "line 4: gate.against.latest.modle: unknown key (allowed here: "
                                                       "model, tags, leaderboard)"),
    ("gate:\n  against: x\n  alpha: 2\n", "line 3: gate.alpha: Input should be less than 1"),
    ("fail_under: high\n", "line 1: fail_under: Input should be a valid number"),
    ("tags:\n  branch: main\n  bad key: 1\n", "line 3: tags.bad key"),
    ("leaderboard: maybe\n", "line 1: leaderboard: Input should be a valid boolean"),
    ("model: m@${NOT_SET_ANYWHERE}\n", "line 1: model: environment variable NOT_SET_ANYWHERE is not set"),
    ("judge: [unclosed\n", "line 2: not valid YAML"),
    ("- a\n- b\n", "line 1: expected a mapping of settings"),
    ("api_key: secret\n", "line 1: api_key: unknown key"),  # keys stay out of the repository
])
def test_a_bad_key_or_value_names_the_key_and_its_line(tmp_path, text, expected):
    with pytest.raises(ProjectFileError) as error:
        load(write(tmp_path, text), environ={})
    assert expected in str(error.value) and str(tmp_path / "judgeserve.yaml") in str(error.value)


def test_the_file_is_found_in_the_directory_or_a_parent(tmp_path):
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    assert find(nested) is None or tmp_path not in find(nested).parents  # nothing of ours yet
    path = write(tmp_path / "a", "judge: j\n")
    assert find(nested) == path and find(tmp_path / "a") == path
    closer = write(nested, "judge: k\n", name="judgeserve.yml")
    assert find(nested) == closer


def test_an_empty_file_is_all_defaults(tmp_path):
    settings = load(write(tmp_path, ""), environ={})
    assert settings.judge is None and settings.leaderboard is True and settings.gate is None
